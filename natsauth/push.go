package natsauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/jwt/v2"
	"github.com/nats-io/nats.go"
)

// Authority keeps the RIPOSTE account, with its revocations, on every
// server of the NATS cluster, through a system-account connection of its
// own.
type Authority struct {
	Keys *Keys
	url  string
	opts []nats.Option
	log  *slog.Logger

	mu  sync.Mutex
	sys *nats.Conn
	// pushMu orders pushes: a later push carries a later issue time, and
	// the servers keep the JWT issued last.
	pushMu sync.Mutex
}

// New returns the authority of the NATS servers at url (comma-separated
// list); opts are added to its connection (TLS).
func New(k *Keys, url string, log *slog.Logger, opts ...nats.Option) *Authority {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Authority{Keys: k, url: url, opts: opts, log: log}
}

// AgentJWT signs agent id's user JWT (Keys.AgentJWT); with Push, the
// Authority is the fleet's Issuer.
func (a *Authority) AgentJWT(id, natsKey string) (string, error) { return a.Keys.AgentJWT(id, natsKey) }

// Close closes the system connection.
func (a *Authority) Close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sys != nil {
		a.sys.Close()
		a.sys = nil
	}
}

func (a *Authority) conn() (*nats.Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.sys != nil && !a.sys.IsClosed() {
		return a.sys, nil
	}
	c, err := a.Keys.SystemCreds("riposte-authority", 0)
	if err != nil {
		return nil, err
	}
	opts := append([]nats.Option{nats.Name("riposte-authority"), nats.UserJWTAndSeed(c.JWT, c.Seed),
		nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond)}, a.opts...)
	nc, err := nats.Connect(a.url, opts...)
	if err != nil {
		return nil, fmt.Errorf("nats system account at %s: %w", a.url, err)
	}
	a.sys = nc
	return nc, nil
}

// gather publishes data to subj and collects the answers: until want of
// them arrived (want > 0), or, when want is 0, until none came for quiet.
func gather(ctx context.Context, nc *nats.Conn, subj string, data []byte, want int, quiet time.Duration) ([][]byte, error) {
	inbox := nc.NewRespInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest(subj, inbox, data); err != nil {
		return nil, err
	}
	var out [][]byte
	for want <= 0 || len(out) < want {
		wait := quiet
		if want > 0 || len(out) == 0 {
			dl, ok := ctx.Deadline()
			if !ok {
				dl = time.Now().Add(5 * time.Second)
			}
			wait = time.Until(dl)
		}
		if wait <= 0 {
			break
		}
		m, err := sub.NextMsg(wait)
		if errors.Is(err, nats.ErrTimeout) {
			break
		} else if err != nil {
			return out, err
		}
		out = append(out, m.Data)
	}
	return out, nil
}

type serverInfo struct {
	Name string `json:"name"`
	ID   string `json:"id"`
}

// Servers names every server of the cluster that answers a ping.
func (a *Authority) Servers(ctx context.Context) ([]string, error) {
	nc, err := a.conn()
	if err != nil {
		return nil, err
	}
	answers, err := gather(ctx, nc, "$SYS.REQ.SERVER.PING", nil, 0, 300*time.Millisecond)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, b := range answers {
		var r struct {
			Server serverInfo `json:"server"`
		}
		if json.Unmarshal(b, &r) == nil && r.Server.ID != "" {
			names = append(names, nameOf(r.Server))
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no NATS server answered a ping in the system account (is the cluster configured with `riposte nats config`?)")
	}
	sort.Strings(names)
	return names, nil
}

func nameOf(s serverInfo) string {
	if s.Name != "" {
		return s.Name
	}
	return s.ID
}

// Push signs the RIPOSTE account with revoked and sends it to every server
// of the cluster. It returns the servers that confirmed, and an error
// naming those that refused it or did not answer.
func (a *Authority) Push(ctx context.Context, revoked map[string]int64) ([]string, error) {
	a.pushMu.Lock()
	defer a.pushMu.Unlock()
	servers, err := a.Servers(ctx)
	if err != nil {
		return nil, err
	}
	acc, err := a.Keys.AccountJWT(revoked)
	if err != nil {
		return nil, err
	}
	nc, err := a.conn()
	if err != nil {
		return nil, err
	}
	answers, err := gather(ctx, nc, fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.UPDATE", a.Keys.AccountPublicKey()), []byte(acc), len(servers), 0)
	if err != nil {
		return nil, err
	}
	var ok, failed []string
	for _, b := range answers {
		var r struct {
			Server serverInfo `json:"server"`
			Data   *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"data"`
			Error *struct {
				Code        int    `json:"code"`
				Description string `json:"description"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			failed = append(failed, fmt.Sprintf("unreadable answer %q", b))
			continue
		}
		switch {
		case r.Error != nil:
			failed = append(failed, fmt.Sprintf("%s: %s", nameOf(r.Server), r.Error.Description))
		case r.Data != nil && r.Data.Message == "jwt update skipped":
			// A memory resolver that has not loaded the account yet: it
			// will read the preload, which lacks the revocations.
			failed = append(failed, fmt.Sprintf("%s: skipped the update (use the full resolver)", nameOf(r.Server)))
		default:
			ok = append(ok, nameOf(r.Server))
		}
	}
	sort.Strings(ok)
	if len(ok) < len(servers) {
		missing := len(servers) - len(ok) - len(failed)
		if missing > 0 {
			failed = append(failed, fmt.Sprintf("%d of %d servers did not answer", missing, len(servers)))
		}
		return ok, fmt.Errorf("account update confirmed by %d of %d NATS servers: %s", len(ok), len(servers), strings.Join(failed, "; "))
	}
	return ok, nil
}

// Held returns the revocations of the RIPOSTE account as each server that
// answers holds them (nil for a server that has no JWT for it).
func (a *Authority) Held(ctx context.Context) ([]jwt.RevocationList, error) {
	nc, err := a.conn()
	if err != nil {
		return nil, err
	}
	answers, err := gather(ctx, nc, fmt.Sprintf("$SYS.REQ.ACCOUNT.%s.CLAIMS.LOOKUP", a.Keys.AccountPublicKey()), nil, 0, 300*time.Millisecond)
	if err != nil {
		return nil, err
	}
	out := make([]jwt.RevocationList, 0, len(answers))
	for _, b := range answers {
		if len(b) == 0 {
			out = append(out, nil)
			continue
		}
		ac, err := jwt.DecodeAccountClaims(string(b))
		if err != nil {
			return nil, fmt.Errorf("a NATS server answered an unreadable account JWT: %w", err)
		}
		if ac.Issuer != pub(a.Keys.Operator) {
			return nil, fmt.Errorf("the NATS servers hold account %s signed by %s, not by this authority's operator %s", ac.Subject, ac.Issuer, pub(a.Keys.Operator))
		}
		if ac.Revocations == nil {
			ac.Revocations = jwt.RevocationList{}
		}
		out = append(out, ac.Revocations)
	}
	return out, nil
}

// Sync pushes the account when a server lacks one of the revocations, or
// answers for no account at all: a server that was down at a revocation,
// or two Riposte nodes that revoked at once and pushed lists each missing
// the other's. It reports whether it pushed.
func (a *Authority) Sync(ctx context.Context, revoked map[string]int64) (bool, error) {
	held, err := a.Held(ctx)
	if err != nil {
		return false, err
	}
	servers, err := a.Servers(ctx)
	if err != nil {
		return false, err
	}
	stale := len(held) < len(servers)
	for _, h := range held {
		for u, at := range revoked {
			if h == nil || h[u] < at {
				stale = true
			}
		}
	}
	if !stale {
		return false, nil
	}
	_, err = a.Push(ctx, revoked)
	return err == nil, err
}

// Keep runs Sync at once and then every interval until ctx ends, taking
// the revocations from revoked (the fleet's).
func (a *Authority) Keep(ctx context.Context, interval time.Duration, revoked func() map[string]int64) {
	for {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		pushed, err := a.Sync(sctx, revoked())
		cancel()
		if err != nil && ctx.Err() == nil {
			a.log.Warn("nats authority: the cluster's account is not up to date", "err", err)
		} else if pushed {
			a.log.Info("nats authority: account with its revocations pushed to the cluster")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(interval):
		}
	}
}
