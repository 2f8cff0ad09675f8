package eventstore

import (
	"context"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/pgtest"
	"github.com/riposte-soar/riposte/internal/storetest"
)

// The event store's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestInsertIsIdempotentAndFindPages, TestPruneByAgeAndSize, TestPruneBySizeKeepsPinnedEvidence,
		TestPinsAreBounded, TestPinBeforeEventAndRefresh)
}

func TestEventSchemasAgree(t *testing.T) {
	// PostgreSQL's events are partitioned: the partition key joins the
	// primary key, and the default partition is a table of its own.
	storetest.SchemasAgree(t, Schema, "events_default.")
}

func openPG(t *testing.T) *Store {
	t.Helper()
	s, err := Open(pgtest.URL(t), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// partitionsOf lists the events table's partitions and their row counts.
func partitionsOf(t *testing.T, s *Store) map[string]int {
	t.Helper()
	rows, err := s.db.R.Query(`SELECT tableoid::regclass::text, count(*) FROM events GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			t.Fatal(err)
		}
		out[name] = n
	}
	var parts int
	if err := s.db.R.QueryRow(`SELECT count(*) FROM pg_inherits WHERE inhparent = 'events'::regclass`).Scan(&parts); err != nil {
		t.Fatal(err)
	}
	out["#partitions"] = parts
	return out
}

// On PostgreSQL events land in the partition of their day; retention by
// age drops the days wholly past it and deletes the rest of the cut's day.
func TestPostgresDaysArePartitionsDroppedByAge(t *testing.T) {
	s := openPG(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour)
	for _, c := range []struct {
		at   time.Time
		host string
	}{{now.Add(-72 * time.Hour), "d3"}, {now.Add(-48 * time.Hour), "d2"}, {now.Add(-time.Hour), "d0"}} {
		if _, err := s.Insert(ctx, wires(50, c.at, c.host)); err != nil {
			t.Fatal(err)
		}
	}
	got := partitionsOf(t, s)
	if got["#partitions"] != 4 || got[partName(now.Add(-72*time.Hour).UnixNano()/day)] != 50 || got["events_default"] != 0 {
		t.Fatalf("partitions %v: want three days of 50 events and the default", got)
	}
	// 54 h: the day 72 h ago goes whole, the one 48 h ago is cut into
	// (its events are 48 h + up to 50 s old: all past the cut too).
	res, err := s.Prune(ctx, Retention{MaxAge: 47 * time.Hour}, now)
	if err != nil || res.Events != 100 {
		t.Fatalf("Prune = %+v, %v; want 100 events gone", res, err)
	}
	got = partitionsOf(t, s)
	if got["#partitions"] != 3 {
		t.Fatalf("partitions after pruning %v: want the oldest day dropped", got)
	}
	if n, _ := s.Count(ctx); n != 50 {
		t.Fatalf("%d events left, want the 50 recent ones", n)
	}
	// An event of a dropped day arriving late is stored again.
	if _, err := s.Insert(ctx, wires(1, now.Add(-72*time.Hour), "late")); err != nil {
		t.Fatal(err)
	}
	if evs, _, _ := s.Find(ctx, Query{Host: "late"}); len(evs) != 1 {
		t.Fatalf("late event found %d times", len(evs))
	}
}

// Timestamps far from now (forged, or a wrong clock) create no partition
// per day: they go to the default partition, and move to their day's
// partition when it is created.
func TestPostgresFarTimesGoToTheDefaultPartition(t *testing.T) {
	s := openPG(t)
	ctx := context.Background()
	var far []time.Time
	for y := 1971; y < 2200; y += 7 {
		far = append(far, time.Date(y, 6, 1, 0, 0, 0, 0, time.UTC))
	}
	for _, at := range far {
		if _, err := s.Insert(ctx, wires(1, at, "forged")); err != nil {
			t.Fatal(err)
		}
	}
	ahead := time.Now().Add(5 * 24 * time.Hour)
	if _, err := s.Insert(ctx, wires(3, ahead, "ahead")); err != nil {
		t.Fatal(err)
	}
	got := partitionsOf(t, s)
	if got["#partitions"] != 1 || got["events_default"] != len(far)+3 {
		t.Fatalf("partitions %v: want only the default, holding all %d events", got, len(far)+3)
	}
	d := ahead.UnixNano() / day
	if err := s.ensureDay(ctx, d); err != nil {
		t.Fatal(err)
	}
	got = partitionsOf(t, s)
	if got[partName(d)] != 3 || got["events_default"] != len(far) {
		t.Fatalf("partitions %v: want the 3 events of %s moved to its new partition", got, partName(d))
	}
	if evs, _, _ := s.Find(ctx, Query{Host: "ahead"}); len(evs) != 3 {
		t.Fatalf("found %d of the 3 moved events", len(evs))
	}
}

// Text search ignores ASCII case and takes %, _ and \ literally on both.
func TestTextSearchAgrees(t *testing.T) {
	storetest.Each(t, func(t *testing.T, target string) {
		s, err := Open(target, "normal")
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		ctx := context.Background()
		ws := wires(3, time.Now().Add(-time.Hour), "h")
		ws[0].Raw = []byte(`C:\Users\bob logged ON`)
		ws[1].Raw = []byte(`100% done_ok`)
		ws[2].Raw = []byte("binary \x01\xff tail")
		if _, err := s.Insert(ctx, ws); err != nil {
			t.Fatal(err)
		}
		for text, want := range map[string]int{`users\BOB`: 1, `logged on`: 1, `100%`: 1, `0% done_`: 1, `n_`: 0, `tail`: 1, `nothing`: 0} {
			evs, _, err := s.Find(ctx, Query{Text: text})
			if err != nil || len(evs) != want {
				t.Errorf("Find(%q) = %d events, %v; want %d", text, len(evs), err, want)
			}
		}
	})
}
