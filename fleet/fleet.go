// Package fleet is the server's side of the host agents: one-time
// enrollment, each agent's own bus credential and permissions, signed
// commands and verified results, heartbeats that make each agent a host
// asset, and the loop that keeps every agent's firewall equal to the
// decisions Riposte holds (decision → OpenC2 command at once, and a full
// comparison at every heartbeat for what an offline agent missed).
package fleet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/internal/atomicfile"
	"github.com/riposte-soar/riposte/store"
)

// Options configure a Fleet.
type Options struct {
	DB        *store.DB
	Decisions *decision.Store
	// Key signs every command; its public half is given to agents at
	// enrollment.
	Key ed25519.PrivateKey
	// CommandTTL bounds how long a signed command stays valid (default
	// 5 minutes): a command captured on the wire is useless after it.
	CommandTTL time.Duration
	// OnHeartbeat is told of every verified heartbeat (the alarm
	// inventory makes the agent's host an asset).
	OnHeartbeat func(Agent)
	// ServerAddresses are the addresses an isolated host must still
	// reach (the agent adds the one it is connected to).
	ServerAddresses []string
	// Blobs keeps the bytes of uploaded evidence, by SHA-256 (files,
	// the NATS object store or PostgreSQL: evidence.store); nil keeps
	// them in files under EvidenceDir.
	Blobs blob.Store
	// EvidenceDir keeps uploaded evidence, by hash, when Blobs is nil.
	EvidenceDir string
	// Issuer, when set, signs each agent a user JWT for an external NATS
	// cluster that trusts Riposte, and tells the cluster of revocations
	// (natsauth.Authority); without it agents log in to the embedded bus
	// with their credential (Authenticator).
	Issuer Issuer
	Log    *slog.Logger
}

// Issuer signs agents' credentials for a NATS cluster and pushes the
// revocations to every server of it.
type Issuer interface {
	// AgentJWT signs agent id's user JWT for its NATS public key.
	AgentJWT(id, natsKey string) (string, error)
	// Push sends the revocations (NATS public key → Unix seconds) to every
	// server, returning the servers that confirmed.
	Push(ctx context.Context, revoked map[string]int64) ([]string, error)
}

// Agent is an enrolled agent as the server knows it.
type Agent struct {
	ID         string    `json:"id"`
	Hostname   string    `json:"hostname"`
	PublicKey  []byte    `json:"public_key"`
	EnrolledAt time.Time `json:"enrolled_at"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	Revoked    bool      `json:"revoked,omitempty"`
	Inventory
	credHash string
	hbAt     time.Time // last heartbeat acted on
	// natsKey is the agent's NATS user public key; revokedAt when it was
	// revoked.
	natsKey   string
	revokedAt time.Time
}

// Inventory is what the last heartbeat said.
type Inventory struct {
	Addresses []string `json:"addresses,omitempty"`
	OS        string   `json:"os,omitempty"`
	Version   string   `json:"version,omitempty"`
	Rules     []int64  `json:"rules,omitempty"`
	Contained int64    `json:"contained,omitempty"`
	// Mode is "gateway" for an agent enforcing in a router's forward
	// path ("" or "host": a host agent), Segments the networks it
	// declares behind it, Quarantined the segment quarantines it holds.
	Mode        string   `json:"mode,omitempty"`
	Segments    []string `json:"segments,omitempty"`
	Quarantined []int64  `json:"quarantined,omitempty"`
}

// Fleet manages the enrolled agents.
type Fleet struct {
	o       Options
	conn    *nats.Conn
	mu      sync.RWMutex
	agents  map[string]*Agent // by id
	wmu     sync.Mutex
	wait    map[string]waiter // by agent id + "/" + command id
	log     *slog.Logger
	sync    chan struct{}   // pending has agents to compare
	pending map[string]bool // agent ids whose decisions must be compared
	pushes  map[string]pushRec
	ctxs    map[string]commandCtx // pending commands, by agent id + "/" + command id
	// disconnect ends a user's bus sessions (the embedded bus's).
	disconnect func(user string) int
	// blobs keeps evidence bytes (Options.Blobs, or SetBlobs).
	blobs atomic.Pointer[blob.Store]
}

// New loads the enrolled agents.
func New(ctx context.Context, o Options) (*Fleet, error) {
	if len(o.Key) != ed25519.PrivateKeySize {
		return nil, errors.New("fleet: a signing key is required")
	}
	if o.CommandTTL == 0 {
		o.CommandTTL = 5 * time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	f := &Fleet{o: o, agents: map[string]*Agent{}, wait: map[string]waiter{}, ctxs: map[string]commandCtx{}, log: o.Log, sync: make(chan struct{}, 1), pending: map[string]bool{}}
	if o.Blobs == nil && o.EvidenceDir != "" {
		o.Blobs = &blob.Files{Dir: o.EvidenceDir}
	}
	if o.Blobs != nil {
		f.SetBlobs(o.Blobs)
	}
	rows, err := o.DB.R.QueryContext(ctx, `SELECT id, hostname, public_key, cred_hash, enrolled_at, last_seen, revoked_at, inventory, nats_key FROM agents`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var a Agent
		var enrolled, seen, revoked int64
		var inv string
		if err := rows.Scan(&a.ID, &a.Hostname, &a.PublicKey, &a.credHash, &enrolled, &seen, &revoked, &inv, &a.natsKey); err != nil {
			return nil, err
		}
		a.EnrolledAt = time.Unix(0, enrolled).UTC()
		if seen > 0 {
			a.LastSeen = time.Unix(0, seen).UTC()
		}
		a.Revoked = revoked > 0
		if a.Revoked {
			a.revokedAt = time.Unix(0, revoked)
		}
		_ = json.Unmarshal([]byte(inv), &a.Inventory)
		f.agents[a.ID] = &a
	}
	return f, rows.Err()
}

// SetDisconnect sets how a revoked agent's open bus session is ended.
func (f *Fleet) SetDisconnect(fn func(user string) int) { f.disconnect = fn }

// SetOnHeartbeat sets the function told of every verified heartbeat.
func (f *Fleet) SetOnHeartbeat(fn func(Agent)) { f.o.OnHeartbeat = fn }

// LoadOrCreateKey reads the server's command-signing key from path, making
// one (0600) on first start.
func LoadOrCreateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		seed, err := base64.StdEncoding.DecodeString(string(trimSpace(b)))
		if err != nil || len(seed) != ed25519.SeedSize {
			return nil, fmt.Errorf("%s: not an agent signing key (base64 of a 32-byte seed)", path)
		}
		return ed25519.NewKeyFromSeed(seed), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	k := protocol.GenerateKey()
	// fsync'd: agents enrolled after this start trust this key, and a key
	// lost to a power loss would be replaced by one they reject.
	if err := atomicfile.Write(path, []byte(base64.StdEncoding.EncodeToString(k.Seed())+"\n"), 0o600); err != nil {
		return nil, err
	}
	return k, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// CreateToken makes a one-time enrollment token valid for ttl; only its hash
// is stored.
func (f *Fleet) CreateToken(ctx context.Context, ttl time.Duration, actor string) (string, protocol.TokenRecord, error) {
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return "", protocol.TokenRecord{}, fmt.Errorf("token lifetime %v must be between 0 and 30 days", ttl)
	}
	secret, rec := protocol.NewEnrollmentToken(ttl)
	err := f.o.DB.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO agent_tokens (id, hash, created_at, expires_at, created_by) VALUES (?,?,?,?,?)`,
			rec.ID, rec.Hash, rec.CreatedAt.UnixNano(), rec.Expires.UnixNano(), actor); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]any{"expires": rec.Expires})
		return audit.AppendTx(ctx, tx, actor, "agent.token.create", "agent_token:"+rec.ID, b)
	})
	return secret, rec, err
}

// EnrollRequest is what a new agent sends once.
type EnrollRequest struct {
	Token     string `json:"token"`
	PublicKey []byte `json:"public_key"`
	Hostname  string `json:"hostname"`
	// NATSKey is the agent's NATS user public key (an nkey, "U..."): the
	// agent keeps its seed. A server whose agents connect to a NATS
	// cluster signs it a user JWT for this key.
	NATSKey string `json:"nats_public_key,omitempty"`
}

// EnrollResponse gives the agent its identity.
type EnrollResponse struct {
	AgentID string `json:"agent_id"`
	// Credential is the agent's bus password; the server keeps its hash.
	Credential string `json:"credential"`
	// ServerKey verifies the commands the agent will receive.
	ServerKey []byte `json:"server_key"`
	// NATSJWT is the agent's user JWT for the NATS cluster (with the seed
	// of NATSKey), when the server has an Issuer.
	NATSJWT string `json:"nats_jwt,omitempty"`
}

// ErrEnroll wraps every refused enrollment (the API answers 403).
var ErrEnroll = errors.New("enrollment refused")

// Enroll consumes a token and records a new agent, atomically: two agents
// racing with one token cannot both succeed.
func (f *Fleet) Enroll(ctx context.Context, req EnrollRequest, now time.Time) (EnrollResponse, error) {
	var resp EnrollResponse
	var a protocol.AgentRecord
	cred := make([]byte, 32)
	if _, err := rand.Read(cred); err != nil {
		return resp, err
	}
	credential := base64.RawURLEncoding.EncodeToString(cred)
	credHash := hashCred(credential)
	if f.o.Issuer != nil && !nkeys.IsValidPublicUserKey(req.NATSKey) {
		// Checked before the token is spent: an old agent can be upgraded
		// and enroll with the same token.
		return resp, fmt.Errorf("%w: %w: this server's agents connect to a NATS cluster and need a NATS user public key (nats_public_key); upgrade the agent", ErrEnroll, protocol.ErrMalformed)
	}
	natsKey, natsJWT := req.NATSKey, ""
	if !nkeys.IsValidPublicUserKey(natsKey) {
		// Kept only if it is one: a revocation list with a bad key in it
		// would make the NATS servers refuse the whole account update.
		natsKey = ""
	}
	err := f.o.DB.Tx(ctx, func(tx *sql.Tx) error {
		var rec protocol.TokenRecord
		var created, expires, used int64
		err := tx.QueryRowContext(ctx, `SELECT id, hash, created_at, expires_at, used_at, agent_id FROM agent_tokens WHERE hash = ?`,
			protocol.HashToken(req.Token)).Scan(&rec.ID, &rec.Hash, &created, &expires, &used, &rec.AgentID)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %w", ErrEnroll, protocol.ErrTokenInvalid)
		} else if err != nil {
			return err
		}
		rec.CreatedAt, rec.Expires = time.Unix(0, created), time.Unix(0, expires)
		if used > 0 {
			rec.Used, rec.UsedAt = true, time.Unix(0, used)
		}
		a, err = protocol.Enroll(&rec, req.Token, req.PublicKey, req.Hostname, now)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrEnroll, err)
		}
		// One live agent per host: commands for a host go to its agent,
		// so a second enrollment (a leaked token) must not take them.
		var other string
		err = tx.QueryRowContext(ctx, `SELECT id FROM agents WHERE lower(hostname) = lower(?) AND revoked_at = 0`, a.Hostname).Scan(&other)
		if err == nil {
			return fmt.Errorf("%w: host %s already has agent %s; revoke it first (riposte agent revoke %s)", ErrEnroll, a.Hostname, other, other)
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		r, err := tx.ExecContext(ctx, `UPDATE agent_tokens SET used_at = ?, agent_id = ? WHERE id = ? AND used_at = 0`, now.UnixNano(), a.ID, rec.ID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return fmt.Errorf("%w: %w", ErrEnroll, protocol.ErrTokenUsed)
		}
		if f.o.Issuer != nil {
			if natsJWT, err = f.o.Issuer.AgentJWT(a.ID, natsKey); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO agents (id, hostname, public_key, cred_hash, enrolled_at, nats_key) VALUES (?,?,?,?,?,?)`,
			a.ID, a.Hostname, []byte(a.PublicKey), credHash, now.UnixNano(), natsKey); err != nil {
			return err
		}
		b, _ := json.Marshal(map[string]string{"hostname": a.Hostname, "token": rec.ID})
		return audit.AppendTx(ctx, tx, "agent:"+a.ID, "agent.enroll", "agent:"+a.ID, b)
	})
	if err != nil {
		return resp, err
	}
	f.mu.Lock()
	f.agents[a.ID] = &Agent{ID: a.ID, Hostname: a.Hostname, PublicKey: a.PublicKey, EnrolledAt: now, credHash: credHash, natsKey: natsKey}
	f.mu.Unlock()
	return EnrollResponse{AgentID: a.ID, Credential: credential, ServerKey: f.o.Key.Public().(ed25519.PublicKey), NATSJWT: natsJWT}, nil
}

func hashCred(c string) string {
	h := sha256.Sum256([]byte(c))
	return hex.EncodeToString(h[:])
}

// checkCredential reports whether credential is agent id's, and the agent
// is not revoked.
func (f *Fleet) checkCredential(id, credential string) bool {
	f.mu.RLock()
	a := f.agents[id]
	f.mu.RUnlock()
	if a == nil || a.Revoked {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashCred(credential)), []byte(a.credHash)) == 1
}

// CheckCredential is checkCredential for HTTP uploads from agents.
func (f *Fleet) CheckCredential(id, credential string) bool { return f.checkCredential(id, credential) }

// ErrNotConfirmed is returned by Revoke when the agent is revoked in
// Riposte but not every NATS server of the cluster confirmed it; the
// revocations are pushed again until they do (natsauth.Authority.Keep).
var ErrNotConfirmed = errors.New("revocation not confirmed by every NATS server")

// Revoke stops an agent: its credential is refused from now on and its
// open bus connection is closed (on the embedded bus, or on every server
// of a NATS cluster through the Issuer). With an Issuer, revoking an agent
// already revoked pushes the revocations again.
func (f *Fleet) Revoke(ctx context.Context, id, actor string) error {
	now := time.Now()
	err := f.o.DB.Tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `UPDATE agents SET revoked_at = ? WHERE id = ? AND revoked_at = 0`, now.UnixNano(), id)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return fmt.Errorf("agent %s: not found or already revoked", id)
		}
		return audit.AppendTx(ctx, tx, actor, "agent.revoke", "agent:"+id, nil)
	})
	if err != nil {
		f.mu.RLock()
		a := f.agents[id]
		again := a != nil && a.Revoked && f.o.Issuer != nil
		f.mu.RUnlock()
		if !again {
			return err
		}
	} else {
		f.mu.Lock()
		if a := f.agents[id]; a != nil {
			a.Revoked, a.revokedAt = true, now
		}
		f.mu.Unlock()
	}
	if f.disconnect != nil {
		f.disconnect(AgentUser(id))
	}
	if f.o.Issuer != nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if _, err := f.o.Issuer.Push(pctx, f.Revocations()); err != nil {
			return fmt.Errorf("agent %s is revoked in Riposte but %w: %w", id, ErrNotConfirmed, err)
		}
	}
	return nil
}

// Revocations are the NATS user keys of the revoked agents, with the time
// (Unix seconds) from which the NATS servers must refuse them.
func (f *Fleet) Revocations() map[string]int64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := map[string]int64{}
	for _, a := range f.agents {
		if a.Revoked && a.natsKey != "" {
			// Rounded up: a JWT issued in the second of the revocation
			// (iat has seconds) is refused too.
			out[a.natsKey] = (a.revokedAt.UnixNano() + 999_999_999) / 1e9
		}
	}
	return out
}

// List returns the agents, by hostname.
func (f *Fleet) List() []Agent {
	f.mu.RLock()
	defer f.mu.RUnlock()
	out := make([]Agent, 0, len(f.agents))
	for _, a := range f.agents {
		out = append(out, *a)
	}
	sortAgents(out)
	return out
}

// ByHost returns the live (not revoked) agent of a host, the most recently
// seen if a host enrolled twice.
func (f *Fleet) ByHost(hostname string) (Agent, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var best *Agent
	for _, a := range f.agents {
		if a.Revoked || !equalFold(a.Hostname, hostname) {
			continue
		}
		if best == nil || a.LastSeen.After(best.LastSeen) {
			best = a
		}
	}
	if best == nil {
		return Agent{}, false
	}
	return *best, true
}

func (f *Fleet) agent(id string) (*Agent, bool) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	a, ok := f.agents[id]
	if !ok || a.Revoked {
		return nil, false
	}
	c := *a
	return &c, true
}
