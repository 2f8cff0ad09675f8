package intake

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/ingest/sources/httpin"
)

var now = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func firstLine(t *testing.T, path string) []byte {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	l, _, _ := strings.Cut(string(b), "\n")
	return []byte(l)
}

// Without ?format= each sample is recognised by its shape.
func TestRecognise(t *testing.T) {
	cases := []struct{ path, rulePrefix string }{
		{"suricata/testdata/eve.ndjson", "suricata:"},
		{"zeek/testdata/notice.ndjson", "zeek:"},
		{"wazuh/testdata/alerts.json", "wazuh:"},
		{"alertmanager/testdata/webhook.json", "alertmanager:"},
		{"generic/testdata/alerts.ndjson", "generic.edr:"},
	}
	for _, c := range cases {
		as, err := Read(firstLine(t, c.path), "", now)
		if err != nil || len(as) == 0 || !strings.HasPrefix(as[0].Rule.ID, c.rulePrefix) {
			t.Errorf("%s: %v %v, want a rule %s...", c.path, as, err, c.rulePrefix)
		}
	}
	if _, err := Read([]byte(`{"message":"hello"}`), "", now); err == nil || !strings.Contains(err.Error(), "name it with ?format=") {
		t.Errorf("unknown shape: %v", err)
	}
	// A named format reads the document as that format, whatever its shape.
	if _, err := Read(firstLine(t, "wazuh/testdata/alerts.json"), "suricata", now); err == nil {
		t.Error("a Wazuh alert read as Suricata was accepted")
	}
}

type published struct{ alerts []alert.Alert }

func (p *published) Publish(_ context.Context, a []alert.Alert) error {
	p.alerts = append(p.alerts, a...)
	return nil
}

// Refusals are per document; documents past the alert limit are refused
// whole, never cut.
func TestStore(t *testing.T) {
	var pub published
	items := []httpin.Item{
		{Raw: firstLine(t, "wazuh/testdata/alerts.json"), Line: 1},
		{Raw: []byte(`{"event_type":"flow"}`), Line: 2, Index: 1},
		{Raw: []byte(`{"title":"a"}`), Line: 3, Index: 2},
		{Raw: []byte(`{"title":"b"}`), Line: 4, Index: 3},
	}
	rejects, err := Store(&pub, 2)(context.Background(), items, now)
	if err != nil {
		t.Fatal(err)
	}
	if rejects[0] != nil || rejects[1] == nil || rejects[2] != nil || !errors.Is(rejects[3], ErrTooMany) || len(pub.alerts) != 2 {
		t.Fatalf("rejects %v, %d alerts published", rejects, len(pub.alerts))
	}
}
