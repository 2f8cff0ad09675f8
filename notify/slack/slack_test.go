package slack

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/notify/channel"
)

const evilTitle = "<!channel> *bold* _it_ & <https://evil.example|click here> `code`\n> quote"

func msg(id, prio string) channel.Message {
	return channel.Message{
		Event: channel.EventNew, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		Incident: channel.Incident{ID: id, Title: evilTitle, Priority: prio, Status: "new", Severity: "high",
			Assignee: "<@U123>", Hosts: []string{"web&1"}, Users: []string{"bob<x>"}, AlertCount: 4,
			URL: "https://riposte.example/i/" + id + "?a=1&b=2"},
		Text: "approve <https://x|y>",
	}
}

// post sends through a real HTTP receiver and returns the decoded body.
func post(t *testing.T, tmpl *channel.Template, msgs ...channel.Message) (Payload, map[string]any) {
	t.Helper()
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		if r.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	defer srv.Close()
	t.Setenv("TEST_SLACK_URL", srv.URL+"/services/T0/B0/XXXX")
	c, err := New("soc-slack", channel.HookConfig{URLEnv: "TEST_SLACK_URL"}, tmpl)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Send(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	var p Payload
	var raw map[string]any
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal(body, &raw)
	return p, raw
}

func TestPayloadAndEscaping(t *testing.T) {
	p, raw := post(t, nil, msg("INC-1", "P1"))
	if _, ok := raw["text"].(string); !ok {
		t.Fatalf("no text: %v", raw)
	}
	if len(p.Blocks) != 2 || p.Blocks[0].Type != "section" || p.Blocks[0].Text.Type != "mrkdwn" || !p.Blocks[0].Text.Verbatim {
		t.Fatalf("blocks %+v", p.Blocks)
	}
	if b := p.Blocks[1]; b.Type != "actions" || len(b.Elements) != 1 || b.Elements[0].Type != "button" ||
		b.Elements[0].URL != "https://riposte.example/i/INC-1?a=1&b=2" || b.Elements[0].Text.Type != "plain_text" {
		t.Errorf("actions %+v", b)
	}
	text := p.Blocks[0].Text.Text
	if p.Text != text {
		t.Errorf("fallback text differs from the section")
	}
	for _, want := range []string{
		"*P1 New incident* <https://riposte.example/i/INC-1?a=1&amp;b=2|INC-1>: ",
		"&lt;!channel&gt; *bold* _it_ &amp; &lt;https://evil.example|click here&gt; `code` &gt; quote",
		"Assignee: &lt;@U123&gt;", "Hosts: web&amp;1", "Users: bob&lt;x&gt;", "Note: approve &lt;https://x|y&gt;",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("text lacks %q:\n%s", want, text)
		}
	}
	// The only < > in the text are the incident link the template made.
	rest := strings.Replace(text, "<https://riposte.example/i/INC-1?a=1&amp;b=2|INC-1>", "", 1)
	if strings.ContainsAny(rest, "<>") {
		t.Errorf("unescaped < or > in:\n%s", rest)
	}
	if strings.Contains(strings.ReplaceAll(rest, "&amp;", ""), "& ") {
		t.Errorf("bare & in:\n%s", rest)
	}
}

func TestDigestAndTemplate(t *testing.T) {
	p, _ := post(t, nil, msg("INC-1", "P1"), msg("INC-2", "P3"), msg("INC-3", "P3"))
	text := p.Blocks[0].Text.Text
	if !strings.HasPrefix(text, "*3 notifications* (1×P1, 2×P3)\n• *P1 New incident* <") {
		t.Errorf("digest:\n%s", text)
	}
	if len(p.Blocks) != 1 {
		t.Errorf("digest has %d blocks (no single button)", len(p.Blocks))
	}
	p, _ = post(t, &channel.Template{Text: "{{range .Messages}}:rotating_light: <{{.Incident.URL}}|{{.Incident.Title}}>\n{{end}}"}, msg("INC-1", "P1"))
	want := ":rotating_light: <https://riposte.example/i/INC-1?a=1&amp;b=2|&lt;!channel&gt; *bold* _it_ &amp; &lt;https://evil.example|click here&gt; `code` &gt; quote>"
	if p.Text != want {
		t.Errorf("custom template:\n got %s\nwant %s", p.Text, want)
	}
}

func TestLongTextIsSplit(t *testing.T) {
	var msgs []channel.Message
	for i := range 60 {
		m := msg("INC-"+strings.Repeat("9", i%5+1), "P2")
		m.Incident.Title = strings.Repeat("&", 40) // 200 bytes escaped per title
		msgs = append(msgs, m)
	}
	p, _ := post(t, nil, msgs...)
	if len(p.Blocks) < 2 {
		t.Fatalf("%d blocks", len(p.Blocks))
	}
	for _, b := range p.Blocks {
		if n := len([]rune(b.Text.Text)); n > maxSection {
			t.Errorf("section of %d characters", n)
		}
	}
	if n := len([]rune(p.Text)); n > maxSection {
		t.Errorf("text of %d characters", n)
	}
	if strings.HasSuffix(strings.TrimSuffix(p.Text, "…"), "&am") {
		t.Error("entity cut in two")
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New("s", channel.HookConfig{}, &channel.Template{Text: "{{.Nope", Subject: "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"slack.url or url_env is required", "template.subject and template.body are for email", "template.text"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	_, err = New("s", channel.HookConfig{URL: "https://hooks.example/x"}, &channel.Template{Text: "{{.First.Incident.Nope}}"})
	if err == nil || !strings.Contains(err.Error(), "Nope") {
		t.Errorf("execution error not caught at load: %v", err)
	}
	if s := (channel.HookConfig{URL: "https://hooks.slack.com/services/T0/B0/SECRET"}).String(); strings.Contains(s, "SECRET") {
		t.Errorf("String shows the secret: %s", s)
	}
}
