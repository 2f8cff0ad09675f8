package protocol

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func testResult() Result {
	h := sha256.Sum256([]byte("pcap"))
	return Result{
		AgentID:   testAgent,
		CommandID: "cmd-1",
		Response:  json.RawMessage(`{"status":200,"results":{"slpf":{"rule_number":70011}}}`),
		Evidence:  []EvidenceItem{{Name: "capture.pcap", SHA256: hex.EncodeToString(h[:]), Size: 4}},
	}
}

func TestResultSignature(t *testing.T) {
	_, agentPriv, _ := ed25519.GenerateKey(nil)
	agentPub := agentPriv.Public().(ed25519.PublicKey)
	_, otherPriv, _ := ed25519.GenerateKey(nil)

	good := SignResult(agentPriv, testResult())
	if err := VerifyResult(agentPub, good, testAgent); err != nil {
		t.Fatalf("valid result refused: %v", err)
	}
	b, _ := json.Marshal(good)
	var back Result
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyResult(agentPub, back, testAgent); err != nil {
		t.Fatalf("round-tripped result refused: %v", err)
	}

	cases := []struct {
		name string
		r    func() Result
		want error
	}{
		{"signed by another agent's key", func() Result { return SignResult(otherPriv, testResult()) }, ErrBadSignature},
		{"unsigned", func() Result { return testResult() }, ErrBadSignature},
		{"tampered response", func() Result {
			r := SignResult(agentPriv, testResult())
			r.Response = json.RawMessage(`{"status":500}`)
			return r
		}, ErrBadSignature},
		{"tampered evidence hash", func() Result {
			r := SignResult(agentPriv, testResult())
			r.Evidence[0].SHA256 = "00" + r.Evidence[0].SHA256[2:]
			return r
		}, ErrBadSignature},
		{"tampered evidence size", func() Result { r := SignResult(agentPriv, testResult()); r.Evidence[0].Size++; return r }, ErrBadSignature},
		{"dropped evidence", func() Result { r := SignResult(agentPriv, testResult()); r.Evidence = nil; return r }, ErrBadSignature},
		{"tampered command id", func() Result { r := SignResult(agentPriv, testResult()); r.CommandID = "cmd-2"; return r }, ErrBadSignature},
		{"claims another agent", func() Result { r := testResult(); r.AgentID = "agent-db7"; return SignResult(agentPriv, r) }, ErrWrongAgent},
		{"invalid OpenC2 response", func() Result {
			r := testResult()
			r.Response = json.RawMessage(`{"status":999}`)
			return SignResult(agentPriv, r)
		}, ErrInvalidResponse},
		{"bad evidence hash", func() Result { r := testResult(); r.Evidence[0].SHA256 = "xyz"; return SignResult(agentPriv, r) }, ErrMalformed},
		{"negative evidence size", func() Result { r := testResult(); r.Evidence[0].Size = -1; return SignResult(agentPriv, r) }, ErrMalformed},
		{"empty evidence name", func() Result { r := testResult(); r.Evidence[0].Name = ""; return SignResult(agentPriv, r) }, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := VerifyResult(agentPub, tc.r(), testAgent); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if err := VerifyResult(nil, good, testAgent); !errors.Is(err, ErrMalformed) {
		t.Fatalf("nil key: %v", err)
	}
}

// A command signature must never pass as a result signature and vice versa
// (domain separation), even with the same key.
func TestDomainSeparation(t *testing.T) {
	priv := GenerateKey()
	pub := priv.Public().(ed25519.PublicKey)
	env := Sign(priv, testEnv())
	r := testResult()
	r.Sig = env.Sig
	if err := VerifyResult(pub, r, testAgent); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("got %v", err)
	}
}

func TestHeartbeat(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	h := SignHeartbeat(priv, Heartbeat{AgentID: "a1", Time: time.Unix(1700000000, 5), Hostname: "web-1",
		Addresses: []string{"10.0.0.2"}, OS: "linux", Version: "dev", Rules: []int64{3, 9}})
	if err := VerifyHeartbeat(pub, h, "a1"); err != nil {
		t.Fatal(err)
	}
	if err := VerifyHeartbeat(pub, h, "a2"); !errors.Is(err, ErrWrongAgent) {
		t.Errorf("other agent: %v", err)
	}
	tampered := h
	tampered.Rules = []int64{3}
	if err := VerifyHeartbeat(pub, tampered, "a1"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("dropped rule: %v", err)
	}
	tampered = h
	tampered.Contained = 7
	if err := VerifyHeartbeat(pub, tampered, "a1"); !errors.Is(err, ErrBadSignature) {
		t.Errorf("contained flipped: %v", err)
	}
}

func TestUploadSignature(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	u := Upload{AgentID: "a1", CommandID: "c1", Name: "auth.log", SHA256: strings.Repeat("ab", 32), Size: 10}
	sig := SignUpload(priv, u)
	if err := VerifyUpload(pub, u, sig); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Upload{{AgentID: "a2", CommandID: "c1", Name: "auth.log", SHA256: u.SHA256, Size: 10},
		{AgentID: "a1", CommandID: "c2", Name: "auth.log", SHA256: u.SHA256, Size: 10},
		{AgentID: "a1", CommandID: "c1", Name: "other", SHA256: u.SHA256, Size: 10},
		{AgentID: "a1", CommandID: "c1", Name: "auth.log", SHA256: strings.Repeat("cd", 32), Size: 10},
		{AgentID: "a1", CommandID: "c1", Name: "auth.log", SHA256: u.SHA256, Size: 11}} {
		if err := VerifyUpload(pub, bad, sig); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%+v verified", bad)
		}
	}
}

// TestGatewayHeartbeat: a gateway's mode, segments and quarantines are
// signed; a host agent's heartbeat signs the same bytes as before they
// existed, so agents of earlier versions still verify.
func TestGatewayHeartbeat(t *testing.T) {
	_, priv, _ := ed25519.GenerateKey(nil)
	pub := priv.Public().(ed25519.PublicKey)
	base := Heartbeat{AgentID: "a1", Time: time.Unix(1700000000, 5), Hostname: "edge-1", Addresses: []string{"10.0.0.1"}, Rules: []int64{3}}
	if strings.Contains(string(base.signedBytes()), tagGateway) {
		t.Fatal("a host heartbeat signs the gateway fields")
	}
	gw := base
	gw.Mode, gw.Segments, gw.Quarantined = "gateway", []string{"10.1.0.0/24"}, []int64{12}
	h := SignHeartbeat(priv, gw)
	if err := VerifyHeartbeat(pub, h, "a1"); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*Heartbeat){
		"mode dropped":       func(x *Heartbeat) { x.Mode = "" },
		"segment widened":    func(x *Heartbeat) { x.Segments = []string{"10.0.0.0/8"} },
		"quarantine dropped": func(x *Heartbeat) { x.Quarantined = nil },
		"quarantine added":   func(x *Heartbeat) { x.Quarantined = []int64{12, 13} },
	} {
		x := h
		mut(&x)
		if err := VerifyHeartbeat(pub, x, "a1"); !errors.Is(err, ErrBadSignature) {
			t.Errorf("%s: %v", name, err)
		}
	}
	for name, mut := range map[string]func(*Heartbeat){
		"bad mode":    func(x *Heartbeat) { x.Mode = "router" },
		"bad segment": func(x *Heartbeat) { x.Segments = []string{"10.1.0.0"} },
	} {
		x := gw
		mut(&x)
		x = SignHeartbeat(priv, x)
		if err := VerifyHeartbeat(pub, x, "a1"); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
