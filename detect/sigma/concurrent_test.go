package sigma

import (
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/event"
)

// TestConcurrentMatch runs Match from several goroutines at once, while
// the per-logsource indexes are still being built, and compares with a
// sequential run. Run with -race.
func TestConcurrentMatch(t *testing.T) {
	dirs := sigmaHQRuleDirs(t)
	col, _ := LoadPaths(dirs...)
	m, _ := Compile(col.Rules, nil)
	ref, _ := Compile(col.Rules, nil)
	evs := otrfEvents(t, 10)
	for _, c := range loadRegressionCases(t) {
		evs = append(evs, c.events...)
	}
	want := make([]string, len(evs))
	for i, ev := range evs {
		want[i] = hitList(ref, ev)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for k := range evs {
				i := (k*7 + g*13) % len(evs)
				if got := hitList(m, evs[i]); got != want[i] {
					t.Errorf("goroutine %d event %d: %s, want %s", g, i, got, want[i])
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func hitList(m *Matcher, ev *event.Event) string {
	var ids []string
	m.Match(ev, func(r *Rule) { ids = append(ids, r.ID) })
	slices.Sort(ids)
	return strings.Join(ids, ",")
}

func TestDormant(t *testing.T) {
	col, errs := Parse([]byte("title: a\nlogsource: {product: windows, service: sysmon}\ndetection:\n  s: {A: 1}\n  condition: s\n---\ntitle: b\nlogsource: {product: okta}\ndetection:\n  s: {A: 1}\n  condition: s\n"), "d.yml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	m, _ := Compile(col.Rules, nil)
	d := m.Dormant([]event.LogSource{{Product: "windows", Service: "sysmon", Category: "process_creation"}})
	if len(d) != 1 || d[0].Title != "b" {
		t.Errorf("dormant %v", d)
	}
}
