package sigma
import ("testing";"sort")
func TestTmpNeedleDist(t *testing.T) {
	m, _ := loadSigmaHQ(t)
	type st struct{ n, short, exact, eid int }
	by := map[string]*st{}
	tot := st{}
	for _, cr := range m.rules {
		ns := nodeNeedles(cr.root)
		if !ns.ok { continue }
		for _, n := range ns.ns {
			name := "<kw>"
			if n.field != nil { name = n.field.name }
			x := by[name]; if x == nil { x = &st{}; by[name] = x }
			x.n++; tot.n++
			if len(n.s) < 6 { x.short++; tot.short++ }
			if n.score >= 6 && n.exact { x.exact++; tot.exact++ }
		}
	}
	type kv struct{ k string; v *st }
	var xs []kv
	for k, v := range by { xs = append(xs, kv{k, v}) }
	sort.Slice(xs, func(i, j int) bool { return xs[i].v.n > xs[j].v.n })
	t.Logf("total %+v", tot)
	for _, x := range xs[:25] { t.Logf("%-25s %+v", x.k, *x.v) }
}
