package sigma

import (
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// benchPerFile is how many lines of each OTRF recording the benchmarks
// and the agreement test use (150 recordings).
const benchPerFile = 200

var otrf struct {
	once sync.Once
	evs  []*event.Event
}

func otrfSample(tb testing.TB) []*event.Event {
	corpus.Dir(tb, "events/otrf/datasets/atomic")
	n := benchPerFile
	if testing.Short() {
		n = 20
	}
	// SIGMA_OTRF_PER_FILE widens the sample for a deeper (slower) check.
	if v, err := strconv.Atoi(os.Getenv("SIGMA_OTRF_PER_FILE")); err == nil && v > 0 {
		n = v
	}
	otrf.once.Do(func() { otrf.evs = otrfEvents(tb, n) })
	testenv.Need(tb, len(otrf.evs) > 0, "OTRF events in the corpus folder events/otrf/datasets/atomic")
	return otrf.evs
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchMatch(b *testing.B, naive bool) {
	m, _ := loadSigmaHQ(b)
	evs := otrfSample(b)
	hits := 0
	hit := func(*Rule) { hits++ }
	for _, ev := range evs { // build the per-logsource indexes
		m.Match(ev, hit)
	}
	runtime.GC()
	b.ReportAllocs()
	c0 := cpuTime()
	i := 0
	for b.Loop() {
		if naive {
			m.MatchNaive(evs[i], hit)
		} else {
			m.Match(evs[i], hit)
		}
		if i++; i == len(evs) {
			i = 0
		}
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	if cpu > 0 {
		// The machine is shared: events per CPU-second of this process is
		// the per-core figure that does not depend on the neighbours.
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	}
}

// BenchmarkMatchSigmaHQ matches pre-normalized OTRF events against the
// whole SigmaHQ rule set with the indexed matcher.
func BenchmarkMatchSigmaHQ(b *testing.B) { benchMatch(b, false) }

// BenchmarkMatchNaive is the same with the reference evaluator.
func BenchmarkMatchNaive(b *testing.B) { benchMatch(b, true) }

// TestNaiveIndexedAgree runs both matchers over the OTRF sample and the
// regression events: they must report the same rules for every event.
func TestNaiveIndexedAgree(t *testing.T) {
	m, _ := loadSigmaHQ(t)
	evs := otrfSample(t)
	for _, c := range loadRegressionCases(t) {
		evs = append(evs, c.events...)
	}
	diff, total := 0, 0
	perRule := map[string]int{}
	var a, b []string
	for i, ev := range evs {
		a, b = a[:0], b[:0]
		m.Match(ev, func(r *Rule) { a = append(a, r.ID) })
		m.MatchNaive(ev, func(r *Rule) { b = append(b, r.ID) })
		sort.Strings(a)
		sort.Strings(b)
		total += len(b)
		for _, id := range b {
			perRule[id]++
		}
		if strings.Join(a, ",") != strings.Join(b, ",") {
			diff++
			if diff <= 10 {
				t.Errorf("event %d (%v): indexed %v, naive %v", i, ev.LogSource, a, b)
			}
		}
	}
	t.Logf("%d events, %d rule hits (%d distinct rules), %d disagreements", len(evs), total, len(perRule), diff)
}

// TestMatchNoAlloc checks that matching allocates nothing for events no
// rule matches.
func TestMatchNoAlloc(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under -race")
	}
	m, _ := loadSigmaHQ(t)
	evs := otrfSample(t)
	var quiet []*event.Event
	for _, ev := range evs {
		n := 0
		m.Match(ev, func(*Rule) { n++ })
		if n == 0 {
			quiet = append(quiet, ev)
		}
	}
	testenv.Need(t, len(quiet) > 0, "an OTRF event that no rule matches (every event of the sample matches something)")
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		m.Match(quiet[i%len(quiet)], func(*Rule) {})
		i++
	})
	t.Logf("%d of %d events match nothing; %.3f allocs per Match", len(quiet), len(evs), allocs)
	if allocs > 0.01 {
		t.Errorf("Match allocates %.3f times per non-matching event", allocs)
	}
}

// TestMemory reports the memory the compiled SigmaHQ rule set and its
// indexes take, measured in a child process that holds nothing else: heap
// in use after GC, and the process's resident and peak resident size.
func TestMemory(t *testing.T) {
	if os.Getenv("SIGMA_MEMORY_CHILD") == "1" {
		memoryChild(t)
		return
	}
	if testing.Short() {
		t.Skip("short")
	}
	sigmaHQRuleDirs(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestMemory$", "-test.v")
	cmd.Env = append(os.Environ(), "SIGMA_MEMORY_CHILD=1")
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "memory:") {
			t.Log(strings.TrimSpace(l))
		}
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

func memoryChild(t *testing.T) {
	col, _ := LoadPaths(sigmaHQRuleDirs(t)...)
	m, _ := Compile(col.Rules, DefaultMapping())
	// Build the per-logsource indexes a Windows/Linux mix needs, from a
	// small sample that is dropped before measuring.
	evs := otrfEvents(t, 20)
	for _, ev := range evs {
		m.Match(ev, func(*Rule) {})
	}
	n := len(evs)
	evs = nil
	otrf.evs = nil
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	distinct := map[*bucket]bool{}
	for _, b := range *m.buckets.Load() {
		distinct[b] = true
	}
	acBytes := 0
	for _, s := range m.scans {
		acBytes += s.ac.memBytes()
	}
	status, _ := os.ReadFile("/proc/self/status")
	var rss, hwm string
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			rss = strings.TrimSpace(l[6:])
		}
		if strings.HasPrefix(l, "VmHWM:") {
			hwm = strings.TrimSpace(l[6:])
		}
	}
	t.Logf("memory: %d rules compiled, %d event kinds seen (%d sample events), %d distinct buckets, field automata %.1f MB; heap in use %.1f MB; RSS %s (peak %s, which includes loading)",
		len(m.rules), len(*m.buckets.Load()), n, len(distinct), float64(acBytes)/1e6, float64(ms.HeapInuse)/1e6, rss, hwm)
	runtime.KeepAlive(m)
}

// TestPrefilterStats reports how much work the index saves on the OTRF
// sample: rules offered per event, rules evaluated, and the rules most
// often evaluated without matching.
func TestPrefilterStats(t *testing.T) {
	m, _ := loadSigmaHQ(t)
	evs := otrfSample(t)
	offered, always, cands, hits := 0, 0, 0, 0
	wasted := map[string]int{}
	kinds := map[event.LogSource]int{}
	for _, ev := range evs {
		kinds[ev.LogSource]++
		b := m.bucketFor(ev)
		offered += len(b.rules)
		always += len(b.always)
		sc := m.pool.Get().(*scratch)
		sc.begin(ev)
		sc.ensure(len(b.rules), int(b.outEnd))
		m.candidates(b, sc)
		cands += len(sc.cands)
		for _, li := range sc.cands {
			if sc.evalNode(b.rules[li].root) {
				hits++
			} else {
				wasted[b.rules[li].r.Title]++
			}
		}
		sc.end()
		m.pool.Put(sc)
	}
	n := float64(len(evs))
	t.Logf("%d events of %d logsources: per event %.1f rules offered by logsource/EventID, %.2f always evaluated, %.2f evaluated after the prefilter, %.3f hits",
		len(evs), len(kinds), float64(offered)/n, float64(always)/n, float64(cands)/n, float64(hits)/n)
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range wasted {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].v > xs[j].v })
	for i := 0; i < len(xs) && i < 10; i++ {
		t.Logf("  evaluated without a hit %5d times: %s", xs[i].v, xs[i].k)
	}
}
