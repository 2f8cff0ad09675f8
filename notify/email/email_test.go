package email

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/receiver"
	"github.com/riposte-soar/riposte/notify/channel"
)

const testPassword = "s3cret-smtp-pw"

// startSMTPD starts a real SMTP server that accepts only user and pass (no
// AUTH at all when user is empty).
func startSMTPD(t *testing.T, user, pass string) *receiver.SMTP {
	t.Helper()
	s := receiver.NewSMTP(t)
	s.User, s.Pass = user, pass
	return s
}

func testConfig(s *receiver.SMTP) Config {
	return Config{
		Host: "127.0.0.1", Port: s.Port(), StartTLS: StartTLSRequired, RootCAs: s.CAFile,
		Username: "riposte", PasswordEnv: "TEST_SMTP_PASSWORD", Hello: "riposte.test",
		From: "Riposte <riposte@example.org>", To: []string{"soc@example.org", "Ön Call <oncall@example.org>"},
	}
}

func send(t *testing.T, c *Channel, msgs ...channel.Message) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Send(ctx, msgs)
}

func msg(id, title string) channel.Message {
	return channel.Message{
		Event: channel.EventNew, Time: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), Text: "SLA: respond within 15m",
		Incident: channel.Incident{
			ID: id, Title: title, Priority: "P1", Severity: "critical", Status: "new", Assignee: "alice",
			Owners: []string{"it-ops"}, Tags: []string{"attack.t1110"}, Hosts: []string{"web-1"},
			Users: []string{"bob"}, AlertCount: 7, URL: "https://riposte.example/incidents/" + id,
			Summary: "Brute force then login.",
		},
	}
}

func TestSendSTARTTLSAuthPlain(t *testing.T) {
	t.Setenv("TEST_SMTP_PASSWORD", testPassword)
	s := startSMTPD(t, "riposte", testPassword)
	c, err := New("soc-mail", testConfig(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	evil := "Ünïcode brute force\r\nBcc: victim@evil.example\r\n\r\n{{.Incident.ID}} {{template \"x\"}} =?utf-8?q?fake?="
	m := msg("INC-1", evil)
	m.Incident.Summary = "line one\r\n.\r\nQUIT\r\nline two"
	if err := send(t, c, m); err != nil {
		t.Fatal(err)
	}
	got := s.Mails()
	if len(got) != 1 {
		t.Fatalf("%d mails", len(got))
	}
	r := got[0]
	if !r.TLS || r.User != "riposte" {
		t.Errorf("TLS %v, auth %q: want STARTTLS and AUTH PLAIN", r.TLS, r.User)
	}
	if r.From != "riposte@example.org" || strings.Join(r.To, ",") != "soc@example.org,oncall@example.org" {
		t.Errorf("envelope %q -> %q", r.From, r.To)
	}
	pm, err := mail.ReadMessage(strings.NewReader(r.Data))
	if err != nil {
		t.Fatal(err)
	}
	h := pm.Header
	if len(h["Bcc"]) != 0 {
		t.Errorf("title injected a Bcc header: %q", h["Bcc"])
	}
	for k := range h {
		switch k {
		case "From", "To", "Subject", "Date", "Message-Id", "Mime-Version", "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted":
		default:
			t.Errorf("unexpected header %s: %q", k, h[k])
		}
	}
	if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "riposte@example.org" || from[0].Name != "Riposte" {
		t.Errorf("From %q: %v", h.Get("From"), err)
	}
	if to, err := h.AddressList("To"); err != nil || len(to) != 2 || to[1].Name != "Ön Call" {
		t.Errorf("To %q: %v", h.Get("To"), err)
	}
	raw := h.Get("Subject")
	if !strings.HasPrefix(raw, "=?utf-8?q?") {
		t.Errorf("Subject not Q-encoded: %q", raw)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(raw)
	if err != nil {
		t.Fatal(err)
	}
	wantSubj := `[Riposte] P1 New incident: Ünïcode brute force Bcc: victim@evil.example  {{.Incident.ID}} {{template "x"}} =?utf-8?q?fake?=`
	if subj != wantSubj {
		t.Errorf("Subject\n got %q\nwant %q", subj, wantSubj)
	}
	if d, err := h.Date(); err != nil || time.Since(d) > time.Minute {
		t.Errorf("Date %q: %v", h.Get("Date"), err)
	}
	if !regexp.MustCompile(`^<[0-9a-z]+\.[0-9a-f]{24}@example\.org>$`).MatchString(h.Get("Message-Id")) {
		t.Errorf("Message-ID %q", h.Get("Message-Id"))
	}
	if h.Get("Content-Type") != "text/plain; charset=utf-8" || h.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("content headers %q %q", h.Get("Content-Type"), h.Get("Content-Transfer-Encoding"))
	}
	bodyBytes, err := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if err != nil {
		t.Fatal(err)
	}
	body := string(bodyBytes)
	for _, want := range []string{
		"New incident: Ünïcode brute force Bcc: victim@evil.example  {{.Incident.ID}} {{template \"x\"}}",
		"Incident:  INC-1\n", "Priority:  P1\n", "When:      2026-03-04 05:06:07 UTC\n",
		"Note:      SLA: respond within 15m\n", "Owners:    it-ops\n", "Alerts:    7\n",
		"line one . QUIT line two", "Open: https://riposte.example/incidents/INC-1\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("body lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(r.Data, testPassword) {
		t.Error("password in the mail")
	}
}

func TestDigestIsOneMail(t *testing.T) {
	t.Setenv("TEST_SMTP_PASSWORD", testPassword)
	s := startSMTPD(t, "riposte", testPassword)
	c, err := New("soc-mail", testConfig(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b, d := msg("INC-1", "one"), msg("INC-2", "two"), msg("INC-3", "three")
	b.Incident.Priority = "P3"
	if err := send(t, c, a, b, d); err != nil {
		t.Fatal(err)
	}
	got := s.Mails()
	if len(got) != 1 {
		t.Fatalf("%d mails, want 1", len(got))
	}
	pm, _ := mail.ReadMessage(strings.NewReader(got[0].Data))
	if subj := pm.Header.Get("Subject"); subj != "[Riposte] 3 notifications: 2×P1, 1×P3" {
		subj, _ = new(mime.WordDecoder).DecodeHeader(subj)
		if subj != "[Riposte] 3 notifications: 2×P1, 1×P3" {
			t.Errorf("subject %q", subj)
		}
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(pm.Body))
	for _, id := range []string{"INC-1", "INC-2", "INC-3"} {
		if !strings.Contains(string(body), "Incident:  "+id) {
			t.Errorf("digest lacks %s", id)
		}
	}
}

func TestCustomTemplate(t *testing.T) {
	s := startSMTPD(t, "", "")
	cfg := testConfig(s)
	cfg.Username, cfg.PasswordEnv = "", ""
	c, err := New("m", cfg, &channel.Template{
		Subject: "ALERT {{.First.Incident.ID}}\n{{.First.Incident.Title}}",
		Body:    "{{range .Messages}}* {{.Incident.Title}} ({{join .Incident.Hosts \"|\"}})\n{{end}}",
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, msg("INC-9", "x {{.Incident.URL}}")); err != nil {
		t.Fatal(err)
	}
	pm, _ := mail.ReadMessage(strings.NewReader(s.Mails()[0].Data))
	if subj := pm.Header.Get("Subject"); subj != "ALERT INC-9 x {{.Incident.URL}}" {
		t.Errorf("subject %q: a template line break must not end the header", subj)
	}
	body, _ := io.ReadAll(quotedprintable.NewReader(pm.Body))
	if string(body) != "* x {{.Incident.URL}} (web-1)\n" {
		t.Errorf("body %q", body)
	}
}

func TestPermanentAndTransientFailures(t *testing.T) {
	t.Setenv("TEST_SMTP_PASSWORD", "wrong-password-value")
	s := startSMTPD(t, "riposte", testPassword)
	c, err := New("soc-mail", testConfig(s), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = send(t, c, msg("INC-1", "x"))
	if err == nil || !channel.IsPermanent(err) || !strings.Contains(err.Error(), "535") {
		t.Errorf("bad password: %v (permanent %v)", err, channel.IsPermanent(err))
	}
	if err != nil && strings.Contains(err.Error(), "wrong-password-value") {
		t.Error("password in error")
	}

	t.Setenv("TEST_SMTP_PASSWORD", testPassword)
	c, _ = New("soc-mail", testConfig(s), nil)
	s.MailReply = "451 4.3.0 try again later"
	if err := send(t, c, msg("INC-1", "x")); err == nil || channel.IsPermanent(err) {
		t.Errorf("451: %v, want transient", err)
	}
	s.MailReply = "550 5.7.1 relaying denied"
	if err := send(t, c, msg("INC-1", "x")); err == nil || !channel.IsPermanent(err) {
		t.Errorf("550: %v, want permanent", err)
	}
	s.MailReply = ""

	// No STARTTLS offered while required: never send in clear.
	s2 := startSMTPD(t, "", "")
	s2.NoStartTLS = true
	cfg := testConfig(s2)
	cfg.Username, cfg.PasswordEnv = "", ""
	c2, _ := New("m", cfg, nil)
	if err := send(t, c2, msg("INC-1", "x")); !errors.Is(err, errNoStartTLS) || !channel.IsPermanent(err) {
		t.Errorf("no STARTTLS: %v", err)
	}
	if n := len(s2.Mails()); n != 0 {
		t.Errorf("%d mails sent in clear", n)
	}
	// Opportunistic sends in clear when it must.
	cfg.StartTLS = StartTLSOpportunistic
	c2, _ = New("m", cfg, nil)
	if err := send(t, c2, msg("INC-1", "x")); err != nil || len(s2.Mails()) != 1 {
		t.Errorf("opportunistic: %v", err)
	}

	// A certificate nobody vouches for.
	cfg = testConfig(s)
	cfg.RootCAs = ""
	c3, _ := New("m", cfg, nil)
	if err := send(t, c3, msg("INC-1", "x")); err == nil || !channel.IsPermanent(err) {
		t.Errorf("unknown CA: %v, want permanent", err)
	}

	// Nobody listening: transient.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg = testConfig(s)
	cfg.Port = port
	c4, _ := New("m", cfg, nil)
	if err := send(t, c4, msg("INC-1", "x")); err == nil || channel.IsPermanent(err) {
		t.Errorf("connection refused: %v, want transient", err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Setenv("EMPTY_PW", "")
	_, err := New("m", Config{
		Host: "smtp.example.org", StartTLS: "maybe", Username: "u", PasswordEnv: "EMPTY_PW",
		From: "not an address", To: nil,
	}, &channel.Template{Subject: "{{.First.Incident.Nope}}", Body: "{{if}}", Text: "x"})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		`email.starttls "maybe"`, "EMPTY_PW is empty", "email.from", "email.to needs",
		"template.text is for slack", "template.subject", "Nope", "template.body",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	t.Setenv("PW", "x")
	_, err = New("m", Config{Host: "smtp.example.org", StartTLS: StartTLSOff, Username: "u", PasswordEnv: "PW",
		From: "a@example.org", To: []string{"b@example.org"}}, nil)
	if err == nil || !strings.Contains(err.Error(), "in clear") {
		t.Errorf("AUTH without TLS: %v", err)
	}
}

func TestEncodeHeader(t *testing.T) {
	for _, s := range []string{"plain ascii", "Ünïcode", "=?utf-8?q?x?= looks encoded", strings.Repeat("ä=?", 60)} {
		enc := EncodeHeader(s)
		if strings.ContainsAny(strings.ReplaceAll(enc, "\r\n ", ""), "\r\n") {
			t.Errorf("%q: bare line break", enc)
		}
		for _, line := range strings.Split(enc, "\r\n") {
			if len(line) > 998 {
				t.Errorf("line of %d bytes", len(line))
			}
		}
		dec, err := new(mime.WordDecoder).DecodeHeader(strings.ReplaceAll(enc, "\r\n", ""))
		if err != nil || dec != s {
			t.Errorf("%q -> %q -> %q (%v)", s, enc, dec, err)
		}
	}
}

// Each AUTH mechanism logs in to a server that offers it; a server that
// does not offer the configured one is a permanent failure that names
// what it offers, and nothing is sent.
func TestAuthMechanisms(t *testing.T) {
	t.Setenv("TEST_SMTP_PASSWORD", testPassword)
	cases := []struct {
		auth, mech string
		offered    []string
	}{
		{"", "PLAIN", []string{"PLAIN", "LOGIN"}},
		{"plain", "PLAIN", []string{"LOGIN", "PLAIN"}},
		{"login", "LOGIN", []string{"LOGIN"}},
		{"LOGIN", "LOGIN", []string{"PLAIN", "LOGIN", "XOAUTH2"}},
		{"xoauth2", "XOAUTH2", []string{"LOGIN", "XOAUTH2"}},
	}
	for _, tc := range cases {
		s := startSMTPD(t, "riposte", testPassword)
		s.Mechs = tc.offered
		cfg := testConfig(s)
		cfg.Auth = tc.auth
		c, err := New("m", cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := send(t, c, msg("INC-1", "x")); err != nil {
			t.Errorf("auth %q against %v: %v", tc.auth, tc.offered, err)
			continue
		}
		if got := s.Mails(); len(got) != 1 || got[0].Mech != tc.mech || got[0].User != "riposte" {
			t.Errorf("auth %q: %+v, want one mail after AUTH %s", tc.auth, got, tc.mech)
		}
	}

	s := startSMTPD(t, "riposte", testPassword)
	s.Mechs = []string{"LOGIN"}
	c, _ := New("m", testConfig(s), nil) // plain
	err := send(t, c, msg("INC-1", "x"))
	if !errors.Is(err, errNoMech) || !channel.IsPermanent(err) || !strings.Contains(err.Error(), "offers LOGIN") {
		t.Errorf("PLAIN against a LOGIN-only server: %v, want permanent naming LOGIN", err)
	}

	// A wrong token: the server's XOAUTH2 error challenge is answered
	// and the 535 that follows is permanent.
	t.Setenv("TEST_SMTP_PASSWORD", "expired-token")
	s.Mechs = []string{"XOAUTH2"}
	cfg := testConfig(s)
	cfg.Auth = AuthXOAUTH2
	c, _ = New("m", cfg, nil)
	err = send(t, c, msg("INC-1", "x"))
	if err == nil || !channel.IsPermanent(err) || !strings.Contains(err.Error(), "535") || strings.Contains(err.Error(), "expired-token") {
		t.Errorf("bad token: %v, want a permanent 535 without the token", err)
	}
	if n := len(s.Mails()); n != 0 {
		t.Errorf("%d mails sent without authentication", n)
	}
}

// password_file is read at each send, so a refreshed access token is
// used without rebuilding the channel.
func TestPasswordFileReadAtEachSend(t *testing.T) {
	s := startSMTPD(t, "riposte", "token-1")
	s.Mechs = []string{"XOAUTH2"}
	file := t.TempDir() + "/token"
	if err := os.WriteFile(file, []byte("token-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(s)
	cfg.Auth, cfg.PasswordEnv, cfg.PasswordFile = AuthXOAUTH2, "", file
	c, err := New("m", cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, msg("INC-1", "x")); err != nil {
		t.Fatal(err)
	}
	s.Pass = "token-2" // the old token expired
	if err := os.WriteFile(file, []byte("token-2"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := send(t, c, msg("INC-2", "x")); err != nil {
		t.Fatalf("after the refresh: %v", err)
	}
	if n := len(s.Mails()); n != 2 {
		t.Errorf("%d mails, want 2", n)
	}
}

func TestAuthConfigErrors(t *testing.T) {
	t.Setenv("PW", "x")
	base := Config{Host: "smtp.example.org", From: "a@example.org", To: []string{"b@example.org"}}
	cases := []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Username, c.PasswordEnv, c.Auth = "u", "PW", "cram-md5" }, `email.auth "cram-md5": want plain, login or xoauth2`},
		{func(c *Config) { c.Auth = "login" }, "email.auth is set but email.username is not"},
		{func(c *Config) { c.PasswordFile = "/x" }, "email.password_file is set but email.username is not"},
		{func(c *Config) { c.Username = "u" }, "email.username needs email.password_env"},
		{func(c *Config) { c.Username, c.PasswordEnv, c.PasswordFile = "u", "PW", "/x" }, "exclude each other"},
		{func(c *Config) { c.Username, c.PasswordFile = "u", "/nonexistent/token" }, "email.password_file: open /nonexistent/token"},
		{func(c *Config) {
			c.Username, c.PasswordEnv, c.Auth, c.StartTLS = "u", "PW", "xoauth2", StartTLSOpportunistic
		}, "AUTH XOAUTH2 would send the password in clear"},
	}
	for _, tc := range cases {
		cfg := base
		tc.edit(&cfg)
		if _, err := New("m", cfg, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", cfg, err, tc.want)
		}
	}
}
