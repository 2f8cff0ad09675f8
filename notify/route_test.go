package notify

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRoutingTable(t *testing.T) {
	var chans []ChannelConfig
	for _, n := range []string{"pager", "slack", "mail", "dcteam"} {
		chans = append(chans, hookChannel(n, "http://127.0.0.1:9/"+n))
	}
	routes := []Route{
		{Name: "p1-page", Match: Match{Priorities: []string{"p1"}}, Channels: []string{"pager", "slack"}, Continue: true},
		{Name: "approvals", Match: Match{Events: []string{EventNeedsApproval}}, Channels: []string{"mail"}},
		{Name: "dc", Match: Match{Owners: []string{"dc-*"}, Tags: []string{"attack.*", "ransomware"}}, Channels: []string{"dcteam"}},
		{Name: "mute-p4", Match: Match{Priorities: []string{"P4"}}},
		{Name: "default", Channels: []string{"slack"}},
	}
	d, _ := start(t, chans, routes)
	m := func(ev, prio string, owners, tags []string) Message {
		return Message{Event: ev, Incident: Incident{ID: "I", Priority: prio, Owners: owners, Tags: tags}}
	}
	for _, tc := range []struct {
		name string
		m    Message
		want []string
	}{
		{"P1 goes to the pager and on to the default", m(EventNew, "P1", nil, nil), []string{"pager", "slack"}},
		{"P1 approval continues to approvals and stops", m(EventNeedsApproval, "P1", nil, nil), []string{"pager", "slack", "mail"}},
		{"P3 approval", m(EventNeedsApproval, "P3", nil, nil), []string{"mail"}},
		{"owner and tag patterns, any case", m(EventNew, "P2", []string{"web", "DC-East"}, []string{"ATTACK.T1110"}), []string{"dcteam"}},
		{"tag list is any-of", m(EventNew, "P2", []string{"dc-west"}, []string{"ransomware"}), []string{"dcteam"}},
		{"owner without the tag", m(EventNew, "P2", []string{"dc-east"}, []string{"policy"}), []string{"slack"}},
		{"tag without the owner", m(EventNew, "P2", []string{"hr"}, []string{"attack.t1"}), []string{"slack"}},
		{"P4 is muted", m(EventNew, "P4", nil, nil), nil},
		{"P4 approval is not muted", m(EventNeedsApproval, "P4", nil, nil), []string{"mail"}},
		{"P3 falls through to the default", m(EventResolved, "P3", nil, nil), []string{"slack"}},
	} {
		if got := d.Targets(tc.m); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestConfigErrorsNameTheirPlace(t *testing.T) {
	t.Setenv("PW", "x")
	chans := []ChannelConfig{
		{Name: "ok", Type: TypeWebhook, Webhook: &WebhookConfig{URL: "https://h.example/x"}},
		{Name: "ok", Type: TypeWebhook, Webhook: &WebhookConfig{URL: "https://h.example/x"}},
		{Name: "", Type: TypeSlack, Slack: &HookConfig{URL: "https://h.example/x"}},
		{Name: "what", Type: "pigeon"},
		{Name: "empty", Type: TypeTeams},
		{Name: "mixed", Type: TypeSlack, Slack: &HookConfig{URL: "https://h.example/x"}, Teams: &HookConfig{URL: "https://h.example/y"}},
		{Name: "ops-mail", Type: TypeEmail, Email: &EmailConfig{Host: "smtp.example.org", Username: "u", PasswordEnv: "PW",
			From: "r@example.org", To: []string{"s@example.org"}}, Template: &Template{Subject: "{{.First.Incident.Titel}}"}},
		{Name: "neg", Type: TypeWebhook, Webhook: &WebhookConfig{URL: "https://h.example/x"},
			Group: GroupConfig{Window: -time.Second}, Retry: RetryConfig{Attempts: -1}},
	}
	routes := []Route{
		{Name: "r1", Match: Match{Events: []string{"exploded"}, Priorities: []string{"P9"}, Tags: []string{"[a-"}}, Channels: []string{"nope"}},
		{Channels: []string{"ok", "ok"}},
	}
	_, err := NewDispatcher(chans, routes, nil, nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`channel "ok": defined twice`,
		`channel 3: name is required`,
		`channel "what": type "pigeon"`,
		`channel "empty": type teams needs a teams block`,
		`channel "mixed": has a teams block but type "slack"`,
		`channel "ops-mail": template: template.subject:`, "Titel",
		`channel "neg": group.window must not be negative`, `channel "neg": retry.attempts must not be negative`,
		`route "r1": match.events: "exploded"`, `route "r1": match.priorities: "P9"`, `route "r1": match.tags: "[a-"`,
		`route "r1": channels: no channel named "nope"`,
		`route 2: channels: "ok" listed twice`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q", want)
		}
	}
}
