package console

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// TestLiveCatchesUpWithAPageDrawnBeforeAChange: a change that lands between
// drawing a page and its stream connecting still reaches the page.
func TestLiveCatchesUpWithAPageDrawnBeforeAChange(t *testing.T) {
	var v atomic.Value
	v.Store("1")
	h := newHub(func(context.Context) (string, error) { return v.Load().(string), nil })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.run(ctx, 10*time.Millisecond)
	waitUntil(t, func() bool { return h.current() == "1" })
	drawnAt := h.current()
	v.Store("2") // the run finishes while the page loads
	waitUntil(t, func() bool { return h.current() == "2" })
	ch, ok := h.subscribe(drawnAt)
	if !ok {
		t.Fatal("subscribe refused")
	}
	select {
	case got := <-ch:
		if got != "2" {
			t.Fatalf("told of version %q, want 2", got)
		}
	case <-time.After(time.Second):
		t.Fatal("a page drawn before the change was not told of it")
	}
	// A page drawn at the current version hears nothing until the next change.
	ch2, _ := h.subscribe("2")
	select {
	case got := <-ch2:
		t.Fatalf("an up-to-date page was told of %q", got)
	case <-time.After(50 * time.Millisecond):
	}
	v.Store("3")
	select {
	case <-ch2:
	case <-time.After(time.Second):
		t.Fatal("the next change did not reach the page")
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 2s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
