// Package email is the email notification channel: plain-text mail over
// SMTP with STARTTLS (or implicit TLS) and AUTH PLAIN.
package email

import (
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
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml an email channel reads.
//
//go:embed sample.conf
var SampleConfig string

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
	// Username enables AUTH PLAIN; the password is read from the
	// environment variable named by PasswordEnv, never from the file.
	Username    string `yaml:"username"`
	PasswordEnv string `yaml:"password_env"`
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
	auth     smtp.Auth
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

	switch {
	case cfg.Username != "" && cfg.PasswordEnv == "":
		bad("email.password_env is required with email.username (the name of an environment variable holding the password)")
	case cfg.Username == "" && cfg.PasswordEnv != "":
		bad("email.password_env is set but email.username is not")
	case cfg.Username != "":
		pw := os.Getenv(cfg.PasswordEnv)
		if pw == "" {
			bad("email.password_env: environment variable %s is empty or unset", cfg.PasswordEnv)
		}
		if !cfg.TLS && c.starttls != StartTLSRequired && !isLocal(cfg.Host) {
			bad("email.username: AUTH PLAIN would send the password in clear; use starttls: required or tls: true")
		}
		c.auth = smtp.PlainAuth("", cfg.Username, pw, cfg.Host)
	}

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
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", c.from.String())
	to := make([]string, len(c.to))
	for i, a := range c.to {
		to[i] = a.String()
	}
	header("To", strings.Join(to, ",\r\n "))
	header("Subject", EncodeHeader(subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID(c.from.Address, now))
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	// A template author's own line breaks may be bare CR; the body is
	// text, so every break becomes CRLF (quotedprintable does that for \n).
	body = strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\r", "\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = io.WriteString(qp, body)
	_ = qp.Close()
	return []byte(b.String()), nil
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
	return "<" + strconv.FormatInt(now.UnixNano(), 36) + "." + hex.EncodeToString(r[:]) + "@" + domain + ">"
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
		step = "AUTH"
		if ok, _ := cl.Extension("AUTH"); !ok {
			return errNoAuth
		}
		if err := cl.Auth(c.auth); err != nil {
			return err
		}
	}
	step = "MAIL FROM"
	if err := cl.Mail(c.from.Address); err != nil {
		return err
	}
	for _, a := range c.to {
		step = "RCPT TO " + a.Address
		if err := cl.Rcpt(a.Address); err != nil {
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
)

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
	case errors.Is(err, errNoStartTLS), errors.Is(err, errNoAuth), channel.IsPermanentNetError(err):
		return channel.Permanent(err)
	case step == "AUTH":
		// net/smtp refuses by itself to send a password in clear or to
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
