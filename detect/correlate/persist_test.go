package correlate

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/storetest"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func ev(id string, at time.Duration, fields map[string]any) *event.Event {
	return &event.Event{ID: id, Time: t0.Add(at), Fields: fields}
}

func rows(t *testing.T, s *Store) []string {
	t.Helper()
	r, err := s.db.R.Query(`SELECT rule, grp FROM correlation_state ORDER BY rule, grp`)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var rule, grp string
		r.Scan(&rule, &grp)
		out = append(out, rule+"/"+grp)
	}
	return out
}

func TestStoreRows(t *testing.T) {
	ctx := context.Background()
	rules := []*Rule{
		mustParse(t, ec("keep", "[a]", "[u]")),
		mustParse(t, ec("drop", "[a]", "[u]")),
	}
	wall := t0
	opts := Options{MaxGroupsPerRule: 2, Now: func() time.Time { return wall }}
	e := NewEngine(rules, opts)
	path := storetest.TargetIn(t, t.TempDir(), "c.db")
	st, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	// Rows left by an earlier run that was not loaded are replaced by the
	// first (full) save.
	if _, err := st.db.W.Exec(`INSERT INTO correlation_state VALUES ('name:keep', '["old"]', 'x', '{}', 0)`); err != nil {
		t.Fatal(err)
	}
	e.Observe("", "a", ev("1", 0, map[string]any{"u": "x"}))
	e.Observe("", "a", ev("2", time.Second, map[string]any{"u": "y"}))
	if n, err := st.Save(ctx, e); err != nil || n != 4 {
		t.Fatalf("save: %d %v", n, err)
	}
	want := []string{`name:drop/["x"]`, `name:drop/["y"]`, `name:keep/["x"]`, `name:keep/["y"]`}
	if got := rows(t, st); !slices.Equal(got, want) {
		t.Fatalf("rows %v", got)
	}
	if n, _ := st.Save(ctx, e); n != 0 {
		t.Fatalf("nothing changed, saved %d", n)
	}
	// z evicts x (bound 2; x and y hold one event each, x is older); the
	// eviction deletes x's rows.
	e.Observe("", "a", ev("3", 2*time.Second, map[string]any{"u": "z"}))
	if n, err := st.Save(ctx, e); err != nil || n != 2 {
		t.Fatalf("save: %d %v", n, err)
	}
	want = []string{`name:drop/["y"]`, `name:drop/["z"]`, `name:keep/["y"]`, `name:keep/["z"]`}
	if got := rows(t, st); !slices.Equal(got, want) {
		t.Fatalf("rows %v", got)
	}
	// Reload without "drop": its rows go.
	e.Reload(rules[:1])
	st.Save(ctx, e)
	want = []string{`name:keep/["y"]`, `name:keep/["z"]`}
	if got := rows(t, st); !slices.Equal(got, want) {
		t.Fatalf("rows %v", got)
	}
	// Idle groups expire; their rows go.
	wall = t0.Add(time.Hour)
	e.Tick(wall)
	st.Save(ctx, e)
	if got := rows(t, st); len(got) != 0 {
		t.Fatalf("rows %v", got)
	}
}

func TestCheckpointCommit(t *testing.T) {
	e := NewEngine([]*Rule{mustParse(t, ec("c", "[a]", "[u]"))}, Options{})
	e.Observe("", "a", ev("1", 0, map[string]any{"u": "x"}))
	cp := e.Checkpoint()
	if !cp.Full || len(cp.Upserts) != 1 {
		t.Fatalf("%+v", cp)
	}
	// A change after the checkpoint was taken stays pending after Commit.
	e.Observe("", "a", ev("2", time.Minute+time.Second, map[string]any{"u": "x"}))
	e.Commit(cp)
	cp2 := e.Checkpoint()
	if cp2.Full || len(cp2.Upserts) != 1 {
		t.Fatalf("%+v", cp2)
	}
	// A checkpoint that was never committed is handed out again.
	cp3 := e.Checkpoint()
	if len(cp3.Upserts) != 1 {
		t.Fatalf("%+v", cp3)
	}
	e.Commit(cp3)
	if cp4 := e.Checkpoint(); !cp4.Empty() {
		t.Fatalf("%+v", cp4)
	}
}

func TestRestoreRejectsBadState(t *testing.T) {
	r := mustParse(t, ec("c", "[a]", "[u]"))
	e := NewEngine([]*Rule{r}, Options{})
	good := GroupState{Rule: r.Key(), Def: r.Fingerprint(), Group: `["x"]`,
		Data: []byte(`{"vals":["x"],"hwm":5,"wall":1,"reset":-1,"ents":[{"t":5,"m":1,"f":5,"id":"e1"},{"t":4,"m":8,"f":4}]}`)}
	states := []GroupState{
		good,
		{Rule: r.Key(), Def: "other", Group: `["y"]`, Data: good.Data},
		{Rule: "name:gone", Def: r.Fingerprint(), Group: `["x"]`, Data: good.Data},
		{Rule: r.Key(), Def: r.Fingerprint(), Group: `["x","z"]`, Data: []byte(`{"vals":["x","z"]}`)},
		{Rule: r.Key(), Def: r.Fingerprint(), Group: `["q"]`, Data: []byte(`{"vals":["x"]}`)},
		{Rule: r.Key(), Def: r.Fingerprint(), Group: `["q"]`, Data: []byte(`not json`)},
	}
	n, stale := e.Restore(states)
	if n != 1 || len(stale) != 5 {
		t.Fatalf("restored %d, stale %v", n, stale)
	}
	// The entry with a rule bit beyond the rule's one rule was dropped.
	c := e.corrs[0]
	if g := c.groups[`["x"]`]; g == nil || len(g.ents) != 1 || g.agg.n != 1 {
		t.Fatalf("%+v", g)
	}
}

// Load drops the records of correlations that are gone or were redefined
// while the process was down, and keeps the rest.
func TestLoadDeletesStale(t *testing.T) {
	ctx := context.Background()
	path := storetest.TargetIn(t, t.TempDir(), "c.db")
	st, err := OpenStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a, b, c := mustParse(t, ec("a1", "[a]", "[u]")), mustParse(t, ec("b1", "[a]", "[u]")), mustParse(t, ec("c1", "[a]", "[u]"))
	e := NewEngine([]*Rule{a, b, c}, Options{})
	e.Observe("", "a", ev("1", 0, map[string]any{"u": "x"}))
	if _, err := st.Save(ctx, e); err != nil {
		t.Fatal(err)
	}
	b2 := mustParse(t, "title: b1\nname: b1\ncorrelation: {type: event_count, rules: [a], group-by: [u], timespan: 2m, condition: {gte: 2}}")
	e2 := NewEngine([]*Rule{a, b2}, Options{})
	if n, err := st.Load(ctx, e2); err != nil || n != 1 {
		t.Fatalf("loaded %d: %v", n, err)
	}
	if got := rows(t, st); !slices.Equal(got, []string{`name:a1/["x"]`}) {
		t.Fatalf("rows %v", got)
	}
	// The restored group keeps counting.
	if hits := e2.Observe("", "a", ev("2", time.Second, map[string]any{"u": "x"})); len(hits) != 1 || hits[0].Rule != a {
		t.Fatalf("%v", hits)
	}
}

func TestChainedNumericValue(t *testing.T) {
	o := &obs{grp: map[string]string{"n": "12.5", "s": "x"}}
	if v, ok := o.num("n"); !ok || v != 12.5 {
		t.Fatal(v, ok)
	}
	if _, ok := o.num("s"); ok {
		t.Fatal("text is not a number")
	}
	if _, ok := o.num("missing"); ok {
		t.Fatal("absent is not a number")
	}
}
