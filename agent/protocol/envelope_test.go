package protocol

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"testing"
	"time"
)

const (
	testAgent = "agent-ws042"
	testCmd   = `{"action":"deny","target":{"ipv4_net":"203.0.113.7/32"},"args":{"response_requested":"complete","duration":3600000,"slpf":{"direction":"both","drop_process":"none","insert_rule":70011}}}`
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)

func testEnv() Envelope {
	return NewEnvelope(testAgent, "cmd-1", json.RawMessage(testCmd), t0, 10*time.Minute)
}

func TestVerifyAccepts(t *testing.T) {
	priv := GenerateKey()
	pub := priv.Public().(ed25519.PublicKey)
	env := Sign(priv, testEnv())
	if err := Verify(pub, env, testAgent, t0.Add(time.Second), NewMemoryNonceCache(10)); err != nil {
		t.Fatalf("valid envelope refused: %v", err)
	}
	// JSON round trip (with re-indented command before signing) still verifies.
	e := testEnv()
	e.Command = json.RawMessage("{\n  \"action\": \"deny\", \"target\": {\"ipv4_net\": \"203.0.113.7/32\"}}")
	signed := Sign(priv, e)
	b, err := json.Marshal(signed)
	if err != nil {
		t.Fatal(err)
	}
	var back Envelope
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, back, testAgent, t0, NewMemoryNonceCache(10)); err != nil {
		t.Fatalf("round-tripped envelope refused: %v", err)
	}
	// Issued slightly in the future, within skew: accepted.
	e = testEnv()
	if err := Verify(pub, Sign(priv, e), testAgent, t0.Add(-ClockSkew), NewMemoryNonceCache(10)); err != nil {
		t.Fatalf("within skew refused: %v", err)
	}
}

func TestVerifyRefusals(t *testing.T) {
	priv := GenerateKey()
	pub := priv.Public().(ed25519.PublicKey)
	other := GenerateKey()
	now := t0.Add(time.Minute)

	cases := []struct {
		name string
		env  func() Envelope
		now  time.Time
		pub  ed25519.PublicKey
		want error
	}{
		{"forged signature (other key)", func() Envelope { return Sign(other, testEnv()) }, now, pub, ErrBadSignature},
		{"random signature", func() Envelope { e := Sign(priv, testEnv()); e.Sig = make([]byte, 64); return e }, now, pub, ErrBadSignature},
		{"short signature", func() Envelope { e := Sign(priv, testEnv()); e.Sig = e.Sig[:63]; return e }, now, pub, ErrBadSignature},
		{"missing signature", func() Envelope { e := testEnv(); return e }, now, pub, ErrBadSignature},
		{"tampered command", func() Envelope {
			e := Sign(priv, testEnv())
			e.Command = json.RawMessage(`{"action":"deny","target":{"ipv4_net":"0.0.0.0/0"}}`)
			return e
		}, now, pub, ErrBadSignature},
		{"tampered agent id", func() Envelope { e := Sign(priv, testEnv()); e.AgentID = "agent-x"; return e }, now, pub, ErrBadSignature},
		{"tampered command id", func() Envelope { e := Sign(priv, testEnv()); e.CommandID = "cmd-2"; return e }, now, pub, ErrBadSignature},
		{"tampered expiry", func() Envelope { e := Sign(priv, testEnv()); e.Expires = e.Expires.Add(time.Hour); return e }, now, pub, ErrBadSignature},
		{"tampered issued", func() Envelope { e := Sign(priv, testEnv()); e.IssuedAt = e.IssuedAt.Add(time.Nanosecond); return e }, now, pub, ErrBadSignature},
		{"tampered nonce", func() Envelope { e := Sign(priv, testEnv()); e.Nonce = NewNonce(); return e }, now, pub, ErrBadSignature},
		{"field boundary shift", func() Envelope {
			// "agent-ws042"+"cmd-1" vs "agent-ws042c"+"md-1": length prefixes keep them apart.
			e := Sign(priv, testEnv())
			e.AgentID, e.CommandID = testAgent+"c", "md-1"
			return e
		}, now, pub, ErrBadSignature},
		{"other agent's command", func() Envelope { e := testEnv(); e.AgentID = "agent-db7"; return Sign(priv, e) }, now, pub, ErrWrongAgent},
		{"expired", func() Envelope { return Sign(priv, testEnv()) }, t0.Add(10 * time.Minute), pub, ErrExpired},
		{"long expired", func() Envelope { return Sign(priv, testEnv()) }, t0.Add(48 * time.Hour), pub, ErrExpired},
		{"future dated", func() Envelope { return Sign(priv, testEnv()) }, t0.Add(-ClockSkew - time.Second), pub, ErrNotYetValid},
		{"invalid OpenC2 (bad cidr)", func() Envelope {
			e := testEnv()
			e.Command = json.RawMessage(`{"action":"deny","target":{"ipv4_net":"10.0.0.300/24"}}`)
			return Sign(priv, e)
		}, now, pub, ErrInvalidCommand},
		{"invalid OpenC2 (unknown action)", func() Envelope {
			e := testEnv()
			e.Command = json.RawMessage(`{"action":"nuke","target":{"ipv4_net":"10.0.0.0/24"}}`)
			return Sign(priv, e)
		}, now, pub, ErrInvalidCommand},
		{"invalid OpenC2 (not JSON)", func() Envelope { e := testEnv(); e.Command = json.RawMessage(`{`); return Sign(priv, e) }, now, pub, ErrInvalidCommand},
		{"empty command", func() Envelope { e := testEnv(); e.Command = nil; return Sign(priv, e) }, now, pub, ErrInvalidCommand},
		{"oversized command", func() Envelope {
			e := Sign(priv, testEnv())
			e.Command = make(json.RawMessage, MaxCommandSize+1)
			return e
		}, now, pub, ErrInvalidCommand},
		{"inverted window", func() Envelope { e := testEnv(); e.Expires = e.IssuedAt; return Sign(priv, e) }, t0.Add(-time.Second), pub, ErrMalformed},
		{"over-long lifetime", func() Envelope { e := testEnv(); e.Expires = e.IssuedAt.Add(MaxLifetime + 1); return Sign(priv, e) }, now, pub, ErrMalformed},
		{"bad nonce", func() Envelope { e := testEnv(); e.Nonce = "1234"; return Sign(priv, e) }, now, pub, ErrMalformed},
		{"uppercase nonce", func() Envelope { e := testEnv(); e.Nonce = "ABCDEF0123456789ABCDEF0123456789"; return Sign(priv, e) }, now, pub, ErrMalformed},
		{"bad command id", func() Envelope { e := testEnv(); e.CommandID = "a.b"; return Sign(priv, e) }, now, pub, ErrMalformed},
		{"empty command id", func() Envelope { e := testEnv(); e.CommandID = ""; return Sign(priv, e) }, now, pub, ErrMalformed},
		{"bad server key", func() Envelope { return Sign(priv, testEnv()) }, now, pub[:10], ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cache := NewMemoryNonceCache(10)
			err := Verify(tc.pub, tc.env(), testAgent, tc.now, cache)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if cache.Len() != 0 {
				t.Fatalf("refused envelope recorded its nonce")
			}
		})
	}
}

func TestVerifyReplay(t *testing.T) {
	priv := GenerateKey()
	pub := priv.Public().(ed25519.PublicKey)
	env := Sign(priv, testEnv())
	cache := NewMemoryNonceCache(10)
	if err := Verify(pub, env, testAgent, t0, cache); err != nil {
		t.Fatal(err)
	}
	err := Verify(pub, env, testAgent, t0.Add(time.Minute), cache)
	if !errors.Is(err, ErrReplay) {
		t.Fatalf("replay: got %v", err)
	}
	// After expiry the replay is refused as expired (and the nonce may go).
	err = Verify(pub, env, testAgent, env.Expires, cache)
	if !errors.Is(err, ErrExpired) {
		t.Fatalf("replay after expiry: got %v", err)
	}
	// Same command re-signed with a fresh nonce is a new command.
	e2 := testEnv()
	if err := Verify(pub, Sign(priv, e2), testAgent, t0, cache); err != nil {
		t.Fatalf("fresh nonce refused: %v", err)
	}
	// A nil cache fails closed.
	if err := Verify(pub, Sign(priv, testEnv()), testAgent, t0, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil cache: got %v", err)
	}
}

type failingCache struct{}

func (failingCache) Add(string, time.Time, time.Time) error { return errors.New("disk full") }

func TestVerifyCacheFailureFailsClosed(t *testing.T) {
	priv := GenerateKey()
	err := Verify(priv.Public().(ed25519.PublicKey), Sign(priv, testEnv()), testAgent, t0, failingCache{})
	if !errors.Is(err, ErrNonceCacheFull) {
		t.Fatalf("got %v", err)
	}
}

func TestSignFillsNonce(t *testing.T) {
	priv := GenerateKey()
	e := testEnv()
	e.Nonce = ""
	s := Sign(priv, e)
	if !checkHexLen(s.Nonce, NonceSize) {
		t.Fatalf("nonce %q", s.Nonce)
	}
	if a, b := NewNonce(), NewNonce(); a == b {
		t.Fatal("nonces repeat")
	}
}
