package eventstore

import (
	"context"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/event"
)

func ids(ws []event.Wire) []string {
	out := make([]string, len(ws))
	for i := range ws {
		out[i] = ws[i].ID
	}
	return out
}

func stored(t *testing.T, s *Store, id string) bool {
	t.Helper()
	var n int
	if err := s.db.R.QueryRow(`SELECT count(*) FROM events WHERE id = ?`, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

// A flood of newer events pushes the store over max_bytes: size-based
// pruning must take the oldest events that are not evidence, and leave the
// brute force an alert was raised on.
func TestPruneBySizeKeepsPinnedEvidence(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	attack := wires(200, now.Add(-3*time.Hour), "victim")
	if _, err := s.Insert(ctx, attack); err != nil {
		t.Fatal(err)
	}
	// The alert lists the first 20 failures (a correlation's K ids); the
	// other 180 are as old and not evidence.
	evidence := ids(attack[:20])
	a := alert.Alert{ID: event.NewID(now), Kind: alert.KindCorrelation, Detected: now.Add(-3 * time.Hour), EventIDs: evidence}
	if err := s.Pin(ctx, PinsFromAlerts([]alert.Alert{a}, now)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Insert(ctx, wires(5000, now.Add(-2*time.Hour), "flood")); err != nil {
		t.Fatal(err)
	}
	used, _ := s.usedBytes(ctx)
	limit := used / 2
	res, err := s.Prune(ctx, Retention{MaxBytes: limit, PinnedShare: 0.25}, now)
	if err != nil {
		t.Fatal(err)
	}
	if res.OverBytes != 0 || res.PinsExpired != 0 {
		t.Fatalf("Prune = %+v: want the bound met and no pin dropped", res)
	}
	if u, _ := s.usedBytes(ctx); u > limit {
		t.Fatalf("store uses %d bytes after pruning to %d", u, limit)
	}
	for _, id := range evidence {
		if !stored(t, s, id) {
			t.Fatalf("pinned event %s was pruned by size", id)
		}
	}
	for _, id := range ids(attack[20:]) {
		if stored(t, s, id) {
			t.Fatalf("unpinned old event %s kept while newer flood events were pruned", id)
		}
	}
	evs, _, _ := s.Find(ctx, Query{Host: "flood", From: now.Add(-2*time.Hour + 4999*time.Second)})
	if len(evs) != 1 {
		t.Fatal("the newest flood event was pruned")
	}
	// Age is the operator's choice: it removes evidence and pins alike.
	res, err = s.Prune(ctx, Retention{MaxAge: 150 * time.Minute}, now)
	if err != nil {
		t.Fatal(err)
	}
	if stored(t, s, evidence[0]) || res.PinsExpired != 20 {
		t.Fatalf("Prune by age = %+v: want the 20 pinned events and their pins gone", res)
	}
}

// An attacker whose flood raises alerts must not pin the whole store: pins
// past the share expire oldest first, and a store that cannot meet its
// bound because of pins says so.
func TestPinsAreBounded(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name      string
		share     float64
		limit     float64 // of the bytes the store uses
		wantOver  bool    // the bound cannot be met: everything left is pinned
		wantDrops bool
	}{
		{"share of a quarter", 0.25, 0.5, false, true},
		{"default share", 0, 0.5, false, true},
		{"everything may be pinned", 1, 0.9, true, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := open(t)
			ctx := context.Background()
			flood := wires(4000, now.Add(-time.Hour), "flood")
			if _, err := s.Insert(ctx, flood); err != nil {
				t.Fatal(err)
			}
			// One alert per event, raised in event order: every event is
			// evidence of something.
			var pins []Pin
			for i, id := range ids(flood) {
				pins = append(pins, Pin{EventID: id, AlertID: "a" + id, At: now.Add(-time.Hour + time.Duration(i)*time.Second)})
			}
			if err := s.Pin(ctx, pins); err != nil {
				t.Fatal(err)
			}
			used, _ := s.usedBytes(ctx)
			limit := int64(float64(used) * c.limit)
			res, err := s.Prune(ctx, Retention{MaxBytes: limit, PinnedShare: c.share}, now)
			if err != nil {
				t.Fatal(err)
			}
			share := c.share
			if share == 0 {
				share = DefaultPinnedShare
			}
			if budget := int64(float64(limit) * share); res.PinnedBytes > budget {
				t.Fatalf("pinned bytes %d above the share %d", res.PinnedBytes, budget)
			}
			if (res.PinsExpired > 0) != c.wantDrops {
				t.Fatalf("Prune = %+v: pins dropped %v, want %v", res, res.PinsExpired > 0, c.wantDrops)
			}
			if (res.OverBytes > 0) != c.wantOver {
				t.Fatalf("Prune = %+v: over the bound %v, want %v", res, res.OverBytes > 0, c.wantOver)
			}
			if c.wantOver {
				return
			}
			if u, _ := s.usedBytes(ctx); u > limit {
				t.Fatalf("store uses %d bytes after pruning to %d", u, limit)
			}
			// The newest pins win: the newest event stays, the oldest
			// lost its pin and went.
			if !stored(t, s, flood[len(flood)-1].ID) {
				t.Fatal("the most recently pinned event was pruned")
			}
			if stored(t, s, flood[0].ID) {
				t.Fatal("the oldest pin did not expire first")
			}
			if ok, _ := s.Pinned(ctx, flood[0].ID); ok {
				t.Fatal("the oldest event is still pinned")
			}
		})
	}
}

// A pin refreshed by a newer alert outlives older pins; a pin for an event
// not stored yet is kept until the event arrives.
func TestPinBeforeEventAndRefresh(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	ws := wires(1, now, "h")
	if err := s.Pin(ctx, []Pin{{EventID: ws[0].ID, AlertID: "a1", At: now}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Pin(ctx, []Pin{{EventID: ws[0].ID, AlertID: "a0", At: now.Add(-time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	var alertID string
	if err := s.db.R.QueryRow(`SELECT alert_id FROM pins WHERE event_id = ?`, ws[0].ID).Scan(&alertID); err != nil || alertID != "a1" {
		t.Fatalf("pin belongs to %q (%v), want the newer alert a1", alertID, err)
	}
	if _, err := s.Insert(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Pinned(ctx, ws[0].ID); !ok || err != nil {
		t.Fatalf("Pinned = %v, %v", ok, err)
	}
}
