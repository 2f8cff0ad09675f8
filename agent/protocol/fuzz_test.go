package protocol

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"testing"
	"time"
)

// FuzzVerify: envelopes not produced by Sign with the server key never
// verify, and Verify never panics. Half the inputs start from a genuinely
// signed envelope and replace one field with fuzzed data; the result must
// verify only if that field is unchanged.
func FuzzVerify(f *testing.F) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	legit := Sign(priv, Envelope{AgentID: testAgent, CommandID: "cmd-1", IssuedAt: t0, Expires: t0.Add(time.Hour),
		Nonce: "00112233445566778899aabbccddeeff", Command: json.RawMessage(testCmd)})

	f.Add(uint8(0), testAgent, "cmd-1", int64(0), int64(3600), "00112233445566778899aabbccddeeff", []byte(testCmd), make([]byte, 64))
	f.Add(uint8(1), "", "", int64(-1), int64(0), "", []byte("{"), []byte{})
	f.Add(uint8(2), testAgent, "x", int64(1<<62), int64(-1<<62), "zz", []byte(`{"action":"deny"}`), legit.Sig)
	f.Add(uint8(3), testAgent, "cmd-1", int64(0), int64(3600), legit.Nonce, []byte(testCmd), legit.Sig[:32])

	f.Fuzz(func(t *testing.T, mode uint8, agent, cmdID string, issued, expires int64, nonce string, cmd, sig []byte) {
		var env Envelope
		if mode%2 == 0 {
			env = Envelope{AgentID: agent, CommandID: cmdID, IssuedAt: t0.Add(time.Duration(issued) * time.Second),
				Expires: t0.Add(time.Duration(expires) * time.Second), Nonce: nonce, Command: cmd, Sig: sig}
		} else {
			env = legit
			env.Sig = bytes.Clone(legit.Sig)
			switch mode / 2 % 7 {
			case 0:
				env.AgentID = agent
			case 1:
				env.CommandID = cmdID
			case 2:
				env.IssuedAt = t0.Add(time.Duration(issued))
			case 3:
				env.Expires = t0.Add(time.Hour + time.Duration(expires))
			case 4:
				env.Nonce = nonce
			case 5:
				env.Command = cmd
			case 6:
				env.Sig = sig
			}
		}
		for _, now := range []time.Time{t0, t0.Add(time.Minute)} {
			err := Verify(pub, env, testAgent, now, NewMemoryNonceCache(4))
			if err == nil && !sameEnvelope(env, legit) {
				t.Fatalf("forged envelope verified: %+v", env)
			}
			err = Verify(pub, env, env.AgentID, now, NewMemoryNonceCache(4))
			if err == nil && !sameEnvelope(env, legit) {
				t.Fatalf("forged envelope verified for its own agent id: %+v", env)
			}
		}
	})
}

func sameEnvelope(a, b Envelope) bool {
	return a.AgentID == b.AgentID && a.CommandID == b.CommandID && a.IssuedAt.Equal(b.IssuedAt) &&
		a.Expires.Equal(b.Expires) && a.Nonce == b.Nonce && bytes.Equal(a.Command, b.Command) && bytes.Equal(a.Sig, b.Sig)
}

// FuzzHeartbeat: a heartbeat read from the bus never verifies unless it is
// the signed one, whatever bytes arrive, and reading it never panics.
func FuzzHeartbeat(f *testing.F) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)
	legit := SignHeartbeat(priv, Heartbeat{AgentID: testAgent, Time: t0, Hostname: "web-1", Addresses: []string{"10.0.0.2"},
		OS: "linux", Version: "dev", Rules: []int64{1, 2}, Contained: 0})
	b, _ := json.Marshal(legit)
	f.Add(b)
	f.Add([]byte(`{"agent_id":"` + testAgent + `","rules":[1,2,3],"sig":"AAAA"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var h Heartbeat
		if json.Unmarshal(data, &h) != nil {
			return
		}
		err := VerifyHeartbeat(pub, h, testAgent)
		if err == nil {
			again, _ := json.Marshal(h)
			if !bytes.Equal(again, b) && !sameHeartbeat(h, legit) {
				t.Fatalf("a heartbeat that was not signed verified: %s", data)
			}
		}
	})
}

func sameHeartbeat(a, b Heartbeat) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y) || (a.AgentID == b.AgentID && a.Time.Equal(b.Time) && a.Hostname == b.Hostname &&
		a.OS == b.OS && a.Version == b.Version && a.Contained == b.Contained && len(a.Rules) == len(b.Rules) && bytes.Equal(a.Sig, b.Sig))
}
