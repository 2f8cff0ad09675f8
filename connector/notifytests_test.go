package connector_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/email"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/connector/slack"
	"github.com/riposte-soar/riposte/connector/teams"
	"github.com/riposte-soar/riposte/connector/webhook"
	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/channel"
	notifyemail "github.com/riposte-soar/riposte/notify/email"
	notifyslack "github.com/riposte-soar/riposte/notify/slack"
	notifyteams "github.com/riposte-soar/riposte/notify/teams"
	notifywebhook "github.com/riposte-soar/riposte/notify/webhook"
)

// TestMessageConnectorsKeepValuesInert sends values an attacker can put in
// an event (shell syntax, templates, markup, header injection, path
// traversal, 1 MB) through the email, webhook, slack and teams connectors
// to real receivers, and checks that nothing interprets them: no command
// runs, no template is evaluated, no mail header is added, chat markup
// arrives escaped, sizes are bounded with a marker or refused naming the
// field, and no file is written.
func TestMessageConnectorsKeepValuesInert(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "pwned")
	values := []string{
		"; touch " + canary, "$(touch " + canary + ")", "`touch " + canary + "`", "| touch " + canary + " && echo",
		"{{.}}", "{{.Incident.ID}}", `{{template "x"}}`, `{{printf "%s" .}}`, "{{ exec \"touch\" }}", "${HOME}", "${jndi:ldap://x}",
		"<script>alert(1)</script>", "<!channel> <@U1> <https://evil.example|click>", "**bold** _it_ [x](https://evil.example) # h",
		"line\r\nBcc: victim@evil.example", "subject\r\n\r\nforged body", "text\r\n.\r\nQUIT\r\n", "=?utf-8?q?fake?=",
		"../../../../etc/passwd", "..\\..\\windows\\system32",
	}
	const mib = 1 << 20
	big := strings.Repeat("A", mib)

	t.Setenv("TEST_INJ_SMTP_PW", "pw")
	t.Setenv("TEST_INJ_HOOK_SECRET", "hook-secret")
	smtpd := receiver.NewSMTP(t)
	smtpd.User, smtpd.Pass = "riposte", "pw"
	hooks := receiver.NewHTTP(t, 200)
	mailer, err := email.New(email.Config{SMTP: notifyemail.Config{Host: "127.0.0.1", Port: smtpd.Port(), RootCAs: smtpd.CAFile,
		Username: "riposte", PasswordEnv: "TEST_INJ_SMTP_PW", From: "riposte@example.org", To: []string{"soc@example.org"}}})
	if err != nil {
		t.Fatal(err)
	}
	poster, err := webhook.New(webhook.Config{Channels: map[string]notifywebhook.Config{
		"tickets": {URL: hooks.URL + "/webhook", SecretEnv: "TEST_INJ_HOOK_SECRET"}}})
	if err != nil {
		t.Fatal(err)
	}
	hookCfg := func(path string) outbound.HookConfig {
		return outbound.HookConfig{Channels: map[string]channel.HookConfig{"soc": {URL: hooks.URL + path}}}
	}
	slacker, err := slack.New(hookCfg("/slack"))
	if err != nil {
		t.Fatal(err)
	}
	teamer, err := teams.New(hookCfg("/teams"))
	if err != nil {
		t.Fatal(err)
	}

	// Anything written from here on, in the working directory or the
	// temporary directory, would show.
	work, tmp := t.TempDir(), t.TempDir()
	t.Chdir(work)
	t.Setenv("TMPDIR", tmp)

	n := 0
	run := func(c connector.Connector, args map[string]any) (connector.Result, error) {
		t.Helper()
		n++
		call := connector.Call{Operation: "send", Args: args, IdempotencyKey: fmt.Sprintf("run-inj:s:%d:1", n), RunID: "run-inj", StepID: "s", Incident: "INC-1"}
		if c == connector.Connector(poster) {
			call.Operation = "post"
		}
		sim, serr := c.Simulate(context.Background(), call)
		res, err := c.Execute(context.Background(), call)
		for _, r := range []connector.Result{sim, res} {
			for _, line := range append(slices.Clone(r.Commands), r.Summary) {
				if len(line) > 1024 {
					t.Errorf("%s: a command or summary of %d bytes", c.Spec().Name, len(line))
				}
			}
		}
		for _, e := range []error{serr, err} {
			if e != nil && len(e.Error()) > 4096 {
				t.Errorf("%s: an error of %d bytes", c.Spec().Name, len(e.Error()))
			}
		}
		if (serr == nil) != (err == nil) {
			t.Errorf("%s: the dry run said %v, the run %v", c.Spec().Name, serr, err)
		}
		return res, err
	}
	last := func(path string) []byte {
		t.Helper()
		var got []byte
		for _, r := range hooks.Requests() {
			if r.Path == path {
				got = r.Body
			}
		}
		return got
	}

	for _, v := range append(slices.Clone(values), big) {
		short := v[:min(len(v), 40)]
		lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(v, "\r\n", "\n"), "\r", "\n"), "\n")

		// email: the value is the subject and the text; as a recipient
		// it is refused, naming the field.
		mails := len(smtpd.Mails())
		if _, err := run(mailer, map[string]any{"subject": v, "text": v}); err != nil {
			t.Fatalf("email %q: %v", short, err)
		}
		got := smtpd.Mails()
		if len(got) != mails+1 {
			t.Fatalf("email %q: %d mails", short, len(got)-mails)
		}
		checkMail(t, got[len(got)-1].Data, v, lines)
		if _, err := run(mailer, map[string]any{"to": []any{v}, "subject": "s", "text": "t"}); err == nil || !strings.Contains(err.Error(), "to[0]") {
			t.Errorf("email to %q: %v, want refused naming to[0]", short, err)
		}

		// webhook: the value travels as JSON data, signed; 1 MB is refused
		// naming the payload. As a channel name it selects nothing.
		payload := map[string]any{"v": v, "nested": map[string]any{"list": []any{v}}}
		_, err := run(poster, map[string]any{"channel": "tickets", "payload": payload})
		if v == big {
			if connector.ClassOf(err) != connector.Permanent || err == nil || !strings.Contains(err.Error(), "payload is") || !strings.Contains(err.Error(), "max_payload_bytes") {
				t.Errorf("webhook 1 MB: %v, want refused naming payload", err)
			}
		} else if err != nil {
			t.Errorf("webhook %q: %v", short, err)
		} else {
			checkWebhook(t, hooks, v)
		}
		if _, err := run(poster, map[string]any{"channel": v, "payload": map[string]any{}}); err == nil || !strings.Contains(err.Error(), "is not configured") {
			t.Errorf("webhook channel %q: %v", short, err)
		}

		// slack and teams: markup escaped as the channels do, every line
		// of the value present as text, bounded.
		if _, err := run(slacker, map[string]any{"channel": "soc", "title": v, "text": v}); err != nil {
			t.Fatalf("slack %q: %v", short, err)
		}
		checkSlack(t, last("/slack"), v, lines)
		if _, err := run(teamer, map[string]any{"channel": "soc", "title": v, "text": v}); err != nil {
			t.Fatalf("teams %q: %v", short, err)
		}
		checkTeams(t, last("/teams"), v, lines)
		for _, c := range []connector.Connector{slacker, teamer} {
			if _, err := run(c, map[string]any{"channel": v, "text": "t"}); err == nil {
				t.Errorf("%s channel %q accepted", c.Spec().Name, short)
			}
		}
	}

	if _, err := os.Stat(canary); err == nil {
		t.Fatal("a value ran a command")
	}
	for _, dir := range []string{work, tmp, filepath.Dir(canary)} {
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("files written to %s: %v", dir, ents)
		}
	}
}

var mailHeaders = []string{"Auto-Submitted", "Content-Transfer-Encoding", "Content-Type", "Date", "From", "Message-Id", "Mime-Version", "Subject", "To"}

// checkMail reads the raw DATA: exactly the channel's headers, the subject
// and every line of the text present as text, templates not evaluated.
func checkMail(t *testing.T, data, v string, lines []string) {
	t.Helper()
	if len(data) > 64<<10 {
		t.Errorf("a mail of %d bytes", len(data))
	}
	pm, err := mail.ReadMessage(strings.NewReader(data))
	if err != nil {
		t.Fatalf("unreadable mail: %v", err)
	}
	var keys []string
	for k := range pm.Header {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, mailHeaders) || len(pm.Header["To"]) != 1 || pm.Header.Get("To") != "<soc@example.org>" {
		t.Errorf("headers %v (To %q): a value added or changed a header", keys, pm.Header["To"])
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := string(b)
	if len(v) > outbound.DefaultMaxText {
		if !strings.Contains(subject, "1048576 bytes, truncated") || !strings.Contains(body, "1048576 bytes, truncated") || len(body) > outbound.DefaultMaxText+100 {
			t.Errorf("1 MB: subject %q, body of %d bytes without the marker", subject, len(body))
		}
		return
	}
	if want := strings.TrimSpace(channel.Sanitize(v, true)); subject != want {
		t.Errorf("subject %q, want %q", subject, want)
	}
	for _, l := range lines {
		if !strings.Contains(body, channel.Sanitize(l, true)+"\n") {
			t.Errorf("body %q lacks the line %q", body, l)
		}
	}
}

func checkWebhook(t *testing.T, hooks *receiver.HTTP, v string) {
	t.Helper()
	reqs := hooks.Requests()
	r := reqs[len(reqs)-1]
	if err := notifywebhook.Verify([]byte("hook-secret"), r.Header, r.Body, time.Minute, time.Now()); err != nil {
		t.Errorf("webhook %q: %v", v, err)
	}
	var b struct {
		Payload struct {
			V      string `json:"v"`
			Nested struct {
				List []string `json:"list"`
			} `json:"nested"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(r.Body, &b); err != nil || b.Payload.V != v || len(b.Payload.Nested.List) != 1 || b.Payload.Nested.List[0] != v {
		t.Errorf("webhook %q arrived as %+v (%v)", v, b, err)
	}
}

func checkSlack(t *testing.T, raw []byte, v string, lines []string) {
	t.Helper()
	var p notifyslack.Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	var all strings.Builder
	for _, b := range p.Blocks {
		all.WriteString(b.Text.Text + "\n")
	}
	text := all.String()
	if strings.ContainsAny(text, "<>") {
		t.Errorf("slack: raw < or > in %q", text)
	}
	if len(raw) > 64<<10 {
		t.Errorf("slack: a payload of %d bytes", len(raw))
	}
	if len(v) > outbound.DefaultMaxText {
		if !strings.Contains(text, "1048576 bytes, truncated") {
			t.Errorf("slack: 1 MB without the marker")
		}
		return
	}
	for _, l := range lines {
		if !strings.Contains(text, notifyslack.Escape(l)) {
			t.Errorf("slack: %q lacks %q", text, notifyslack.Escape(l))
		}
	}
}

func checkTeams(t *testing.T, raw []byte, v string, lines []string) {
	t.Helper()
	var p notifyteams.Payload
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, b := range p.Attachments[0].Content.Body {
		blocks = append(blocks, b.Text)
	}
	if len(raw) > 64<<10 {
		t.Errorf("teams: a payload of %d bytes", len(raw))
	}
	if len(v) > outbound.DefaultMaxText {
		if !strings.Contains(strings.Join(blocks, "\n"), "1048576 bytes, truncated") {
			t.Errorf("teams: 1 MB without the marker")
		}
		return
	}
	for _, l := range lines {
		want := strings.TrimRight(notifyteams.Escape(l), " \t")
		if want != "" && !slices.Contains(blocks, want) {
			t.Errorf("teams: blocks %q lack %q", blocks, want)
		}
	}
	// Once the escapes are taken out, no markup character may be left.
	escaped := regexp.MustCompile(`\\.`)
	for _, b := range blocks {
		if b != "**Incident:** INC-1" && strings.ContainsAny(escaped.ReplaceAllString(b, ""), "*_[]()<>#`~|&") {
			t.Errorf("teams: markup left in %q", b)
		}
	}
}
