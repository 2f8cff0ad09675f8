package receiver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mail is one mail an SMTP server accepted.
type Mail struct {
	From string
	To   []string
	// Data is the message exactly as received between DATA and the final
	// dot (dot-stuffing undone).
	Data string
	TLS  bool
	User string
	// Mech is the SASL mechanism the client authenticated with.
	Mech string
}

// SMTP is a real SMTP server on 127.0.0.1: EHLO, STARTTLS (its
// certificate is in CAFile), AUTH PLAIN, LOGIN and XOAUTH2 once TLS is on,
// MAIL, RCPT, DATA, RSET, NOOP, QUIT.
type SMTP struct {
	// CAFile is the PEM of the server's self-signed certificate.
	CAFile string
	// User and Pass are the only credentials accepted; with User set,
	// MAIL needs AUTH first. With XOAUTH2, Pass is the bearer token.
	User, Pass string
	// Mechs are the AUTH mechanisms offered (default PLAIN); others are
	// refused with 504, as a server that does not know them would.
	Mechs []string
	// MailReply, when set, is the answer to every MAIL FROM ("451 4.3.0
	// try later", "550 5.7.1 no").
	MailReply string
	// DropAfterData closes the connection once a mail's data arrived,
	// without answering: the client cannot know whether it was accepted.
	DropAfterData bool
	// NoStartTLS leaves STARTTLS out of EHLO and refuses it, as a server
	// that cannot encrypt (or a downgrade) would.
	NoStartTLS bool

	ln  net.Listener
	cfg *tls.Config

	mu    sync.Mutex
	mails []Mail
}

// NewSMTP starts a server; it stops with the test. Set the exported
// fields before the first connection.
func NewSMTP(t testing.TB) *SMTP {
	t.Helper()
	cert, caPEM := selfSigned(t)
	s := &SMTP{CAFile: filepath.Join(t.TempDir(), "smtp-ca.pem"), cfg: &tls.Config{Certificates: []tls.Certificate{cert}}}
	if err := os.WriteFile(s.CAFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	go func() {
		for {
			conn, err := s.ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { s.session(conn) })
		}
	}()
	t.Cleanup(func() { s.ln.Close(); wg.Wait() })
	return s
}

// Port is the server's port on 127.0.0.1.
func (s *SMTP) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Mails returns the mails accepted, in order.
func (s *SMTP) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

// session speaks SMTP on one connection.
func (s *SMTP) session(conn net.Conn) {
	defer func() { conn.Close() }()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	st := &state{conn: conn, tp: textproto.NewConn(conn)}
	st.say("220 receiver.test ESMTP")
	for {
		line, err := st.tp.ReadLine()
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(line, " ")
		if !s.handle(st, strings.ToUpper(verb), arg) {
			return
		}
	}
}

type state struct {
	conn net.Conn
	tp   *textproto.Conn
	tls  bool
	user string
	mech string
	cur  *Mail
}

func (st *state) say(line string) { _ = st.tp.PrintfLine("%s", line) }

// handle answers one command; false ends the session.
func (s *SMTP) handle(st *state, verb, arg string) bool {
	switch verb {
	case "EHLO", "HELO":
		ext := []string{"receiver.test", "8BITMIME"}
		switch {
		case st.tls:
			ext = append(ext, "AUTH "+strings.Join(s.mechs(), " "))
		case !s.NoStartTLS:
			ext = append(ext, "STARTTLS")
		}
		for i, e := range ext {
			if i < len(ext)-1 {
				st.say("250-" + e)
			} else {
				st.say("250 " + e)
			}
		}
	case "STARTTLS":
		if st.tls || s.NoStartTLS {
			st.say("503 5.5.1 no TLS here")
			return true
		}
		st.say("220 2.0.0 ready")
		tc := tls.Server(st.conn, s.cfg)
		if tc.Handshake() != nil {
			return false
		}
		*st = state{conn: tc, tp: textproto.NewConn(tc), tls: true}
	case "AUTH":
		st.say(s.auth(st, arg))
	case "MAIL":
		switch {
		case s.User != "" && st.user == "":
			st.say("530 5.7.0 authentication required")
		case s.MailReply != "":
			st.say(s.MailReply)
		default:
			st.cur = &Mail{From: between(arg, "<", ">"), TLS: st.tls, User: st.user, Mech: st.mech}
			st.say("250 2.1.0 ok")
		}
	case "RCPT":
		if st.cur == nil {
			st.say("503 5.5.1 MAIL first")
			return true
		}
		st.cur.To = append(st.cur.To, between(arg, "<", ">"))
		st.say("250 2.1.5 ok")
	case "DATA":
		if st.cur == nil || len(st.cur.To) == 0 {
			st.say("503 5.5.1 RCPT first")
			return true
		}
		st.say("354 end with <CRLF>.<CRLF>")
		b, err := io.ReadAll(st.tp.DotReader())
		if err != nil {
			return false
		}
		st.cur.Data = string(b)
		s.mu.Lock()
		s.mails = append(s.mails, *st.cur)
		s.mu.Unlock()
		st.cur = nil
		if s.DropAfterData {
			return false
		}
		st.say("250 2.0.0 queued")
	case "RSET", "NOOP":
		if verb == "RSET" {
			st.cur = nil
		}
		st.say("250 2.0.0 ok")
	case "QUIT":
		st.say("221 2.0.0 bye")
		return false
	default:
		st.say("502 5.5.2 not implemented")
	}
	return true
}

func (s *SMTP) mechs() []string {
	if len(s.Mechs) == 0 {
		return []string{"PLAIN"}
	}
	return s.Mechs
}

// auth runs an AUTH exchange (RFC 4954) with PLAIN, LOGIN or XOAUTH2.
func (s *SMTP) auth(st *state, arg string) string {
	mech, initial, _ := strings.Cut(arg, " ")
	mech = strings.ToUpper(mech)
	offered := false
	for _, m := range s.mechs() {
		offered = offered || strings.EqualFold(m, mech)
	}
	if !st.tls || !offered {
		return "504 5.5.4 " + strings.Join(s.mechs(), ", ") + " over TLS only"
	}
	// ask sends a challenge and returns the decoded answer; ok is false
	// when the client cancelled ("*") or sent no base64.
	ask := func(challenge string) (string, bool) {
		st.say("334 " + base64.StdEncoding.EncodeToString([]byte(challenge)))
		line, err := st.tp.ReadLine()
		if err != nil || line == "*" {
			return "", false
		}
		b, err := base64.StdEncoding.DecodeString(line)
		return string(b), err == nil
	}
	decode := func(b64 string) (string, bool) {
		b, err := base64.StdEncoding.DecodeString(b64)
		return string(b), err == nil
	}
	var user, pass string
	switch mech {
	case "PLAIN":
		resp, ok := decode(initial)
		if initial == "" {
			resp, ok = ask("")
		}
		f := strings.Split(resp, "\x00")
		if !ok || len(f) != 3 {
			return "501 5.5.2 malformed PLAIN response"
		}
		user, pass = f[1], f[2]
	case "LOGIN":
		var ok bool
		if initial != "" {
			user, ok = decode(initial)
		} else {
			user, ok = ask("Username:")
		}
		if ok {
			pass, ok = ask("Password:")
		}
		if !ok {
			return "501 5.5.2 malformed LOGIN response"
		}
	case "XOAUTH2":
		resp, ok := decode(initial)
		if initial == "" {
			resp, ok = ask("")
		}
		// user=NAME^Aauth=Bearer TOKEN^A^A
		for _, kv := range strings.Split(resp, "\x01") {
			if v, found := strings.CutPrefix(kv, "user="); found {
				user = v
			}
			if v, found := strings.CutPrefix(kv, "auth=Bearer "); found {
				pass = v
			}
		}
		if ok && (user != s.User || pass != s.Pass) {
			// The error comes as a challenge the client answers with an
			// empty line before the final 535, as Gmail does.
			st.say("334 " + base64.StdEncoding.EncodeToString([]byte(`{"status":"401","schemes":"bearer"}`)))
			if _, err := st.tp.ReadLine(); err != nil {
				return "535 5.7.8 bad token"
			}
		}
	}
	if user != s.User || pass != s.Pass {
		return "535 5.7.8 bad credentials"
	}
	st.user = user
	st.mech = mech
	return "235 2.7.0 ok"
}

func between(s, open, close string) string {
	_, rest, ok := strings.Cut(s, open)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, close)
	return v
}

// selfSigned makes a day-long certificate for 127.0.0.1 and localhost.
func selfSigned(t testing.TB) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "receiver.test"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
