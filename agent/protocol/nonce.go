package protocol

import (
	"container/heap"
	"errors"
	"fmt"
	"sync"
	"time"
)

// NonceCache remembers accepted nonces until their envelope expires.
// Implementations must be safe for concurrent use; the agent may provide a
// persistent one so that a restart does not reopen a replay window.
type NonceCache interface {
	// Add atomically checks and records nonce, to be remembered until
	// expires. It returns an error wrapping ErrReplay if nonce is already
	// recorded and not yet expired at now, and ErrNonceCacheFull if there is
	// no room. Any other error makes Verify refuse the envelope (it is
	// reported as ErrNonceCacheFull: the cache could not record it).
	Add(nonce string, expires, now time.Time) error
}

// DefaultNonceCacheSize is the bound used by NewMemoryNonceCache(0).
const DefaultNonceCacheSize = 100_000

// MemoryNonceCache is a bounded, in-memory NonceCache. Entries are evicted
// once expired (lazily, on Add). When the bound is reached and nothing has
// expired, Add refuses with ErrNonceCacheFull: it fails closed instead of
// forgetting a live nonce.
type MemoryNonceCache struct {
	mu    sync.Mutex
	max   int
	byKey map[string]*nonceEntry
	h     nonceHeap
}

type nonceEntry struct {
	nonce   string
	expires time.Time
	index   int
}

type nonceHeap []*nonceEntry

func (h nonceHeap) Len() int           { return len(h) }
func (h nonceHeap) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h nonceHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *nonceHeap) Push(x any) { e := x.(*nonceEntry); e.index = len(*h); *h = append(*h, e) }
func (h *nonceHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// NewMemoryNonceCache returns a cache holding at most max live nonces
// (DefaultNonceCacheSize if max <= 0).
func NewMemoryNonceCache(max int) *MemoryNonceCache {
	if max <= 0 {
		max = DefaultNonceCacheSize
	}
	return &MemoryNonceCache{max: max, byKey: make(map[string]*nonceEntry)}
}

// evict drops every entry whose expiry is at or before now. Verify refuses
// envelopes with now >= Expires, so such a nonce can no longer be replayed.
func (c *MemoryNonceCache) evict(now time.Time) {
	for len(c.h) > 0 && !c.h[0].expires.After(now) {
		e := heap.Pop(&c.h).(*nonceEntry)
		delete(c.byKey, e.nonce)
	}
}

// Add implements NonceCache.
func (c *MemoryNonceCache) Add(nonce string, expires, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evict(now)
	if _, ok := c.byKey[nonce]; ok {
		return fmt.Errorf("%w: nonce %s", ErrReplay, nonce)
	}
	if !expires.After(now) {
		return nil // already expired: nothing to remember
	}
	if len(c.byKey) >= c.max {
		return fmt.Errorf("%w: %d live nonces", ErrNonceCacheFull, len(c.byKey))
	}
	e := &nonceEntry{nonce: nonce, expires: expires}
	heap.Push(&c.h, e)
	c.byKey[nonce] = e
	return nil
}

// Len returns the number of nonces held (including expired entries not yet
// evicted).
func (c *MemoryNonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byKey)
}

// Entries returns the live nonces and their expiries at now, for a caller
// that persists the cache; Restore loads them back.
func (c *MemoryNonceCache) Entries(now time.Time) map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.evict(now)
	out := make(map[string]time.Time, len(c.byKey))
	for k, e := range c.byKey {
		out[k] = e.expires
	}
	return out
}

// Restore adds previously persisted entries (see Entries), skipping those
// expired at now. It stops with ErrNonceCacheFull at the bound.
func (c *MemoryNonceCache) Restore(entries map[string]time.Time, now time.Time) error {
	for n, exp := range entries {
		if err := c.Add(n, exp, now); err != nil && !isReplay(err) {
			return err
		}
	}
	return nil
}

func isReplay(err error) bool { return errors.Is(err, ErrReplay) }
