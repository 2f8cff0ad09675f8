package teams

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

const evilTitle = "**bold** _it_ [click](https://evil.example) <b>x</b> &amp; `code` # h | t ~s~ \\"

func msg(id, prio string) channel.Message {
	return channel.Message{
		Event: channel.EventSLABreach, Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Text: "time to contain: 4h",
		Incident: channel.Incident{ID: id, Title: evilTitle, Priority: prio, Status: "triaged", Assignee: "- list",
			Hosts: []string{"1. web"}, Owners: []string{"[ops](x)"}, AlertCount: 9,
			URL: "https://riposte.example/i/(" + id + ")"},
	}
}

func post(t *testing.T, tmpl *channel.Template, msgs ...channel.Message) (Payload, map[string]any) {
	t.Helper()
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ = io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	c, err := New("soc-teams", channel.HookConfig{URL: srv.URL + "/workflows/abc"}, tmpl)
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

func TestCardShapeAndEscaping(t *testing.T) {
	p, raw := post(t, nil, msg("INC-1", "P1"))
	att := raw["attachments"].([]any)[0].(map[string]any)
	if raw["type"] != "message" || att["contentType"] != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope %v", raw)
	}
	if _, ok := att["contentUrl"]; !ok {
		t.Error("no contentUrl key")
	}
	content := att["content"].(map[string]any)
	if content["type"] != "AdaptiveCard" || content["version"] != "1.4" || content["$schema"] == nil {
		t.Errorf("card %v", content)
	}
	card := p.Attachments[0].Content
	head := card.Body[0]
	if head.Type != "TextBlock" || head.Weight != "Bolder" || head.Color != "Attention" || !head.Wrap {
		t.Errorf("heading %+v", head)
	}
	wantTitle := `\*\*bold\*\* \_it\_ \[click\]\(https://evil.example\) \<b\>x\</b\> \&amp; ` + "\\`code\\`" + ` \# h \| t \~s\~ \\`
	if head.Text != "P1 SLA breached: "+wantTitle {
		t.Errorf("heading\n got %s\nwant %s", head.Text, "P1 SLA breached: "+wantTitle)
	}
	var lines []string
	for _, b := range card.Body {
		lines = append(lines, b.Text)
	}
	all := strings.Join(lines, "\n")
	for _, want := range []string{
		`**Incident:** [INC-1](https://riposte.example/i/%28INC-1%29)`, `**Assignee:** \- list`,
		`**Hosts:** 1\. web`, `**Owners:** \[ops\]\(x\)`, `**Alerts:** 9`, `**Note:** time to contain: 4h`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("card lacks %q:\n%s", want, all)
		}
	}
	if len(card.Actions) != 1 || card.Actions[0].Type != "Action.OpenUrl" || card.Actions[0].URL != "https://riposte.example/i/(INC-1)" {
		t.Errorf("actions %+v", card.Actions)
	}
}

func TestDigest(t *testing.T) {
	p, _ := post(t, nil, msg("INC-1", "P3"), msg("INC-2", "P2"))
	card := p.Attachments[0].Content
	if card.Body[0].Text != "2 notifications (1×P2, 1×P3)" || card.Body[0].Color != "Warning" {
		t.Errorf("heading %+v", card.Body[0])
	}
	if len(card.Body) != 3 || !strings.HasPrefix(card.Body[1].Text, "- **P3 SLA breached** [INC-1](") {
		t.Errorf("body %+v", card.Body)
	}
	if len(card.Actions) != 0 {
		t.Errorf("digest has a single action")
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"- item":          `\- item`,
		"-5 degrees":      "-5 degrees",
		"+ item":          `\+ item`,
		"12. item":        `12\. item`,
		"v1.2":            "v1.2",
		"a\nb\r\nc":       "a b c",
		"x\u202eevil":     "xevil",
		"10.0.0.1 - host": "10.0.0.1 - host",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	if EscapeURL("javascript:alert(1)") != "" || EscapeURL("https://x.example/a b") != "" {
		t.Error("unsafe URL kept")
	}
}

func TestConfigErrors(t *testing.T) {
	_, err := New("t", channel.HookConfig{URL: "https://x.example/h", URLEnv: "Y"}, &channel.Template{Body: "b", Text: "{{range}}"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"teams.url and url_env exclude each other", "template.subject and template.body", "template.text"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
