package slackapprove

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/secret"
)

// Config is the slack section of riposte.yaml (see docs/configuration.md).
type Config struct {
	// SigningSecret is secret://NAME of the Slack app's signing secret
	// (Basic Information, App Credentials). Required: without it the
	// interactions route refuses every request.
	SigningSecret string `yaml:"signing_secret"`
	// ApprovalsWebhook is where approval requests are posted with Approve
	// and Deny buttons: an incoming webhook of the same Slack app, whose
	// Interactivity request URL is this server's
	// /api/v1/hooks/slack/interactions. secret://NAME (the URL holds a
	// token) or the URL itself; empty posts nothing.
	ApprovalsWebhook string `yaml:"approvals_webhook"`
	// TeamID, when set, refuses interactions from any other Slack
	// workspace.
	TeamID string `yaml:"team_id"`
	// ResponseURLPrefix is what a payload's response_url must start with
	// before Riposte posts to it (default https://hooks.slack.com/), so a
	// payload cannot make the server call elsewhere.
	ResponseURLPrefix string `yaml:"response_url_prefix"`
	// Poll is how often open approvals are looked for (default 5s).
	Poll time.Duration `yaml:"poll"`
}

// DefaultResponseURLPrefix is where Slack's response URLs point.
const DefaultResponseURLPrefix = "https://hooks.slack.com/"

// Enabled reports whether the section configures anything.
func (c Config) Enabled() bool { return c != Config{} }

// ParseConfig reads and checks the slack section (raw YAML starting at
// line of riposte.yaml); an empty section is the zero Config.
func ParseConfig(raw []byte, line int) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) == 0 {
		return c, nil
	}
	if err := yaml.UnmarshalWithOptions(raw, &c, yaml.Strict()); err != nil {
		return c, fmt.Errorf("slack (from line %d): %v", line, err)
	}
	if c.ResponseURLPrefix == "" {
		c.ResponseURLPrefix = DefaultResponseURLPrefix
	}
	if c.Poll == 0 {
		c.Poll = 5 * time.Second
	}
	return c, c.check()
}

func (c Config) check() error {
	var errs []error
	if _, ok, err := secret.ParseRef(c.SigningSecret); err != nil || !ok {
		errs = append(errs, fmt.Errorf("slack.signing_secret: must be secret://NAME (riposte secret set NAME), not the secret itself"))
	}
	if w := c.ApprovalsWebhook; w != "" {
		if _, ok, err := secret.ParseRef(w); err != nil {
			errs = append(errs, fmt.Errorf("slack.approvals_webhook: %v", err))
		} else if !ok && channel.CheckURL(w) != nil {
			errs = append(errs, fmt.Errorf("slack.approvals_webhook: must be secret://NAME or an http(s) URL"))
		}
	}
	if u, err := url.Parse(c.ResponseURLPrefix); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" ||
		!strings.HasSuffix(c.ResponseURLPrefix, "/") {
		errs = append(errs, fmt.Errorf("slack.response_url_prefix: %q must be an http(s) URL ending in /", c.ResponseURLPrefix))
	}
	if c.Poll < 0 {
		errs = append(errs, fmt.Errorf("slack.poll: must be positive"))
	}
	return errors.Join(errs...)
}

// References lists the section's secret:// references by key.
func (c Config) References() map[string]string {
	refs := map[string]string{}
	for key, v := range map[string]string{"slack.signing_secret": c.SigningSecret, "slack.approvals_webhook": c.ApprovalsWebhook} {
		if name, ok, err := secret.ParseRef(v); err == nil && ok {
			refs[key] = name
		}
	}
	return refs
}
