package correlate

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/event"
)

// FuzzParse decodes random YAML with goccy/go-yaml and parses it as a
// correlation. Parse must never panic; a rule it accepts must compile and
// survive a few observations, a Tick and a checkpoint round trip.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	for _, file := range files {
		b, _ := os.ReadFile(file)
		var cf struct {
			Rules string `yaml:"rules"`
		}
		if yaml.Unmarshal(b, &cf) == nil {
			for _, d := range splitDocs(cf.Rules) {
				f.Add([]byte(d))
			}
		}
	}
	if b, err := os.ReadFile("testdata/parse_errors.yaml"); err == nil {
		var cases []struct{ Doc string }
		if yaml.Unmarshal(b, &cases) == nil {
			for _, c := range cases {
				f.Add([]byte(c.Doc))
			}
		}
	}
	f.Add([]byte("title: t\ncorrelation: {type: temporal_ordered, group-by: [u], timespan: 1s, condition: 'a and not (b or not c)'}"))
	f.Add([]byte("title: t\ncorrelation: {type: value_avg, rules: [a, b], group-by: [u, v], timespan: 1y, condition: {field: n, neq: 0}, aliases: {u: {a: x}}}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var doc map[string]any
		if err := yaml.Unmarshal(b, &doc); err != nil {
			return
		}
		r, err := Parse(doc, "f.yml", 1)
		if err != nil {
			if r != nil {
				t.Fatal("rule and error")
			}
			return
		}
		_ = r.Fingerprint()
		e := NewEngine([]*Rule{r}, Options{AllowedLateness: time.Second, MaxGroupsPerRule: 3, MaxEventIDs: 2})
		if len(e.Rejected()) > 0 {
			t.Fatalf("parsed rule rejected: %v", e.Rejected())
		}
		t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
		vals := []any{"x", int64(3), 2.5, nil, []any{"p", "q"}, true, "7"}
		for i := range 12 {
			fields := map[string]any{}
			for _, g := range r.GroupBy {
				fields[g] = vals[i%3]
			}
			for _, al := range r.Aliases {
				for _, fld := range al {
					fields[fld] = vals[i%4]
				}
			}
			for _, fld := range r.Condition.Fields {
				fields[fld] = vals[i%len(vals)]
			}
			ref := r.Rules[i%len(r.Rules)]
			ev := &event.Event{ID: "e", Time: t0.Add(time.Duration(i*i%7) * r.Timespan / 3), Fields: fields}
			e.Observe(ref, ref, ev)
		}
		e.Tick(t0.Add(r.Timespan * 3))
		cp := e.Checkpoint()
		e2 := NewEngine([]*Rule{r}, Options{})
		if _, stale := e2.Restore(cp.Upserts); len(stale) > 0 {
			t.Fatalf("own checkpoint stale: %v", stale)
		}
	})
}
