// Package email is the email notification channel: plain-text mail over
// SMTP with STARTTLS (or implicit TLS) and AUTH PLAIN, LOGIN or XOAUTH2.
// The mail is built and the session spoken with wneessen/go-mail.
package email

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomail "github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml an email channel reads.
//
//go:embed sample.conf
var SampleConfig string

// AUTH mechanisms.
const (
	AuthPlain   = "plain"
	AuthLogin   = "login"
	AuthXOAUTH2 = "xoauth2"
)

// STARTTLS modes.
const (
	StartTLSRequired      = "required"
	StartTLSOpportunistic = "opportunistic"
	StartTLSOff           = "off"
)

// Config says where and how to send mail.
type Config struct {
	Host string `yaml:"host"`
	// Port defaults to 587, or 465 with TLS.
	Port int `yaml:"port"`
	// StartTLS is required (the default: refuse to send when the server
	// does not offer it), opportunistic (upgrade when offered) or off.
	StartTLS string `yaml:"starttls"`
	// TLS speaks TLS from the first byte (SMTPS, port 465) instead of
	// STARTTLS.
	TLS bool `yaml:"tls"`
	// InsecureSkipVerify accepts any server certificate. For tests only.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
	// RootCAs is a PEM file of CA certificates to trust instead of the
	// system's (a private CA, a self-signed test server).
	RootCAs string `yaml:"root_cas"`
	// Username enables AUTH; the password (with xoauth2: the OAuth 2.0
	// access token) is read from the environment variable named by
	// PasswordEnv or from the file PasswordFile, never from riposte.yaml.
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
	// PasswordFile is read at every send, so that a token refresher can
	// replace an access token that expires without a restart.
	PasswordFile string `yaml:"password_file"`
	// Auth is the SASL mechanism: plain (the default), login (servers
	// that offer nothing else) or xoauth2 (Microsoft 365, Gmail).
	Auth string `yaml:"auth"`
	// Hello is the name sent with EHLO; default: this host's name.
	Hello string   `yaml:"hello"`
	From  string   `yaml:"from"`
	To    []string `yaml:"to"`
}

// Channel sends each message, or each digest, as one mail to every
// recipient.
type Channel struct {
	name     string
	host     string
	addr     string
	implicit bool
	starttls string
	tls      *tls.Config
	auth     func() (smtp.Auth, error) // nil: no AUTH
	mech     string                    // as the server names it: PLAIN, LOGIN, XOAUTH2
	hello    string
	from     *mail.Address
	to       []*mail.Address
	subject  *channel.Renderer
	body     *channel.Renderer
}

// DefaultSubject and DefaultBody are the built-in templates.
const (
	DefaultSubject = `{{if .Digest}}[Riposte] {{.Count}} notifications: {{.Breakdown}}` +
		`{{else}}{{with .First}}[Riposte] {{with .Incident.Priority}}{{.}} {{end}}{{event .Event}}: {{.Incident.Title}}{{end}}{{end}}`
	DefaultBody = `{{if .Digest}}{{.Count}} notifications ({{.Breakdown}}).

{{end}}{{range $i, $m := .Messages}}{{if $i}}
----------------------------------------------------------------------
{{end}}{{event .Event}}: {{.Incident.Title}}
{{with .Incident.ID}}Incident:  {{.}}
{{end}}{{with .Incident.Priority}}Priority:  {{.}}
{{end}}{{with .Incident.Severity}}Severity:  {{.}}
{{end}}{{with .Incident.Status}}Status:    {{.}}
{{end}}When:      {{datetime .Time}}
{{with .Text}}Note:      {{.}}
{{end}}{{with .Incident.Assignee}}Assignee:  {{.}}
{{end}}{{with .Incident.Owners}}Owners:    {{join . ", "}}
{{end}}{{with .Incident.Hosts}}Hosts:     {{join . ", "}}
{{end}}{{with .Incident.Users}}Users:     {{join . ", "}}
{{end}}{{with .Incident.Tags}}Tags:      {{join . ", "}}
{{end}}{{with .Incident.AlertCount}}Alerts:    {{.}}
{{end}}{{with .Collapsed}}Collapsed: {{.Messages}} notifications about {{.Incidents}} incidents
{{end}}{{with .Incident.Summary}}
{{.}}
{{end}}{{with .Incident.URL}}
Open: {{.}}
{{end}}{{end}}`
)

// Escaper makes untrusted fields safe for a plain-text mail: no control
// characters, no line breaks (a field cannot forge lines of the body), and
// only http(s) links.
var Escaper = channel.Escaper{
	Text: func(s string) string { return channel.Sanitize(s, true) },
	URL:  safeURL,
}

func safeURL(u string) string {
	u = channel.Sanitize(u, true)
	if channel.CheckURL(u) != nil || strings.ContainsAny(u, " \t") {
		return ""
	}
	return u
}

// New checks cfg, reads the password and CA file, compiles the templates,
// and returns the channel. Errors name the offending option.
func New(name string, cfg Config, tmpl *channel.Template) (*Channel, error) {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	c := &Channel{name: name, host: cfg.Host, implicit: cfg.TLS}

	if cfg.Host == "" {
		bad("email.host is required")
	} else if strings.ContainsAny(cfg.Host, " \t\r\n/") {
		bad("email.host %q is not a host name", cfg.Host)
	}
	port := cfg.Port
	switch {
	case port == 0 && cfg.TLS:
		port = 465
	case port == 0:
		port = 587
	case port < 0 || port > 65535:
		bad("email.port %d is out of range", cfg.Port)
	}
	c.addr = net.JoinHostPort(cfg.Host, strconv.Itoa(port))

	c.starttls = cfg.StartTLS
	switch cfg.StartTLS {
	case "":
		c.starttls = StartTLSRequired
	case StartTLSRequired, StartTLSOpportunistic, StartTLSOff:
	default:
		bad("email.starttls %q: want required, opportunistic or off", cfg.StartTLS)
	}
	if cfg.TLS && cfg.StartTLS != "" && cfg.StartTLS != StartTLSOff {
		bad("email.tls and email.starttls exclude each other: implicit TLS needs no STARTTLS")
	}

	c.tls = &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	if cfg.RootCAs != "" {
		pem, err := os.ReadFile(cfg.RootCAs)
		pool := x509.NewCertPool()
		switch {
		case err != nil:
			bad("email.root_cas: %v", err)
		case !pool.AppendCertsFromPEM(pem):
			bad("email.root_cas %s: no PEM certificate in it", cfg.RootCAs)
		default:
			c.tls.RootCAs = pool
		}
	}

	c.checkAuth(cfg, bad)

	c.hello = cfg.Hello
	if c.hello == "" {
		if h, err := os.Hostname(); err == nil && h != "" && !strings.ContainsAny(h, " \t\r\n") {
			c.hello = h
		} else {
			c.hello = "localhost"
		}
	} else if strings.ContainsAny(c.hello, " \t\r\n") {
		bad("email.hello %q must be one word", cfg.Hello)
	}

	if cfg.From == "" {
		bad("email.from is required")
	} else if a, err := mail.ParseAddress(cfg.From); err != nil {
		bad("email.from %q: %v", cfg.From, err)
	} else {
		c.from = a
	}
	if len(cfg.To) == 0 {
		bad("email.to needs at least one address")
	}
	for i, t := range cfg.To {
		a, err := mail.ParseAddress(t)
		if err != nil {
			bad("email.to[%d] %q: %v", i, t, err)
			continue
		}
		c.to = append(c.to, a)
	}

	subj, body := DefaultSubject, DefaultBody
	if tmpl != nil {
		if tmpl.Text != "" {
			bad("template.text is for slack and teams channels; email uses template.subject and template.body")
		}
		if tmpl.Subject != "" {
			subj = tmpl.Subject
		}
		if tmpl.Body != "" {
			body = tmpl.Body
		}
	}
	var err error
	if c.subject, err = channel.Compile("template.subject", subj, Escaper); err != nil {
		errs = append(errs, err)
	}
	if c.body, err = channel.Compile("template.body", body, Escaper); err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return c, nil
}

// checkAuth validates the AUTH options and sets c.auth, which builds the
// mechanism with the current password at each send.
func (c *Channel) checkAuth(cfg Config, bad func(string, ...any)) {
	mech := strings.ToLower(cfg.Auth)
	switch mech {
	case "":
		mech = AuthPlain
	case AuthPlain, AuthLogin, AuthXOAUTH2:
	default:
		bad("email.auth %q: want plain, login or xoauth2", cfg.Auth)
		return
	}
	if cfg.Username == "" {
		for key, set := range map[string]bool{"password_env": cfg.PasswordEnv != "", "password_file": cfg.PasswordFile != "", "auth": cfg.Auth != ""} {
			if set {
				bad("email.%s is set but email.username is not", key)
			}
		}
		return
	}
	var password func() (string, error)
	switch {
	case cfg.PasswordEnv != "" && cfg.PasswordFile != "":
		bad("email.password_env and email.password_file exclude each other")
		return
	case cfg.PasswordEnv != "":
		pw := os.Getenv(cfg.PasswordEnv)
		if pw == "" {
			bad("email.password_env: environment variable %s is empty or unset", cfg.PasswordEnv)
		}
		password = func() (string, error) { return pw, nil }
	case cfg.PasswordFile != "":
		file := cfg.PasswordFile
		password = func() (string, error) {
			b, err := os.ReadFile(file)
			pw := strings.TrimSpace(string(b))
			switch {
			case err != nil:
				return "", fmt.Errorf("email.password_file: %w", err)
			case pw == "":
				return "", fmt.Errorf("email.password_file %s is empty", file)
			}
			return pw, nil
		}
		if _, err := password(); err != nil {
			bad("%v", err)
		}
	default:
		bad("email.username needs email.password_env (the name of an environment variable holding the password) or email.password_file")
		return
	}
	c.mech = strings.ToUpper(mech)
	if !cfg.TLS && c.starttls != StartTLSRequired && !isLocal(cfg.Host) {
		// XOAUTH2 would not refuse by itself: only PLAIN and LOGIN check
		// for TLS at the moment they start.
		bad("email.username: AUTH %s would send the password in clear; use starttls: required or tls: true", c.mech)
	}
	user, host := cfg.Username, cfg.Host
	c.auth = func() (smtp.Auth, error) {
		pw, err := password()
		if err != nil {
			return nil, err
		}
		switch mech {
		case AuthLogin:
			return smtp.LoginAuth(user, pw, host, false), nil
		case AuthXOAUTH2:
			return smtp.XOAuth2Auth(user, pw), nil
		}
		return smtp.PlainAuth("", user, pw, host, false), nil
	}
}

func isLocal(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Name is the channel's configured name.
func (c *Channel) Name() string { return c.name }

// Send mails msgs as one message to every recipient. SMTP 4xx answers and
// network failures are transient; 5xx answers, a server without STARTTLS
// when it is required, and certificate failures are permanent.
func (c *Channel) Send(ctx context.Context, msgs []channel.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	data, err := c.compose(msgs, time.Now())
	if err != nil {
		return err
	}
	return c.deliver(ctx, data)
}

// compose renders the whole mail: headers, a blank line, the
// quoted-printable body.
func (c *Channel) compose(msgs []channel.Message, now time.Time) ([]byte, error) {
	subject, err := c.subject.Render(c.name, msgs)
	if err != nil {
		return nil, err
	}
	body, err := c.body.Render(c.name, msgs)
	if err != nil {
		return nil, err
	}
	subject = strings.TrimSpace(channel.Sanitize(subject, true))
	if utf8.RuneCountInString(subject) > 200 {
		subject = string([]rune(subject)[:199]) + "…"
	}
	if subject == "" {
		subject = "Riposte notification"
	}
	m := gomail.NewMsg(gomail.WithCharset("utf-8"), gomail.WithEncoding(gomail.EncodingQP), gomail.WithNoDefaultUserAgent())
	if err := m.From(c.from.String()); err != nil {
		return nil, channel.Permanent(fmt.Errorf("from: %w", err))
	}
	to := make([]string, len(c.to))
	for i, a := range c.to {
		to[i] = a.String()
	}
	if err := m.To(to...); err != nil {
		return nil, channel.Permanent(fmt.Errorf("to: %w", err))
	}
	// Our own encoding: go-mail leaves ASCII that looks like an encoded
	// word as it is, which a mail reader would then decode.
	m.SetGenHeaderPreformatted(gomail.HeaderSubject, EncodeHeader(subject))
	m.SetDateWithValue(now)
	m.SetMessageIDWithValue(messageID(c.from.Address, now))
	m.SetGenHeader("Auto-Submitted", "auto-generated")
	// A template author's own line breaks may be bare CR; the body is
	// text, so every break becomes CRLF.
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	m.SetBodyString(gomail.TypeTextPlain, body)
	var b bytes.Buffer
	if _, err := m.WriteTo(&b); err != nil {
		return nil, channel.Permanent(fmt.Errorf("composing the mail: %w", err))
	}
	return b.Bytes(), nil
}

// EncodeHeader encodes an unstructured header value with mime.QEncoding.
// Text that already looks like an encoded word ("=?") is encoded too, so
// that a mail reader shows it as it is rather than decoding it.
func EncodeHeader(s string) string {
	if !strings.Contains(s, "=?") {
		return mime.QEncoding.Encode("utf-8", s)
	}
	// mime only encodes text with non-ASCII or control characters; write
	// the encoded words here, splitting at rune boundaries.
	const max = 75 - len("=?utf-8?q??=")
	var words []string
	var w strings.Builder
	for _, r := range s {
		var enc string
		switch {
		case r == ' ':
			enc = "_"
		case r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("!*+-/", r)):
			enc = string(r)
		default:
			var buf [utf8.UTFMax]byte
			n := utf8.EncodeRune(buf[:], r)
			for _, x := range buf[:n] {
				enc += fmt.Sprintf("=%02X", x)
			}
		}
		if w.Len()+len(enc) > max {
			words = append(words, "=?utf-8?q?"+w.String()+"?=")
			w.Reset()
		}
		w.WriteString(enc)
	}
	if w.Len() > 0 {
		words = append(words, "=?utf-8?q?"+w.String()+"?=")
	}
	return strings.Join(words, "\r\n ")
}

func messageID(from string, now time.Time) string {
	domain := "riposte.invalid"
	if i := strings.LastIndexByte(from, '@'); i >= 0 && i < len(from)-1 {
		domain = from[i+1:]
	}
	var r [12]byte
	_, _ = rand.Read(r[:])
	return strconv.FormatInt(now.UnixNano(), 36) + "." + hex.EncodeToString(r[:]) + "@" + domain
}

// deliver runs one SMTP session. The connection's deadline follows ctx.
func (c *Channel) deliver(ctx context.Context, data []byte) (err error) {
	where := "smtp " + c.addr
	step := "connect"
	defer func() {
		if err != nil {
			err = classify(fmt.Errorf("%s: %s: %w", where, step, err), step)
		}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if c.implicit {
		step = "TLS handshake"
		tc := tls.Client(conn, c.tls)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		conn = tc
	}
	step = "greeting"
	cl, err := smtp.NewClient(conn, c.host)
	if err != nil {
		return err
	}
	defer cl.Close()
	step = "EHLO"
	if err := cl.Hello(c.hello); err != nil {
		return err
	}
	if !c.implicit && c.starttls != StartTLSOff {
		if ok, _ := cl.Extension("STARTTLS"); ok {
			step = "STARTTLS"
			if err := cl.StartTLS(c.tls); err != nil {
				return err
			}
		} else if c.starttls == StartTLSRequired {
			step = "STARTTLS"
			return errNoStartTLS
		}
	}
	if c.auth != nil {
		step = "AUTH " + c.mech
		ok, mechs := cl.Extension("AUTH")
		if !ok {
			return errNoAuth
		}
		if !offers(mechs, c.mech) {
			return fmt.Errorf("%w: it offers %s (set email.auth)", errNoMech, mechs)
		}
		a, err := c.auth()
		if err != nil {
			return channel.Permanent(err)
		}
		if err := cl.Auth(a); err != nil {
			return err
		}
	}
	step = "MAIL FROM"
	// go-mail's session writes the path as given: the brackets are ours.
	if err := cl.Mail("<" + c.from.Address + ">"); err != nil {
		return err
	}
	for _, a := range c.to {
		step = "RCPT TO " + a.Address
		if err := cl.Rcpt("<" + a.Address + ">"); err != nil {
			return err
		}
	}
	step = "DATA"
	w, err := cl.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	step = "QUIT"
	_ = cl.Quit()
	return nil
}

var (
	errNoStartTLS = errors.New("server does not offer STARTTLS and starttls is required")
	errNoAuth     = errors.New("server does not offer AUTH")
	errNoMech     = errors.New("server does not offer this AUTH mechanism")
)

// offers reports whether the AUTH extension's list names mech.
func offers(list, mech string) bool {
	for _, m := range strings.Fields(list) {
		if strings.EqualFold(m, mech) {
			return true
		}
	}
	return false
}

// classify marks SMTP 5xx answers and configuration mismatches permanent;
// 4xx answers and network failures stay transient.
func classify(err error, step string) error {
	var te *textproto.Error
	switch {
	case errors.As(err, &te):
		if te.Code >= 500 {
			return channel.Permanent(err)
		}
		return channel.Transient(err, 0)
	case errors.Is(err, errNoStartTLS), errors.Is(err, errNoAuth), errors.Is(err, errNoMech), channel.IsPermanent(err), channel.IsPermanentNetError(err):
		return channel.Permanent(err)
	case strings.HasPrefix(step, "AUTH"):
		// PLAIN and LOGIN refuse by themselves to send a password in clear or to
		// the wrong host: a configuration problem, unless the network
		// failed underneath.
		var ne net.Error
		if errors.As(err, &ne) || errors.Is(err, io.EOF) {
			return channel.Transient(err, 0)
		}
		return channel.Permanent(err)
	}
	return channel.Transient(err, 0)
}
