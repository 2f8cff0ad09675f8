package sigma
import ("testing";"runtime";"os";"runtime/pprof")
func TestTmpHeap(t *testing.T) {
	col, _ := LoadPaths(sigmaHQRuleDirs(t)...)
	m, _ := Compile(col.Rules, DefaultMapping())
	evs := otrfEvents(t, 20)
	for _, ev := range evs { m.Match(ev, func(*Rule) {}) }
	evs = nil
	runtime.GC()
	f, _ := os.Create("/tmp/heap.out")
	pprof.WriteHeapProfile(f)
	f.Close()
	runtime.KeepAlive(m)
}
