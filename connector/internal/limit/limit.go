// Package limit holds the bounds the built-in connectors share: cutting
// untrusted text to a size for traces and timelines, and a bounded set of
// idempotency keys already applied.
package limit

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// Command is the most bytes one Result.Commands line keeps: commands go to
// the run trace, and a value from an event must not fill it.
const Command = 1024

// Text cuts s to at most n bytes on a rune boundary and says how much was
// cut, so a reader knows the value is not whole.
func Text(s string, n int) string {
	if len(s) <= n {
		return s
	}
	suffix := "…[" + strconv.Itoa(len(s)) + " bytes, truncated]"
	cut := max(n-len(suffix), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// Keys is a bounded set of idempotency keys: when full, the oldest key is
// forgotten. It lives in memory only, so it dedups retries within one
// process, not across restarts.
type Keys struct {
	mu    sync.Mutex
	max   int
	set   map[string]struct{}
	order []string
	next  int
}

// NewKeys makes a set that remembers at most n keys (n < 1 means 1).
func NewKeys(n int) *Keys {
	n = max(n, 1)
	return &Keys{max: n, set: make(map[string]struct{}, n)}
}

// Has reports whether key was added and not yet forgotten.
func (k *Keys) Has(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.set[key]
	return ok
}

// Add remembers key; it reports false when key was already there.
func (k *Keys) Add(key string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.set[key]; ok {
		return false
	}
	if len(k.order) < k.max {
		k.order = append(k.order, key)
	} else {
		delete(k.set, k.order[k.next])
		k.order[k.next] = key
		k.next = (k.next + 1) % k.max
	}
	k.set[key] = struct{}{}
	return true
}

// Len is how many keys are remembered.
func (k *Keys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.set)
}

// Remove forgets key (a call that claimed it with Add and then failed).
func (k *Keys) Remove(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.set, key)
}
