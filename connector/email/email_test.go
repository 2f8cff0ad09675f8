package email

import (
	"context"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/email"
)

const password = "smtp-test-password"

func config(s *receiver.SMTP) Config {
	return Config{
		SMTP: email.Config{
			Host: "127.0.0.1", Port: s.Port(), RootCAs: s.CAFile, Username: "riposte", PasswordEnv: "TEST_CONN_SMTP_PW",
			Hello: "riposte.test", From: "Riposte <riposte@example.org>", To: []string{"soc@example.org"},
		},
		Allow:   []string{"example.org", "oncall@partner.example"},
		Options: outbound.Options{Timeout: 5 * time.Second},
	}
}

func start(t *testing.T) (*receiver.SMTP, *Connector) {
	t.Helper()
	t.Setenv("TEST_CONN_SMTP_PW", password)
	s := receiver.NewSMTP(t)
	s.User, s.Pass = "riposte", password
	c, err := New(config(s))
	if err != nil {
		t.Fatal(err)
	}
	return s, c
}

func call(key string, args map[string]any) connector.Call {
	return connector.Call{Operation: "send", Args: args, IdempotencyKey: key, RunID: "run-1", StepID: "mail", Incident: "INC-7"}
}

// parsed is a received mail read back as a mail reader would.
type parsed struct {
	header  mail.Header
	subject string
	body    string
}

func parse(t *testing.T, m receiver.Mail) parsed {
	t.Helper()
	pm, err := mail.ReadMessage(strings.NewReader(m.Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(pm.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if err != nil {
		t.Fatal(err)
	}
	return parsed{pm.Header, subject, string(body)}
}

func TestSend(t *testing.T) {
	for _, tc := range []struct {
		name     string
		args     map[string]any
		wantTo   []string
		wantBody string
	}{
		{
			name:     "named recipients",
			args:     map[string]any{"to": []any{"alice@example.org", "Bob <BOB@Example.org>", "alice@example.org", "oncall@partner.example"}, "subject": "Host web-1 isolated", "text": "web-1 was isolated.\nNo action needed."},
			wantTo:   []string{"alice@example.org", "BOB@Example.org", "oncall@partner.example"},
			wantBody: "web-1 was isolated.\nNo action needed.\n\nIncident: INC-7\n",
		},
		{
			name:     "configured recipients, other incident",
			args:     map[string]any{"subject": "s", "text": "one line", "incident": "INC-9"},
			wantTo:   []string{"soc@example.org"},
			wantBody: "one line\n\nIncident: INC-9\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := start(t)
			res, err := c.Execute(context.Background(), call("k1", tc.args))
			if err != nil {
				t.Fatal(err)
			}
			if res.Outputs["sent"] != true || strings.Join(res.Outputs["to"].([]string), ",") != strings.Join(tc.wantTo, ",") {
				t.Errorf("outputs %v", res.Outputs)
			}
			mails := s.Mails()
			if len(mails) != 1 {
				t.Fatalf("%d mails", len(mails))
			}
			m := mails[0]
			if !m.TLS || m.User != "riposte" || m.From != "riposte@example.org" || strings.Join(m.To, ",") != strings.Join(tc.wantTo, ",") {
				t.Errorf("envelope: tls %v user %q from %q to %q", m.TLS, m.User, m.From, m.To)
			}
			p := parse(t, m)
			if p.subject != tc.args["subject"] || p.body != tc.wantBody {
				t.Errorf("subject %q body %q", p.subject, p.body)
			}
			if got := p.header.Get("To"); strings.Contains(got, "Bob") {
				t.Errorf("display name from the step kept: %q", got)
			}
		})
	}
}

func TestRefused(t *testing.T) {
	s, c := start(t)
	for _, tc := range []struct {
		name string
		args map[string]any
		want string // in the error
	}{
		{"not allowed", map[string]any{"to": []any{"x@evil.example"}, "subject": "s", "text": "t"}, "to[0] x@evil.example is not allowed"},
		{"subdomain not allowed", map[string]any{"to": []any{"x@mail.example.org"}, "subject": "s", "text": "t"}, "to[0] x@mail.example.org is not allowed"},
		{"header injection", map[string]any{"to": []any{"a@example.org\r\nBcc: x@evil.example"}, "subject": "s", "text": "t"}, "to[0]"},
		{"two in one", map[string]any{"to": []any{"a@example.org, b@example.org"}, "subject": "s", "text": "t"}, "is not an email address"},
		{"not an address", map[string]any{"to": []any{"example.org"}, "subject": "s", "text": "t"}, "to[0] \"example.org\" is not an email address"},
		{"quoted space", map[string]any{"to": []any{`"a b"@example.org`}, "subject": "s", "text": "t"}, "is not an email address"},
		{"too long", map[string]any{"to": []any{strings.Repeat("a", 300) + "@example.org"}, "subject": "s", "text": "t"}, "to[0] is 312 bytes"},
		{"too many", map[string]any{"to": manyAddresses(51), "subject": "s", "text": "t"}, "51 recipients"},
		{"no subject", map[string]any{"text": "t"}, `argument "subject" is required`},
		{"unknown argument", map[string]any{"subject": "s", "text": "t", "from": "ceo@example.org"}, `unknown argument "from"`},
		{"bad incident", map[string]any{"subject": "s", "text": "t", "incident": "../../etc/passwd x"}, "is not an incident ID"},
		{"to as a string", map[string]any{"to": "a@example.org", "subject": "s", "text": "t"}, `argument "to" must be strings`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Simulate, c.Execute} {
				_, err := run(context.Background(), call("k-"+tc.name, tc.args))
				if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err %v, want permanent with %q", err, tc.want)
				}
			}
		})
	}
	if n := len(s.Mails()); n != 0 {
		t.Fatalf("%d mails sent by refused calls", n)
	}
}

func manyAddresses(n int) []any {
	out := make([]any, n)
	for i := range out {
		out[i] = "u" + strings.Repeat("x", i) + "@example.org"
	}
	return out
}

func TestOncePerKey(t *testing.T) {
	s, c := start(t)
	args := map[string]any{"subject": "s", "text": "t"}
	for range 3 {
		if _, err := c.Execute(context.Background(), call("same", args)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Execute(context.Background(), call("same", args))
	if err != nil || res.Outputs["sent"] != false || !strings.Contains(res.Summary, "already sent") {
		t.Fatalf("repeat: %v %+v", err, res)
	}
	if _, err := c.Execute(context.Background(), call("other", args)); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Mails()); n != 2 {
		t.Fatalf("%d mails, want 2 (one per key)", n)
	}
}

func TestErrorClasses(t *testing.T) {
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	for _, tc := range []struct {
		name      string
		setup     func(s *receiver.SMTP, cfg *Config)
		want      connector.Class
		wantMails int
	}{
		{"SMTP 4xx: try later", func(s *receiver.SMTP, _ *Config) { s.MailReply = "451 4.3.0 try again later" }, connector.Transient, 0},
		{"SMTP 5xx: refused", func(s *receiver.SMTP, _ *Config) { s.MailReply = "550 5.7.1 relaying denied" }, connector.Permanent, 0},
		{"connection refused", func(_ *receiver.SMTP, cfg *Config) { cfg.SMTP.Port = closedPort }, connector.Transient, 0},
		{"lost after the data", func(s *receiver.SMTP, _ *Config) { s.DropAfterData = true }, connector.Unknown, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("TEST_CONN_SMTP_PW", password)
			s := receiver.NewSMTP(t)
			s.User, s.Pass = "riposte", password
			cfg := config(s)
			tc.setup(s, &cfg)
			c, err := New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Execute(context.Background(), call("k", map[string]any{"subject": "s", "text": "t"}))
			if err == nil || connector.ClassOf(err) != tc.want {
				t.Fatalf("err %v, want %s", err, tc.want)
			}
			if strings.Contains(err.Error(), password) {
				t.Fatal("the password is in the error")
			}
			if n := len(s.Mails()); n != tc.wantMails {
				t.Errorf("%d mails, want %d", n, tc.wantMails)
			}
			if c.sender.Sent("k") {
				t.Error("a failed send kept its key: the retry would be dropped")
			}
		})
	}
}

func TestPasswordReadAtEachCall(t *testing.T) {
	s, c := start(t)
	t.Setenv("TEST_CONN_SMTP_PW", "")
	for _, run := range []func(context.Context, connector.Call) (connector.Result, error){c.Simulate, c.Execute} {
		_, err := run(context.Background(), call("k", map[string]any{"subject": "s", "text": "t"}))
		if connector.ClassOf(err) != connector.Permanent || err == nil || !strings.Contains(err.Error(), "TEST_CONN_SMTP_PW") {
			t.Errorf("unset password variable: %v", err)
		}
	}
	if len(s.Mails()) != 0 {
		t.Fatal("sent without a password")
	}
}

func TestSimulate(t *testing.T) {
	s, c := start(t)
	res, err := c.Simulate(context.Background(), call("k", map[string]any{
		"to": []any{"alice@example.org"}, "subject": "Isolated {{.Incident.ID}}", "text": "line 1\r\nline 2\rline 3",
	}))
	if err != nil {
		t.Fatal(err)
	}
	o := res.Outputs
	if o["rendered_subject"] != "Isolated {{.Incident.ID}}" || o["body"] != "line 1\nline 2\nline 3\n\nIncident: INC-7\n" || o["from"] != "Riposte <riposte@example.org>" {
		t.Errorf("outputs %q", o)
	}
	want := "smtp 127.0.0.1:"
	if len(res.Commands) != 1 || !strings.HasPrefix(res.Commands[0], want) || !strings.Contains(res.Commands[0], "RCPT TO:<alice@example.org>") {
		t.Errorf("commands %q", res.Commands)
	}
	if len(s.Mails()) != 0 || c.sender.Sent("k") {
		t.Fatal("the dry run sent or claimed the key")
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("TEST_CONN_SMTP_PW", password)
	s := receiver.NewSMTP(t)
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no host", func(c *Config) { c.SMTP.Host = "" }, "email.host is required"},
		{"bad allow", func(c *Config) { c.Allow = []string{"exa mple.org"} }, `allow[0] "exa mple.org"`},
		{"allow with a name", func(c *Config) { c.Allow = []string{"Bob <bob@example.org>"} }, "allow[0]"},
		{"password unset", func(c *Config) { c.SMTP.PasswordEnv = "TEST_CONN_SMTP_UNSET" }, "TEST_CONN_SMTP_UNSET"},
		{"negative max_text", func(c *Config) { c.MaxText = -1 }, "max_text"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config(s)
			tc.edit(&cfg)
			if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want %q", err, tc.want)
			}
		})
	}
	cfg := config(s)
	cfg.SMTP.To = nil // recipients may come from the steps only
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Simulate(context.Background(), call("k", map[string]any{"subject": "s", "text": "t"})); err == nil || !strings.Contains(err.Error(), "no recipients") {
		t.Fatalf("no recipients: %v", err)
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Email Config `yaml:"email"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil {
		t.Fatal(err)
	}
	c := doc.Connectors.Email
	if c.SMTP.Host != "smtp.example.org" || c.Timeout != 30*time.Second || len(c.Allow) != 2 || c.RememberKeys != 4096 || c.MaxText != 8192 {
		t.Fatalf("%+v", c)
	}
	if spec := (&Connector{}).Spec(); spec.SampleConfig == "" || spec.Operations["send"].Idempotent {
		t.Fatal("spec")
	}
}

// A playbook step mails through a server that takes only XOAUTH2, the
// way Microsoft 365 and Gmail do, with the access token in a file.
func TestSendXOAUTH2(t *testing.T) {
	s := receiver.NewSMTP(t)
	s.User, s.Pass, s.Mechs = "riposte@example.org", "ya29.access-token", []string{"XOAUTH2"}
	token := t.TempDir() + "/token"
	if err := os.WriteFile(token, []byte(s.Pass), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.SMTP.Username, cfg.SMTP.PasswordEnv, cfg.SMTP.PasswordFile, cfg.SMTP.Auth = s.User, "", token, "xoauth2"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Execute(context.Background(), call("k1", map[string]any{"subject": "s", "text": "t"})); err != nil {
		t.Fatal(err)
	}
	if m := s.Mails(); len(m) != 1 || m[0].Mech != "XOAUTH2" || m[0].User != s.User {
		t.Errorf("mails %+v, want one after AUTH XOAUTH2", m)
	}
}
