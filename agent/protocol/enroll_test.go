package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestEnrollment(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(nil)
	now := time.Now()

	secret, rec := NewEnrollmentToken(time.Hour)
	if len(secret) != 43 || strings.Contains(rec.Hash, secret) || rec.Hash != HashToken(secret) {
		t.Fatalf("secret %q rec %+v", secret, rec)
	}
	b, _ := json.Marshal(rec)
	if strings.Contains(string(b), secret) {
		t.Fatal("record contains the secret")
	}
	s2, _ := NewEnrollmentToken(time.Hour)
	if s2 == secret {
		t.Fatal("tokens repeat")
	}

	a, err := Enroll(&rec, secret, pub, "ws042.example", now)
	if err != nil {
		t.Fatal(err)
	}
	if !a.PublicKey.Equal(pub) || a.Hostname != "ws042.example" || !a.EnrolledAt.Equal(now) || a.TokenID != rec.ID {
		t.Fatalf("agent %+v", a)
	}
	if _, err := SubjectFor(a.ID); err != nil {
		t.Fatalf("agent id %q not subject-safe: %v", a.ID, err)
	}
	if !rec.Used || rec.AgentID != a.ID || !rec.UsedAt.Equal(now) {
		t.Fatalf("token not consumed: %+v", rec)
	}
	pub[0] ^= 1 // the record holds its own copy
	if a.PublicKey.Equal(pub) {
		t.Fatal("agent record aliases caller's key")
	}
	pub[0] ^= 1

	fresh := func() (string, TokenRecord) { return NewEnrollmentToken(time.Hour) }
	cases := []struct {
		name string
		run  func() error
		want error
	}{
		{"second use", func() error { _, err := Enroll(&rec, secret, pub, "h", now); return err }, ErrTokenUsed},
		{"expired", func() error { s, r := fresh(); _, err := Enroll(&r, s, pub, "h", r.Expires); return err }, ErrTokenExpired},
		{"wrong secret", func() error { _, r := fresh(); _, err := Enroll(&r, secret, pub, "h", now); return err }, ErrTokenInvalid},
		{"empty secret", func() error { _, r := fresh(); _, err := Enroll(&r, "", pub, "h", now); return err }, ErrTokenInvalid},
		{"corrupt record hash", func() error { s, r := fresh(); r.Hash = "zz"; _, err := Enroll(&r, s, pub, "h", now); return err }, ErrTokenInvalid},
		{"nil record", func() error { _, err := Enroll(nil, secret, pub, "h", now); return err }, ErrTokenInvalid},
		{"bad public key", func() error { s, r := fresh(); _, err := Enroll(&r, s, pub[:31], "h", now); return err }, ErrMalformed},
		{"empty hostname", func() error { s, r := fresh(); _, err := Enroll(&r, s, pub, "", now); return err }, ErrMalformed},
		{"control in hostname", func() error { s, r := fresh(); _, err := Enroll(&r, s, pub, "h\nx", now); return err }, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// A refused attempt does not consume the token.
	s, r := fresh()
	if _, err := Enroll(&r, s, pub, "", now); err == nil || r.Used {
		t.Fatalf("refused enrollment consumed token: %v %+v", err, r)
	}
	if _, err := Enroll(&r, s, pub, "h", now); err != nil {
		t.Fatal(err)
	}
}

func TestSubjectsAndPermissions(t *testing.T) {
	s, err := SubjectFor("a1b2")
	if err != nil || s.Command != "riposte.agent.a1b2.cmd" || s.Result != "riposte.agent.a1b2.result" {
		t.Fatalf("%+v %v", s, err)
	}
	p, err := NATSPermissions("a1b2")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Publish.Allow) != 2 || p.Publish.Allow[0] != s.Result || p.Publish.Allow[1] != s.Heartbeat ||
		len(p.Subscribe.Allow) != 1 || p.Subscribe.Allow[0] != s.Command {
		t.Fatalf("%+v", p)
	}
	b, _ := json.Marshal(p)
	if string(b) != `{"publish":{"allow":["riposte.agent.a1b2.result","riposte.agent.a1b2.hb"]},"subscribe":{"allow":["riposte.agent.a1b2.cmd"]}}` {
		t.Fatalf("json %s", b)
	}
	for _, bad := range []string{"", "*", ">", "a.b", "a b", "a>", "x*", strings.Repeat("a", 129), "é"} {
		if _, err := SubjectFor(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("SubjectFor(%q): %v", bad, err)
		}
		if _, err := NATSPermissions(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("NATSPermissions(%q): %v", bad, err)
		}
	}
}
