package eventstore

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/storetest"
)

func wires(n int, t0 time.Time, host string) []event.Wire {
	msg := event.NewMessage(0)
	for i := 0; i < n; i++ {
		ts := t0.Add(time.Duration(i) * time.Second)
		e := event.Event{ID: event.NewID(ts), Time: ts, Received: ts, Host: host, Source: "http",
			LogSource: event.LogSource{Product: "linux", Service: "sshd"},
			Fields:    map[string]any{"user.name": fmt.Sprintf("user%d", i), "source.ip": "203.0.113.7", "event.outcome": "failure", "n": int64(i)},
			Raw:       []byte(fmt.Sprintf("Failed password for user%d from 203.0.113.7 port 22 ssh2 (100%% sure_)", i))}
		msg = event.AppendWire(msg, &e)
	}
	ws, err := event.DecodeMessage(msg)
	if err != nil {
		panic(err)
	}
	return ws
}

func open(t testing.TB) *Store {
	s, err := Open(storetest.TargetIn(t, t.TempDir(), "events.db"), "normal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestInsertIsIdempotentAndFindPages(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	ws := append(wires(50, t0, "web-1"), wires(50, t0, "web-2")...)
	if n, err := s.Insert(ctx, ws); err != nil || n != 100 {
		t.Fatalf("Insert = %d, %v", n, err)
	}
	if n, err := s.Insert(ctx, ws); err != nil || n != 0 {
		t.Fatalf("second Insert stored %d, want 0 (redelivery must not duplicate)", n)
	}
	cases := []struct {
		name string
		q    Query
		want int
	}{
		{"all", Query{}, 100},
		{"host", Query{Host: "web-1"}, 50},
		{"window", Query{From: t0.Add(10 * time.Second), To: t0.Add(20 * time.Second)}, 20},
		{"text in raw", Query{Text: "user7 "}, 2},
		{"text case-insensitive", Query{Text: "FAILED PASSWORD FOR USER13 "}, 2},
		{"text in fields", Query{Text: `"user.name":"user49"`}, 2},
		{"like wildcards are literal", Query{Text: "100%"}, 100},
		{"underscore literal", Query{Text: "sure_)"}, 100},
		{"percent does not match anything", Query{Text: "1%0"}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Page through with a small limit to exercise the cursor.
			q := c.q
			q.Limit = 7
			seen := map[string]bool{}
			for {
				evs, next, err := s.Find(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range evs {
					if seen[e.ID] {
						t.Fatalf("event %s on two pages", e.ID)
					}
					seen[e.ID] = true
				}
				if next == "" {
					break
				}
				q.After = next
			}
			if len(seen) != c.want {
				t.Fatalf("found %d, want %d", len(seen), c.want)
			}
		})
	}
	if _, _, err := s.Find(ctx, Query{After: "garbage"}); err == nil {
		t.Fatal("bad cursor accepted")
	}
}

func TestPruneByAgeAndSize(t *testing.T) {
	s := open(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	old := wires(100, now.Add(-48*time.Hour), "old")
	recent := wires(100, now.Add(-time.Hour), "new")
	if _, err := s.Insert(ctx, append(old, recent...)); err != nil {
		t.Fatal(err)
	}
	n, err := s.Prune(ctx, Retention{MaxAge: 24 * time.Hour}, now)
	if err != nil || n.Events != 100 {
		t.Fatalf("Prune by age removed %d, %v; want the 100 old events", n, err)
	}
	evs, _, _ := s.Find(ctx, Query{Host: "old"})
	if len(evs) != 0 {
		t.Fatalf("%d old events left", len(evs))
	}
	if _, err := s.Insert(ctx, wires(5000, now.Add(-30*time.Minute), "bulk")); err != nil {
		t.Fatal(err)
	}
	used, _ := s.usedBytes(ctx)
	limit := used / 2
	if _, err := s.Prune(ctx, Retention{MaxBytes: limit}, now); err != nil {
		t.Fatal(err)
	}
	if used2, _ := s.usedBytes(ctx); used2 > limit {
		t.Fatalf("store uses %d bytes after pruning to %d", used2, limit)
	}
	// The oldest go first: the newest event must still be there.
	evs, _, _ = s.Find(ctx, Query{Host: "bulk", From: now.Add(-30*time.Minute + 4999*time.Second)})
	if len(evs) != 1 {
		t.Fatalf("newest event pruned")
	}
}

func BenchmarkInsert1000(b *testing.B) {
	s := open(b)
	ctx := context.Background()
	t0 := time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ws := wires(1000, t0.Add(time.Duration(i)*time.Hour), "h")
		b.StartTimer()
		if _, err := s.Insert(ctx, ws); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "events/s")
}
