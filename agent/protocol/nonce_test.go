package protocol

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestNonceCacheEvictsAfterExpiry(t *testing.T) {
	c := NewMemoryNonceCache(10)
	if err := c.Add("a", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("b", t0.Add(time.Hour), t0); err != nil {
		t.Fatal(err)
	}
	if err := c.Add("a", t0.Add(time.Minute), t0.Add(59*time.Second)); !errors.Is(err, ErrReplay) {
		t.Fatalf("replay before expiry: %v", err)
	}
	// At a's expiry it is evicted; b stays.
	if err := c.Add("c", t0.Add(2*time.Hour), t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if c.Len() != 2 {
		t.Fatalf("len %d, want 2", c.Len())
	}
	if err := c.Add("a", t0.Add(2*time.Minute), t0.Add(time.Minute)); err != nil {
		t.Fatalf("a after its expiry: %v", err)
	}
	if err := c.Add("b", t0.Add(time.Hour), t0.Add(30*time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("b still live: %v", err)
	}
	ents := c.Entries(t0.Add(90 * time.Minute))
	if len(ents) != 1 || !ents["c"].Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("entries %v", ents)
	}
	// Already-expired nonce is not stored.
	if err := c.Add("old", t0, t0.Add(time.Second)); err != nil || c.Len() > 1 {
		t.Fatalf("expired add: err %v len %d", err, c.Len())
	}
}

func TestNonceCacheBound(t *testing.T) {
	c := NewMemoryNonceCache(3)
	for i := range 3 {
		if err := c.Add(fmt.Sprint(i), t0.Add(time.Duration(i+1)*time.Minute), t0); err != nil {
			t.Fatal(err)
		}
	}
	// Full with live nonces: fail closed, never forget a live nonce.
	if err := c.Add("x", t0.Add(time.Hour), t0); !errors.Is(err, ErrNonceCacheFull) {
		t.Fatalf("full: %v", err)
	}
	if err := c.Add("0", t0.Add(time.Minute), t0); !errors.Is(err, ErrReplay) {
		t.Fatalf("live nonce forgotten: %v", err)
	}
	// Once the earliest expires there is room again.
	if err := c.Add("x", t0.Add(time.Hour), t0.Add(time.Minute)); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
	if c.Len() != 3 {
		t.Fatalf("len %d", c.Len())
	}
	if NewMemoryNonceCache(0).max != DefaultNonceCacheSize {
		t.Fatal("default size")
	}
}

func TestNonceCacheRestore(t *testing.T) {
	c := NewMemoryNonceCache(10)
	_ = c.Add("a", t0.Add(time.Hour), t0)
	_ = c.Add("b", t0.Add(time.Minute), t0)
	saved := c.Entries(t0)
	d := NewMemoryNonceCache(10)
	if err := d.Restore(saved, t0.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 1 {
		t.Fatalf("restored %d, want 1 (b expired)", d.Len())
	}
	if err := d.Add("a", t0.Add(time.Hour), t0.Add(2*time.Minute)); !errors.Is(err, ErrReplay) {
		t.Fatalf("restored nonce not remembered: %v", err)
	}
}

func TestNonceCacheConcurrent(t *testing.T) {
	c := NewMemoryNonceCache(1000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Add("same", t0.Add(time.Hour), t0) == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d goroutines accepted the same nonce", ok)
	}
}
