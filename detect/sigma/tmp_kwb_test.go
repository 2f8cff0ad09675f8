package sigma
import "testing"
func BenchmarkTmpSkip(b *testing.B) {
	m, _ := loadSigmaHQ(b)
	evs := otrfSample(b)
	var sk *skipScanner
	var raws []string
	for _, ev := range evs {
		bk := m.bucketFor(ev)
		if s, ok := bk.kw.(*skipScanner); ok { sk = s; raws = append(raws, string(ev.Raw)) }
	}
	sc := m.pool.Get().(*scratch)
	sc.begin(evs[0]); sc.ensure(5000, 100000); sc.local = make([]int32, 5000)
	n := 0
	for _, r := range raws { n += len(r) }
	b.Logf("avg raw %d", n/len(raws))
	b.ResetTimer()
	i := 0
	tot := 0
	for b.Loop() { sk.scan(raws[i], sc); tot += len(raws[i]); i = (i+1)%len(raws) }
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tot), "ns/byte")
}


func BenchmarkTmpFieldScan(b *testing.B) {
	m, _ := loadSigmaHQ(b)
	evs := otrfSample(b)
	type job struct{ a *automaton; s string }
	var jobs []job
	sizes := map[string]int{}
	for _, ev := range evs {
		bk := m.bucketFor(ev)
		for _, si := range bk.scans {
			fs := &m.scans[si]
			if v, ok := ev.Fields[m.keys[fs.f.keys[0]]].(string); ok {
				jobs = append(jobs, job{fs.ac, v})
				sizes[fs.f.name] += len(v)
			}
		}
	}
	sc := m.pool.Get().(*scratch)
	sc.begin(evs[0]); sc.ensure(5000, 200000); sc.local = make([]int32, 5000)
	b.ResetTimer()
	i, tot := 0, 0
	for b.Loop() { j := jobs[i]; j.a.scan(j.s, sc); tot += len(j.s); i = (i+1)%len(jobs) }
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(tot), "ns/byte")
}
