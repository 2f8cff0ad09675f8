package agent

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/internal/atomicfile"
)

// Identity is what enrollment gave this agent; kept 0600 in the data dir.
type Identity struct {
	AgentID    string             `json:"agent_id"`
	Key        ed25519.PrivateKey `json:"key"`
	Credential string             `json:"credential"`
	ServerKey  ed25519.PublicKey  `json:"server_key"`
	Server     string             `json:"server"`
	// NATSURL is the bus, or the NATS cluster's servers, comma-separated.
	NATSURL  string `json:"nats_url"`
	Hostname string `json:"hostname"`
	// NATSSeed is the agent's NATS user key, made here at enrollment (the
	// server sees only its public half); NATSJWT, the user JWT the server
	// signed for it when the agents connect to a NATS cluster.
	NATSSeed string `json:"nats_seed,omitempty"`
	NATSJWT  string `json:"nats_jwt,omitempty"`
}

const identityFile = "identity.json"

func loadIdentity(dir string) (*Identity, error) {
	b, err := os.ReadFile(filepath.Join(dir, identityFile))
	if err != nil {
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, identityFile), err)
	}
	if len(id.Key) != ed25519.PrivateKeySize || len(id.ServerKey) != ed25519.PublicKeySize || id.AgentID == "" {
		return nil, fmt.Errorf("%s: incomplete identity; remove it and enroll again", filepath.Join(dir, identityFile))
	}
	return &id, nil
}

func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	return atomicfile.Write(path, b, mode)
}

// Enroll trades a one-time token for an identity and saves it.
func Enroll(ctx context.Context, c *http.Client, server, token, hostname, dir string) (*Identity, error) {
	if token == "" {
		return nil, errors.New("not enrolled yet: give --enroll-token (create one with `riposte agent token create` on the server)")
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--server %q is not an http(s) URL", server)
	}
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		return nil, err
	}
	// A NATS user key of its own, in case the server's agents connect to
	// a NATS cluster that checks user JWTs: the seed stays on this host.
	nk, err := nkeys.CreateUser()
	if err != nil {
		return nil, err
	}
	nkPub, _ := nk.PublicKey()
	nkSeed, _ := nk.Seed()
	body, _ := json.Marshal(map[string]any{"token": token, "public_key": pub, "hostname": hostname, "nats_public_key": nkPub})
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimRight(server, "/")+"/api/v1/agents/enroll", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("enroll refused by %s: %s %s", server, resp.Status, strings.TrimSpace(string(rb)))
	}
	var er struct {
		AgentID    string            `json:"agent_id"`
		Credential string            `json:"credential"`
		ServerKey  ed25519.PublicKey `json:"server_key"`
		NATSURL    string            `json:"nats_url"`
		NATSJWT    string            `json:"nats_jwt"`
	}
	if err := json.Unmarshal(rb, &er); err != nil {
		return nil, fmt.Errorf("enroll: unreadable answer: %w", err)
	}
	id := &Identity{AgentID: er.AgentID, Key: priv, Credential: er.Credential, ServerKey: er.ServerKey, Server: server, NATSURL: er.NATSURL, Hostname: hostname}
	if er.NATSJWT != "" {
		id.NATSSeed, id.NATSJWT = string(nkSeed), er.NATSJWT
	}
	if len(id.ServerKey) != ed25519.PublicKeySize || id.AgentID == "" || id.NATSURL == "" {
		return nil, errors.New("enroll: incomplete answer from the server")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	b, _ := json.MarshalIndent(id, "", "  ")
	if err := writeFileAtomic(filepath.Join(dir, identityFile), b, 0o600); err != nil {
		return nil, err
	}
	return id, nil
}
