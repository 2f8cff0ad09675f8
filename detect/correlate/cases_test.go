package correlate

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/storetest"
)

// A case file (testdata/cases/*.yaml) holds correlation documents, the base
// rules they reference, and a sequence of steps, each with the hits it must
// produce (none when hits is absent).
type caseFile struct {
	Description string    `yaml:"description"`
	Options     caseOpts  `yaml:"options"`
	Base        []baseRef `yaml:"base"`
	Rules       string    `yaml:"rules"`
	Start       string    `yaml:"start"`
	Steps       []step    `yaml:"steps"`
}

type caseOpts struct {
	Lateness    string `yaml:"lateness"`
	MaxGroups   int    `yaml:"max_groups"`
	MaxEventIDs int    `yaml:"max_event_ids"`
}

type baseRef struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

type step struct {
	Observe    string          `yaml:"observe"`
	At         string          `yaml:"at"`
	Wall       string          `yaml:"wall"`
	Fields     map[string]any  `yaml:"fields"`
	ID         string          `yaml:"id"`
	Host       string          `yaml:"host"`
	Tick       string          `yaml:"tick"`
	Restart    bool            `yaml:"restart"`
	Reload     string          `yaml:"reload"`
	Suppressed map[string]bool `yaml:"suppressed"`
	Stats      map[string]int  `yaml:"stats"`
	Hits       []wantHit       `yaml:"hits"`
	Note       string          `yaml:"note"`
}

type wantHit struct {
	Rule       string            `yaml:"rule"`
	Group      map[string]string `yaml:"group"`
	Count      *int64            `yaml:"count"`
	Value      *float64          `yaml:"value"`
	Start      *string           `yaml:"start"`
	End        *string           `yaml:"end"`
	IDs        []string          `yaml:"ids"`
	First      *string           `yaml:"first"`
	Host       *string           `yaml:"host"`
	Suppressed *bool             `yaml:"suppressed"`
}

// parseDocs parses multi-document YAML into correlation rules.
func parseDocs(t testing.TB, src, file string) []*Rule {
	t.Helper()
	var rules []*Rule
	for i, part := range splitDocs(src) {
		var doc map[string]any
		if err := yaml.Unmarshal([]byte(part), &doc); err != nil {
			t.Fatalf("%s doc %d: %v", file, i, err)
		}
		if doc == nil {
			continue
		}
		r, err := Parse(doc, file, i+1)
		if err != nil {
			t.Fatalf("%s doc %d: %v", file, i, err)
		}
		rules = append(rules, r)
	}
	return rules
}

func splitDocs(src string) []string {
	var out []string
	var cur strings.Builder
	for _, line := range strings.SplitAfter(src, "\n") {
		if strings.TrimRight(line, "\r\n") == "---" {
			out = append(out, cur.String())
			cur.Reset()
			continue
		}
		cur.WriteString(line)
	}
	return append(out, cur.String())
}

func dur(t *testing.T, s string) time.Duration {
	t.Helper()
	if s == "" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("duration %q: %v", s, err)
	}
	return d
}

func TestCases(t *testing.T) {
	files, err := filepath.Glob("testdata/cases/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".yaml"), func(t *testing.T) { runCase(t, f) })
	}
}

func runCase(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var cf caseFile
	if err := yaml.UnmarshalWithOptions(b, &cf, yaml.Strict()); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if cf.Start != "" {
		if start, err = time.Parse(time.RFC3339, cf.Start); err != nil {
			t.Fatal(err)
		}
	}
	wall := start
	opts := Options{
		AllowedLateness:  dur(t, cf.Options.Lateness),
		MaxGroupsPerRule: cf.Options.MaxGroups,
		MaxEventIDs:      cf.Options.MaxEventIDs,
		Now:              func() time.Time { return wall },
	}
	known := func(ref string) bool {
		for _, br := range cf.Base {
			if ref == br.ID || ref == br.Name {
				return true
			}
		}
		return false
	}
	load := func(src string) []*Rule {
		rules, errs := Resolve(parseDocs(t, src, file), known)
		if len(errs) > 0 {
			t.Fatalf("resolve: %v", errors.Join(errs...))
		}
		return rules
	}
	rules := load(cf.Rules)
	e := NewEngine(rules, opts)
	if rej := e.Rejected(); len(rej) > 0 {
		t.Fatalf("rejected: %v", rej)
	}
	dbPath := storetest.TargetIn(t, t.TempDir(), "state.db")
	for i, s := range cf.Steps {
		where := fmt.Sprintf("step %d", i)
		if s.Note != "" {
			where += " (" + s.Note + ")"
		}
		var got []Hit
		switch {
		case s.Observe != "":
			id, name := "", s.Observe
			for _, br := range cf.Base {
				if s.Observe == br.ID || s.Observe == br.Name {
					id, name = br.ID, br.Name
				}
			}
			at := start.Add(dur(t, s.At))
			wall = at
			if s.Wall != "" {
				wall = start.Add(dur(t, s.Wall))
			}
			ev := &event.Event{ID: s.ID, Time: at, Received: wall, Host: s.Host, Fields: s.Fields}
			if ev.Fields == nil {
				ev.Fields = map[string]any{}
			}
			got = e.Observe(id, name, ev)
		case s.Tick != "":
			wall = start.Add(dur(t, s.Tick))
			got = e.Tick(wall)
		case s.Restart:
			st, err := OpenStore(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Save(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			st.Close()
			e = NewEngine(rules, opts)
			st, err = OpenStore(dbPath)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.Load(context.Background(), e); err != nil {
				t.Fatal(err)
			}
			st.Close()
		case s.Reload != "":
			rules = load(s.Reload)
			e.Reload(rules)
		case s.Suppressed != nil:
			for ref, want := range s.Suppressed {
				id, name := "", ref
				for _, br := range cf.Base {
					if ref == br.ID || ref == br.Name {
						id, name = br.ID, br.Name
					}
				}
				if got := e.Suppressed(id, name); got != want {
					t.Errorf("%s: Suppressed(%q) = %v, want %v", where, ref, got, want)
				}
			}
		case s.Stats != nil:
			checkStats(t, where, e.Stats(), s.Stats)
		}
		checkHits(t, where, start, got, s.Hits)
	}
}

func checkStats(t *testing.T, where string, st Stats, want map[string]int) {
	t.Helper()
	have := map[string]int64{
		"observed": st.Observed, "missing_group_by": st.MissingGroupBy, "missing_value": st.MissingValue,
		"late": st.Late, "stale": st.Stale, "evicted": st.Evicted, "expired": st.Expired,
		"hits": st.Hits, "groups": st.Groups,
	}
	for k, v := range want {
		h, ok := have[k]
		if !ok {
			t.Fatalf("%s: unknown stat %q", where, k)
		}
		if h != int64(v) {
			t.Errorf("%s: stats.%s = %d, want %d", where, k, h, v)
		}
	}
}

func checkHits(t *testing.T, where string, start time.Time, got []Hit, want []wantHit) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: got %d hits, want %d:\n%s", where, len(got), len(want), showHits(start, got))
		return
	}
	for i, w := range want {
		h := got[i]
		bad := func(what string, g, x any) {
			t.Errorf("%s: hit %d (%s %s): %s = %v, want %v", where, i, h.Rule, h.GroupKey, what, g, x)
		}
		if w.Rule != h.Rule.ID && w.Rule != h.Rule.Name && w.Rule != h.Rule.Title {
			bad("rule", h.Rule, w.Rule)
		}
		if w.Group != nil && !reflect.DeepEqual(w.Group, h.Group) {
			bad("group", h.Group, w.Group)
		}
		if w.Group == nil && len(h.Group) != 0 {
			bad("group", h.Group, "none")
		}
		if w.Count != nil && *w.Count != h.Count {
			bad("count", h.Count, *w.Count)
		}
		if w.Value != nil && *w.Value != h.Value {
			bad("value", h.Value, *w.Value)
		}
		at := func(what string, s *string, got time.Time) {
			if s == nil {
				return
			}
			d, err := time.ParseDuration(*s)
			if err != nil {
				t.Fatalf("%s: %s %q: %v", where, what, *s, err)
			}
			if !got.Equal(start.Add(d)) {
				bad(what, got.Sub(start), d)
			}
		}
		at("start", w.Start, h.WindowStart)
		at("end", w.End, h.WindowEnd)
		at("first", w.First, h.FirstEventTime)
		if w.IDs != nil && !slices.Equal(w.IDs, h.EventIDs) {
			bad("ids", h.EventIDs, w.IDs)
		}
		if w.Host != nil && *w.Host != h.Host {
			bad("host", h.Host, *w.Host)
		}
		if w.Suppressed != nil && *w.Suppressed != h.Suppressed {
			bad("suppressed", h.Suppressed, *w.Suppressed)
		}
	}
}

func showHits(start time.Time, hs []Hit) string {
	var b bytes.Buffer
	for _, h := range hs {
		fmt.Fprintf(&b, "  %s %s count=%d value=%g window=[%v, %v] ids=%v first=%v host=%q suppressed=%v\n",
			h.Rule, h.GroupKey, h.Count, h.Value, h.WindowStart.Sub(start), h.WindowEnd.Sub(start), h.EventIDs,
			h.FirstEventTime.Sub(start), h.Host, h.Suppressed)
	}
	return b.String()
}
