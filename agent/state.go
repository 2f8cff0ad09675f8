package agent

import (
	"container/list"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
)

// containState is the isolation the agent holds; persisted so that a
// restart (or a flushed ruleset) brings it back.
type containState struct {
	Rule  int64     `json:"rule"`
	Allow []string  `json:"allow,omitempty"`
	Stop  time.Time `json:"stop,omitzero"`
	On    bool      `json:"on"`
}

func (s containState) active(now time.Time) bool {
	return s.On && (s.Stop.IsZero() || now.Before(s.Stop))
}

// allowed is what stays reachable: the permitted addresses and the server.
func (s containState) allowed(server []netip.Prefix) []netip.Prefix {
	out := append([]netip.Prefix(nil), server...)
	for _, a := range s.Allow {
		if p, err := netip.ParsePrefix(a); err == nil {
			out = append(out, p)
		}
	}
	return out
}

const containFile = "contain.json"

func (a *Agent) loadContain() error {
	b, err := os.ReadFile(filepath.Join(a.cfg.Data, containFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &a.cont)
}

// setContain records and applies an isolation state (zero: none).
func (a *Agent) setContain(s containState) error {
	b, _ := json.Marshal(s)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(a.cfg.Data, containFile), b, 0o600); err != nil {
		return err
	}
	a.cont = s
	return a.applyContainLocked(time.Now())
}

func (a *Agent) applyContainLocked(now time.Time) error {
	fw := a.enf.Firewall()
	if a.cont.active(now) {
		return fw.Contain(a.cont.allowed(a.serverNet))
	}
	return fw.Release()
}

// reconcileContain puts isolation back after a flush, and lifts it when
// its time is over.
func (a *Agent) reconcileContain() {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.cont.On && !a.cont.active(now) {
		a.log.Info("isolation expired", "rule", a.cont.Rule)
		a.cont = containState{}
		b, _ := json.Marshal(a.cont)
		_ = writeFileAtomic(filepath.Join(a.cfg.Data, containFile), b, 0o600)
	}
	on, err := a.enf.Firewall().Contained()
	if err != nil {
		a.log.Error("isolation state unreadable", "err", err)
		return
	}
	if on != a.cont.active(now) {
		if err := a.applyContainLocked(now); err != nil {
			a.log.Error("isolation not restored", "err", err)
		} else {
			a.log.Warn("isolation drifted from the held state: repaired", "contained", a.cont.active(now))
		}
	}
}

// replay is the persisted record of seen nonces and recent results: a
// command captured on the wire cannot be replayed after a restart, and a
// retried command id is answered from the record, not applied twice.
type replay struct {
	Nonces  map[string]time.Time `json:"nonces"`
	Results []protocol.Result    `json:"results"`
}

const replayFile = "replay.json"

func (a *Agent) loadNonces() error {
	b, err := os.ReadFile(filepath.Join(a.cfg.Data, replayFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var r replay
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	for _, res := range r.Results {
		a.results.put(res.CommandID, res)
	}
	return a.nonces.Restore(r.Nonces, time.Now())
}

func (a *Agent) saveNonces() {
	// Both the command loop and the host worker record answers; one
	// writer at a time keeps the newest snapshot last.
	a.saveMu.Lock()
	defer a.saveMu.Unlock()
	r := replay{Nonces: a.nonces.Entries(time.Now()), Results: a.results.all()}
	b, _ := json.Marshal(r)
	if err := writeFileAtomic(filepath.Join(a.cfg.Data, replayFile), b, 0o600); err != nil {
		a.log.Error("replay record not saved", "err", err)
	}
}

// resultCache keeps the last n results by command id.
type resultCache struct {
	mu  sync.Mutex
	max int
	ll  *list.List
	m   map[string]*list.Element
}

func newResultCache(n int) *resultCache {
	return &resultCache{max: n, ll: list.New(), m: map[string]*list.Element{}}
}

func (c *resultCache) get(id string) (protocol.Result, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		return e.Value.(protocol.Result), true
	}
	return protocol.Result{}, false
}

func (c *resultCache) put(id string, r protocol.Result) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.m[id]; ok {
		// A success stays: it carries the undo of what was done.
		if statusOf(e.Value.(protocol.Result)) != 200 {
			e.Value = r
		}
		return
	}
	c.m[id] = c.ll.PushBack(r)
	for c.ll.Len() > c.max {
		old := c.ll.Front()
		c.ll.Remove(old)
		delete(c.m, old.Value.(protocol.Result).CommandID)
	}
}

func (c *resultCache) all() []protocol.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]protocol.Result, 0, c.ll.Len())
	for e := c.ll.Front(); e != nil; e = e.Next() {
		out = append(out, e.Value.(protocol.Result))
	}
	return out
}

func splitLines(s string) []string { return strings.Split(s, "\n") }

func cutPrefix(s, p string) (string, bool) { return strings.CutPrefix(s, p) }

func trimQuotes(s string) string { return strings.Trim(strings.TrimSpace(s), `"'`) }

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func statusOf(r protocol.Result) int {
	var s struct {
		Status int `json:"status"`
	}
	_ = json.Unmarshal(r.Response, &s)
	return s.Status
}
