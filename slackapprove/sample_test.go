package slackapprove

import (
	_ "embed"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
)

//go:embed sample.conf
var sampleConf []byte

// The sample reads strictly into the configuration and is accepted; its
// references are what secret checks look for.
func TestSampleConfig(t *testing.T) {
	var doc struct {
		Slack yaml.MapSlice `yaml:"slack"`
	}
	if err := yaml.Unmarshal(sampleConf, &doc); err != nil {
		t.Fatal(err)
	}
	body, err := yaml.Marshal(doc.Slack)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseConfig(body, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c.Poll != 5*time.Second || c.TeamID != "T0123ABCD" || c.ResponseURLPrefix != DefaultResponseURLPrefix {
		t.Errorf("sample read as %+v", c)
	}
	refs := c.References()
	if refs["slack.signing_secret"] != "slack-signing" || refs["slack.approvals_webhook"] != "slack-approvals" || len(refs) != 2 {
		t.Errorf("references %v", refs)
	}
}

func TestConfigRefused(t *testing.T) {
	for _, tc := range []struct{ yaml, says string }{
		{"signing_secret: 8f742231b10e8888abcd99yyyzzz85a5\n", "must be secret://NAME"},
		{"approvals_webhook: secret://x\n", "slack.signing_secret"},
		{"signing_secret: secret://s\napprovals_webhook: hooks.slack.com/x\n", "slack.approvals_webhook"},
		{"signing_secret: secret://s\nresponse_url_prefix: https://hooks.slack.com\n", "ending in /"},
		{"signing_secret: secret://s\nchannel: '#soc'\n", "unknown field"},
	} {
		_, err := ParseConfig([]byte(tc.yaml), 3)
		if err == nil || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%q: %v, want %q", tc.yaml, err, tc.says)
		}
	}
}
