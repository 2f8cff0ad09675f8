package agent

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/hostops"
	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/openc2"
)

// hostAdapter runs host operations and hands their undo back to the
// server inside results["x-riposte"].undo, so recovery can reverse them.
type hostAdapter struct{ h *hostops.Host }

// NewHostOps makes the host operations from their configuration.
func NewHostOps(cfg hostops.Config) (HostOps, error) {
	h, err := hostops.New(cfg)
	if err != nil {
		return nil, err
	}
	return hostAdapter{h}, nil
}

func (a hostAdapter) Handle(ctx context.Context, cmd *openc2.Command, m Meta) Outcome {
	o := a.h.Handle(ctx, cmd, hostops.Meta{CommandID: m.CommandID, Requester: m.Requester, Incident: m.Incident, Now: m.Now})
	rsp := o.Response
	x := map[string]any{}
	if raw, ok := rsp.Results["x-riposte"]; ok {
		_ = json.Unmarshal(raw, &x)
	}
	x["verified"] = o.Verified
	if len(o.Undo) > 0 {
		x["undo"] = o.Undo
	}
	if rsp.Results == nil {
		rsp.Results = map[string]json.RawMessage{}
	}
	if b, err := json.Marshal(x); err == nil && rsp.Status != 0 {
		rsp.Results["x-riposte"] = b
	}
	out := Outcome{Response: rsp}
	for _, e := range o.Evidence {
		out.Staged = append(out.Staged, Staged{Item: protocol.EvidenceItem{Name: e.Name, SHA256: e.SHA256, Size: e.Size}, Path: e.Path})
	}
	return out
}

func (a hostAdapter) Pairs() map[string][]string { return a.h.Pairs() }

// Staged is a file collected as evidence, waiting for upload.
type Staged struct {
	Item protocol.EvidenceItem
	Path string
}

// upload sends staged evidence to the server, which checks each file
// against its hash and records its custody. The result is signed only
// after every item is stored, so the server never holds a result naming
// evidence it does not have.
func (a *Agent) upload(ctx context.Context, commandID string, items []Staged) error {
	c := a.http
	for _, s := range items {
		f, err := os.Open(s.Path)
		if err != nil {
			return fmt.Errorf("evidence %s: %w", s.Item.Name, err)
		}
		u := strings.TrimRight(a.id.Server, "/") + "/api/v1/agents/evidence?" + url.Values{"command": {commandID}, "name": {s.Item.Name}}.Encode()
		req, err := http.NewRequestWithContext(ctx, "PUT", u, f)
		if err != nil {
			f.Close()
			return err
		}
		req.ContentLength = s.Item.Size
		req.SetBasicAuth("agent-"+a.id.AgentID, a.id.Credential)
		req.Header.Set("X-Riposte-SHA256", s.Item.SHA256)
		sig := protocol.SignUpload(a.id.Key, protocol.Upload{AgentID: a.id.AgentID, CommandID: commandID, Name: s.Item.Name, SHA256: s.Item.SHA256, Size: s.Item.Size})
		req.Header.Set("X-Riposte-Signature", base64.StdEncoding.EncodeToString(sig))
		resp, err := c.Do(req)
		f.Close()
		if err != nil {
			return fmt.Errorf("evidence %s: upload: %w", s.Item.Name, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
			return fmt.Errorf("evidence %s: upload refused: %s %s", s.Item.Name, resp.Status, bytes.TrimSpace(body))
		}
	}
	return nil
}

// firewallEvidence writes the host's nftables state as an evidence file.
func (a *Agent) firewallEvidence(commandID string) (openc2.Response, []Staged) {
	st, err := a.enf.Firewall().State()
	if err != nil {
		return respond(500, "nftables: "+err.Error(), nil), nil
	}
	contained, _ := a.enf.Firewall().Contained()
	a.mu.Lock()
	cont := a.cont
	a.mu.Unlock()
	doc := map[string]any{"collected_at": time.Now().UTC(), "host": a.id.Hostname, "table": "inet " + a.cfg.Table, "kernel": st,
		"held": a.enf.Active(), "isolation_table_present": contained, "isolation_held": cont}
	b, _ := json.MarshalIndent(doc, "", "  ")
	dir := filepath.Join(a.cfg.Data, "evidence", commandID)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return respond(500, err.Error(), nil), nil
	}
	p := filepath.Join(dir, "nftables-state.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return respond(500, err.Error(), nil), nil
	}
	item := protocol.EvidenceItem{Name: "nftables-state.json", SHA256: sha256Hex(b), Size: int64(len(b))}
	return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "rules": len(st), "contained": contained}}),
		[]Staged{{Item: item, Path: p}}
}
