package sigma

import (
	"sort"
	"testing"
	"time"
)

func TestTmpScanStats(t *testing.T) {
	m, _ := loadSigmaHQ(t)
	evs := otrfSample(t)
	bytesBy := map[string]int{}
	cands, always, rules := 0, 0, 0
	evalCount := map[string]int{}
	for _, ev := range evs {
		b := m.bucketFor(ev)
		rules += len(b.rules)
		always += len(b.always)
		sc := m.pool.Get().(*scratch)
		sc.begin(ev)
		sc.ensure(len(b.rules), int(b.outEnd))
		for _, si := range b.scans {
			fs := &m.scans[si]
			k, v, ok := sc.resolve(&fs.f)
			if !ok {
				continue
			}
			if s, ok := sc.rawForm(k, v); ok {
				bytesBy[fs.f.name] += len(s)
			}
		}
		if b.kw != nil {
			for _, t := range sc.keywordRaw() {
				bytesBy["<kw>"] += len(t)
			}
		}
		m.candidates(b, sc)
		cands += len(sc.cands)
		for _, c := range sc.cands {
			t0 := time.Now()
			for k := 0; k < 20; k++ {
				sc.evalNode(b.rules[c].root)
			}
			evalCount[b.rules[c].r.Title] += int(time.Since(t0).Nanoseconds() / 20)
		}
		sc.end()
		m.pool.Put(sc)
	}
	n := len(evs)
	t.Logf("per event: %.1f rules in bucket, %.1f always, %.1f candidates", float64(rules)/float64(n), float64(always)/float64(n), float64(cands)/float64(n))
	type kv struct {
		k string
		v int
	}
	var xs []kv
	for k, v := range bytesBy {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].v > xs[j].v })
	tot := 0
	for _, x := range xs {
		tot += x.v
	}
	t.Logf("bytes scanned per event: %.0f", float64(tot)/float64(n))
	for _, x := range xs[:15] {
		t.Logf("  %s: %.0f B/event", x.k, float64(x.v)/float64(n))
	}
	xs = xs[:0]
	for k, v := range evalCount {
		xs = append(xs, kv{k, v})
	}
	sort.Slice(xs, func(i, j int) bool { return xs[i].v > xs[j].v })
	for _, x := range xs[:30] {
		t.Logf("  eval %8d ns total %s", x.v, x.k)
	}
}
