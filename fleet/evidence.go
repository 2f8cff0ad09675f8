package fleet

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/event"
)

// MaxEvidenceSize bounds one uploaded item.
const MaxEvidenceSize = 1 << 30

// Evidence is one stored item and its custody record.
type Evidence struct {
	ID          string    `json:"id"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	Name        string    `json:"name"`
	Agent       string    `json:"agent"`
	Hostname    string    `json:"hostname"`
	CommandID   string    `json:"command_id"`
	Incident    string    `json:"incident,omitempty"`
	RequestedBy string    `json:"requested_by"`
	CollectedAt time.Time `json:"collected_at"`
	StoredAt    time.Time `json:"stored_at"`
	path        string
}

// commandCtx is what the server knows of a collect command it sent:
// evidence is recorded against the server's own record of who asked and
// why, never against what the agent claims, and only while the command is
// pending, within a quota.
type commandCtx struct {
	incident, requester string
	at                  time.Time
	items               int
	bytes               int64
}

// Evidence quota of one command.
const (
	maxItemsPerCommand = 64
	maxBytesPerCommand = 4 << 30
)

// collectCtx reads the requester stamped into a collect command; other
// commands take no uploads.
func collectCtx(cmd json.RawMessage) (commandCtx, bool) {
	var c struct {
		Action string `json:"action"`
		Args   struct {
			X struct {
				Incident    string `json:"incident"`
				RequestedBy string `json:"requested_by"`
			} `json:"x-riposte"`
		} `json:"args"`
	}
	if json.Unmarshal(cmd, &c) != nil || c.Action != "investigate" {
		return commandCtx{}, false
	}
	return commandCtx{incident: c.Args.X.Incident, requester: c.Args.X.RequestedBy, at: time.Now()}, true
}

// doneCollecting closes a command's uploads once its result is in.
func (f *Fleet) doneCollecting(agentID, commandID string) {
	f.wmu.Lock()
	delete(f.ctxs, agentID+"/"+commandID)
	f.wmu.Unlock()
}

// ErrEvidence marks an upload refused for what it is (the API answers 4xx).
var ErrEvidence = errors.New("evidence refused")

// StoreEvidence keeps an item uploaded by an agent for one of its pending
// commands: the bytes are hashed as they arrive and must match the
// declared SHA-256; the file is stored by hash and its custody (agent,
// command, incident, who asked, when) recorded with an audit entry.
func (f *Fleet) StoreEvidence(ctx context.Context, agentID, commandID, name, sha string, size int64, sig []byte, r io.Reader) (Evidence, error) {
	a, ok := f.agent(agentID)
	if !ok {
		return Evidence{}, fmt.Errorf("%w: unknown agent", ErrEvidence)
	}
	if err := protocol.VerifyUpload(a.PublicKey, protocol.Upload{AgentID: agentID, CommandID: commandID, Name: name, SHA256: sha, Size: size}, sig); err != nil {
		return Evidence{}, fmt.Errorf("%w: upload signature: %w", ErrEvidence, err)
	}
	key := agentID + "/" + commandID
	f.wmu.Lock()
	cc, pending := f.ctxs[key]
	if pending && (cc.items >= maxItemsPerCommand || cc.bytes+size > maxBytesPerCommand) {
		f.wmu.Unlock()
		return Evidence{}, fmt.Errorf("%w: command %s is over its quota (%d items, %d bytes)", ErrEvidence, commandID, maxItemsPerCommand, int64(maxBytesPerCommand))
	}
	if pending {
		cc.items++
		cc.bytes += size
		f.ctxs[key] = cc
	}
	f.wmu.Unlock()
	if !pending {
		return Evidence{}, fmt.Errorf("%w: no collect command %s is pending for this agent", ErrEvidence, commandID)
	}
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return Evidence{}, fmt.Errorf("%w: name %q", ErrEvidence, name)
	}
	sha = strings.ToLower(sha)
	if b, err := hex.DecodeString(sha); err != nil || len(b) != sha256.Size {
		return Evidence{}, fmt.Errorf("%w: X-Riposte-SHA256 must be 64 hex characters", ErrEvidence)
	}
	blobs := f.Blobs()
	if blobs == nil {
		return Evidence{}, errors.New("no evidence store configured")
	}
	if size > MaxEvidenceSize {
		return Evidence{}, fmt.Errorf("%w: %d bytes declared (limit %d)", ErrEvidence, size, int64(MaxEvidenceSize))
	}
	// The store hashes the bytes as they arrive and keeps nothing that
	// does not match the declared hash and size.
	if err := blobs.Put(ctx, sha, size, r); errors.Is(err, blob.ErrMismatch) {
		return Evidence{}, fmt.Errorf("%w: %w", ErrEvidence, err)
	} else if err != nil {
		return Evidence{}, fmt.Errorf("store evidence: %w", err)
	}
	// Where the bytes are: the file, for the files store (as before);
	// the store and hash otherwise.
	dst := blobs.Kind() + ":" + sha
	if fs, ok := blobs.(*blob.Files); ok {
		dst = fs.Path(sha)
	}
	now := time.Now().UTC()
	e := Evidence{ID: event.NewID(now), SHA256: sha, Size: size, Name: name, Agent: agentID, Hostname: a.Hostname, CommandID: commandID,
		Incident: cc.incident, RequestedBy: cc.requester, CollectedAt: cc.at.UTC(), StoredAt: now, path: dst}
	err := f.o.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO evidence (id, sha256, size, name, agent_id, hostname, command_id, incident, requested_by, collected_at, stored_at, path)
			VALUES (?,?,?,?,?,?,?,?,?,?,?,?)`, e.ID, e.SHA256, e.Size, e.Name, e.Agent, e.Hostname, e.CommandID, e.Incident, e.RequestedBy,
			e.CollectedAt.UnixNano(), e.StoredAt.UnixNano(), dst); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"sha256": e.SHA256, "size": e.Size, "name": e.Name, "host": e.Hostname, "command": e.CommandID,
			"incident": e.Incident, "requested_by": e.RequestedBy})
		return audit.AppendTx(ctx, tx, "agent:"+agentID, "evidence.store", "evidence:"+e.ID, b)
	})
	return e, err
}

// ListEvidence lists stored evidence, of one incident when given.
func (f *Fleet) ListEvidence(ctx context.Context, incident string) ([]Evidence, error) {
	if incident == "" {
		return f.queryEvidence(ctx, "")
	}
	return f.queryEvidence(ctx, ` WHERE incident = ?`, incident)
}

func (f *Fleet) queryEvidence(ctx context.Context, where string, args ...any) ([]Evidence, error) {
	q := `SELECT id, sha256, size, name, agent_id, hostname, command_id, incident, requested_by, collected_at, stored_at, path FROM evidence`
	rows, err := f.o.DB.R.QueryContext(ctx, q+where+` ORDER BY stored_at`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Evidence
	for rows.Next() {
		var e Evidence
		var c, s int64
		if err := rows.Scan(&e.ID, &e.SHA256, &e.Size, &e.Name, &e.Agent, &e.Hostname, &e.CommandID, &e.Incident, &e.RequestedBy, &c, &s, &e.path); err != nil {
			return nil, err
		}
		e.CollectedAt, e.StoredAt = time.Unix(0, c).UTC(), time.Unix(0, s).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// SetBlobs sets where evidence bytes are kept: a store that needs the bus
// (NATS) comes after the fleet, which the bus's authentication needs.
func (f *Fleet) SetBlobs(s blob.Store) { f.blobs.Store(&s) }

// Blobs is where evidence bytes are kept (nil if nowhere).
func (f *Fleet) Blobs() blob.Store {
	if p := f.blobs.Load(); p != nil {
		return *p
	}
	return nil
}

// OpenEvidence opens a stored item after checking that its content still
// hashes to its record: an item altered at rest is refused, not served.
// The check reads the item once; the reader returned reads it again, and
// ends in an error instead of io.EOF if it changed in between.
func (f *Fleet) OpenEvidence(ctx context.Context, id string) (Evidence, io.ReadCloser, error) {
	found, err := f.queryEvidence(ctx, ` WHERE id = ?`, id)
	if err != nil {
		return Evidence{}, nil, err
	}
	if len(found) == 0 {
		return Evidence{}, nil, fmt.Errorf("evidence %s: %w", id, os.ErrNotExist)
	}
	e := found[0]
	blobs := f.Blobs()
	if blobs == nil {
		return e, nil, errors.New("no evidence store configured")
	}
	rc, _, err := blobs.Open(ctx, e.SHA256)
	if err != nil {
		return e, nil, err
	}
	h := sha256.New()
	n, err := io.Copy(h, rc)
	rc.Close()
	if err != nil {
		return e, nil, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.SHA256 || n != e.Size {
		return e, nil, fmt.Errorf("evidence %s was altered at rest: content hashes to %s (%d bytes), recorded %s (%d bytes)", id, got, n, e.SHA256, e.Size)
	}
	rc, _, err = blobs.Open(ctx, e.SHA256)
	if err != nil {
		return e, nil, err
	}
	return e, blob.Verified(rc, e.SHA256, e.Size), nil
}
