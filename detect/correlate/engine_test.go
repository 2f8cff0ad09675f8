package correlate

import (
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
)

func TestEventTimeFallback(t *testing.T) {
	now := t0.Add(time.Hour)
	e := NewEngine([]*Rule{mustParse(t, ec("c", "[a]", "[u]"))}, Options{Now: func() time.Time { return now }})
	e.Observe("", "a", &event.Event{ID: "r", Received: t0.Add(time.Minute), Fields: map[string]any{"u": "x"}})
	hits := e.Observe("", "a", &event.Event{ID: "n", Fields: map[string]any{"u": "x"}})
	if len(hits) != 0 {
		t.Fatalf("received %v and now %v are an hour apart: %v", t0.Add(time.Minute), now, hits)
	}
	hits = e.Observe("", "a", &event.Event{ID: "n2", Time: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), Fields: map[string]any{"u": "x"}})
	if len(hits) != 1 || !hits[0].WindowEnd.Equal(now) {
		t.Fatalf("%v", hits)
	}
	if e.Observe("", "a", nil) != nil || e.Observe("", "other", ev("x", 0, nil)) != nil {
		t.Fatal("hits from nothing")
	}
}

func TestHandBuiltRule(t *testing.T) {
	r := &Rule{Name: "h", Title: "h", Type: Temporal, Rules: []string{"a", "b"}, GroupBy: []string{"u"},
		Timespan: time.Minute, Expr: "a and b"}
	bad := &Rule{Name: "bad", Title: "bad", Type: "value_percentile", Rules: []string{"a"}, Timespan: time.Minute}
	e := NewEngine([]*Rule{r, bad}, Options{})
	if len(e.Rejected()) != 1 || len(e.Rules()) != 1 {
		t.Fatalf("rejected %v", e.Rejected())
	}
	e.Observe("", "a", ev("1", 0, map[string]any{"u": "x"}))
	if hits := e.Observe("", "b", ev("2", time.Second, map[string]any{"u": "x"})); len(hits) != 1 {
		t.Fatalf("%v", hits)
	}
}

// One event matching two references of a correlation (its id and its name)
// whose aliases read different fields lands in the group of each.
func TestAliasedSplit(t *testing.T) {
	r := mustParse(t, "title: t\nname: t\ncorrelation: {type: event_count, rules: [id-a, a], group-by: [ip], timespan: 1m, condition: {gte: 2}, aliases: {ip: {id-a: src, a: dst}}}")
	e := NewEngine([]*Rule{r}, Options{})
	e.Observe("id-a", "a", ev("1", 0, map[string]any{"src": "1", "dst": "2"}))
	hits := e.Observe("id-a", "a", ev("2", time.Second, map[string]any{"src": "1", "dst": "3"}))
	if len(hits) != 1 || hits[0].Group["ip"] != "1" {
		t.Fatalf("%v", hits)
	}
	if s := e.Stats(); s.Observed != 4 || s.Groups != 3 {
		t.Fatalf("%+v", s)
	}
}

// The engine is safe for concurrent use.
func TestConcurrent(t *testing.T) {
	e := NewEngine([]*Rule{mustParse(t, ec("c", "[a]", "[u]")), mustParse(t, ec("d", "[c]", "[u]"))}, Options{MaxGroupsPerRule: 50})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				e.Observe("", "a", ev("x", time.Duration(i)*time.Millisecond, map[string]any{"u": int64((i * (w + 1)) % 97)}))
				if i%500 == 0 {
					e.Tick(t0.Add(time.Duration(i) * time.Millisecond))
					e.Commit(e.Checkpoint())
					e.Stats()
				}
			}
		}()
	}
	wg.Wait()
	if s := e.Stats(); s.Observed == 0 || s.Rules["name:c"].Groups > 50 {
		t.Fatalf("%+v", s)
	}
}

func TestGroupKeys(t *testing.T) {
	e := NewEngine([]*Rule{
		mustParse(t, ec("c", "[a]", "[u, h]")),
		mustParse(t, "title: d\nname: d\ncorrelation: {type: temporal, rules: [a, id-b], group-by: [ip], timespan: 1m, aliases: {ip: {a: src}}}"),
	}, Options{})
	got := e.GroupKeys("id-a", "a", ev("1", 0, map[string]any{"u": "x", "h": int64(7), "src": "10.0.0.1"}))
	want := []GroupRef{{"name:c", `["x","7"]`}, {"name:d", `["10.0.0.1"]`}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("%v", got)
	}
	if got := e.GroupKeys("id-b", "b", ev("2", 0, map[string]any{"src": "10.0.0.1"})); len(got) != 0 {
		t.Fatalf("id-b reads ip itself, which is absent: %v", got)
	}
	if s := e.Stats(); s.Observed != 0 || s.Groups != 0 {
		t.Fatalf("GroupKeys changed state: %+v", s)
	}
}
