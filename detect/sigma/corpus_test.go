package sigma

import (
	"archive/zip"
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
	"github.com/riposte-soar/riposte/normalize"
)

func sigmaHQRuleDirs(tb testing.TB) []string {
	root := corpus.Dir(tb, "sigma")
	dirs, _ := filepath.Glob(filepath.Join(root, "rules*"))
	testenv.Need(tb, len(dirs) > 0, "rules* folders under %s", root)
	return dirs
}

var sigmaHQ struct {
	once sync.Once
	col  Collection
	errs []LoadError
	m    *Matcher
	cerr []LoadError

	loadTime, compileTime time.Duration
}

// loadSigmaHQ loads and compiles the SigmaHQ rule set once per test binary.
func loadSigmaHQ(tb testing.TB) (*Matcher, Collection) {
	dirs := sigmaHQRuleDirs(tb)
	sigmaHQ.once.Do(func() {
		t0 := time.Now()
		sigmaHQ.col, sigmaHQ.errs = LoadPaths(dirs...)
		t1 := time.Now()
		sigmaHQ.m, sigmaHQ.cerr = Compile(sigmaHQ.col.Rules, DefaultMapping())
		sigmaHQ.loadTime, sigmaHQ.compileTime = t1.Sub(t0), time.Since(t1)
	})
	return sigmaHQ.m, sigmaHQ.col
}

// readJSONStream decodes a file holding one or several concatenated JSON
// objects.
func readJSONStream(path string) ([]map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []map[string]any
	for dec.More() {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return out, err
		}
		out = append(out, obj)
	}
	return out, nil
}

type regCase struct {
	dir        string
	ruleID     string
	matchCount int
	rawLogs    bool
	events     []*event.Event
}

func loadRegressionCases(t *testing.T) []regCase {
	root := corpus.Dir(t, "sigma/regression_data")
	var cases []regCase
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "info.yml" {
			return err
		}
		dir := filepath.Dir(path)
		rel, _ := filepath.Rel(root, dir)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		docs, _, perr := parseYAML(data)
		if perr != nil || len(docs) == 0 {
			t.Errorf("%s: info.yml: %v", rel, perr)
			return nil
		}
		info := docs[0].body.value().(map[string]any)
		c := regCase{dir: rel}
		if md, ok := info["rule_metadata"].([]any); ok && len(md) > 0 {
			if m, ok := md[0].(map[string]any); ok {
				c.ruleID, _ = m["id"].(string)
			}
		}
		if ti, ok := info["regression_tests_info"].([]any); ok && len(ti) > 0 {
			if m, ok := ti[0].(map[string]any); ok {
				if n, ok := m["match_count"].(int64); ok {
					c.matchCount = int(n)
				}
			}
		}
		// Raw text logs (one event per line) have no logsource of their
		// own: the ingest source that reads them stamps it, here the
		// rule's.
		raws, _ := filepath.Glob(filepath.Join(dir, "*.raw"))
		for _, rf := range raws {
			data, err := os.ReadFile(rf)
			if err != nil {
				return err
			}
			for _, line := range bytes.Split(data, []byte("\n")) {
				if line = bytes.TrimSpace(line); len(line) == 0 {
					continue
				}
				ev := &event.Event{Raw: line}
				normalize.FromLine(line, nil, ev)
				c.rawLogs = true
				c.events = append(c.events, ev)
			}
		}
		jsons, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, j := range jsons {
			objs, err := readJSONStream(j)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
			}
			for _, o := range objs {
				ev := &event.Event{}
				normalize.FromJSON(o, ev)
				c.events = append(c.events, ev)
			}
		}
		cases = append(cases, c)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// TestSigmaHQRegression is the external acceptance test (spec §14): each
// regression case's rule must fire on its events, match_count times when
// given, with the whole SigmaHQ rule set loaded and logsource filtering on.
func TestSigmaHQRegression(t *testing.T) {
	m, _ := loadSigmaHQ(t)
	cases := loadRegressionCases(t)
	testenv.Need(t, len(cases) > 0, "SigmaHQ regression cases under the corpus folder sigma/regression_data")
	loaded := map[string]*Rule{}
	for _, r := range m.Rules() {
		loaded[r.ID] = r
	}
	pass, fail, more := 0, 0, 0
	for _, c := range cases {
		if c.ruleID == "" || len(c.events) == 0 {
			t.Errorf("%s: no rule id or no events", c.dir)
			fail++
			continue
		}
		rule := loaded[c.ruleID]
		if rule == nil {
			t.Errorf("%s: rule %s is not loaded", c.dir, c.ruleID)
			fail++
			continue
		}
		hits, naive := 0, 0
		for _, ev := range c.events {
			if c.rawLogs {
				ev.LogSource = event.LogSource{Product: rule.LogSource.Product, Service: rule.LogSource.Service, Category: rule.LogSource.Category}
			}
			m.Match(ev, func(r *Rule) {
				if r.ID == c.ruleID {
					hits++
				}
			})
			m.MatchNaive(ev, func(r *Rule) {
				if r.ID == c.ruleID {
					naive++
				}
			})
		}
		want := c.matchCount
		if want == 0 {
			want = 1
		}
		if hits != naive {
			t.Errorf("%s: indexed matcher %d hits, naive %d", c.dir, hits, naive)
		}
		switch {
		case hits < want:
			fail++
			t.Errorf("%s: rule %s fired %d times, want %d (logsources %v)", c.dir, c.ruleID, hits, want, logsources(c.events))
		default:
			if c.matchCount > 0 && hits > c.matchCount {
				more++
				t.Logf("warning: %s: rule %s fired %d times, match_count %d", c.dir, c.ruleID, hits, c.matchCount)
			}
			pass++
		}
	}
	t.Logf("SigmaHQ regression: %d of %d cases pass (%d fire more often than match_count)", pass, len(cases), more)
}

func logsources(evs []*event.Event) []event.LogSource {
	var out []event.LogSource
	for _, e := range evs {
		out = append(out, e.LogSource)
	}
	return out
}

// TestLoadSigmaHQ loads every rules* tree: at least 99.5% must load, and
// every failure is printed as file:line: reason.
func TestLoadSigmaHQ(t *testing.T) {
	m, col := loadSigmaHQ(t)
	failed := map[string]bool{}
	for _, e := range sigmaHQ.errs {
		t.Logf("load failure: %v", e)
		failed[e.File+":"+strconv.Itoa(e.Line)] = true
	}
	for _, e := range sigmaHQ.cerr {
		t.Logf("compile failure: %v", e)
	}
	total := len(col.Rules) + len(col.Skipped) + len(failed)
	ok := len(col.Rules) + len(col.Skipped)
	pct := 100 * float64(ok) / float64(total)
	// Compile failures are rules disabled on purpose: their expand
	// placeholders have no values in the default mapping (spec §11).
	t.Logf("SigmaHQ: %d rule documents, %d loaded (%.2f%%), %d skipped by status, %d load failures; %d compiled, %d disabled at compile (unresolved placeholders), %d warnings; LoadPaths %v, Compile %v",
		total, ok, pct, len(col.Skipped), len(sigmaHQ.errs), len(m.Rules()), len(sigmaHQ.cerr), len(col.Warnings),
		sigmaHQ.loadTime.Round(time.Millisecond), sigmaHQ.compileTime.Round(time.Millisecond))
	if pct < 99.5 {
		t.Errorf("only %.2f%% of SigmaHQ rules load, want >= 99.5%%", pct)
	}
	if testing.Verbose() {
		for _, w := range col.Warnings {
			t.Logf("warning: %v", w)
		}
	}
}

// otrfEvents reads up to perFile lines from each OTRF recording and
// normalizes them, keeping the line as Raw as the ingest pipeline does.
func otrfEvents(tb testing.TB, perFile int) []*event.Event {
	root := corpus.Dir(tb, "events/otrf/datasets/atomic")
	var evs []*event.Event
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".zip") {
			return err
		}
		zr, err := zip.OpenReader(path)
		if err != nil {
			tb.Logf("%s: %v", path, err)
			return nil
		}
		defer zr.Close()
		for _, zf := range zr.File {
			if strings.Contains(zf.Name, "__MACOSX") || zf.FileInfo().IsDir() {
				continue
			}
			rc, err := zf.Open()
			if err != nil {
				return err
			}
			br := bufio.NewReaderSize(rc, 1<<16)
			for n := 0; n < perFile; {
				line, err := br.ReadBytes('\n')
				if t := bytes.TrimSpace(line); len(t) > 0 {
					ev := &event.Event{Raw: append([]byte(nil), t...)}
					if t[0] == '{' {
						var obj map[string]any
						dec := json.NewDecoder(bytes.NewReader(t))
						dec.UseNumber()
						if dec.Decode(&obj) == nil {
							normalize.FromJSON(obj, ev)
							evs = append(evs, ev)
							n++
						}
					} else {
						normalize.FromLine(t, nil, ev)
						evs = append(evs, ev)
						n++
					}
				}
				if errors.Is(err, io.EOF) || err != nil {
					break
				}
			}
			rc.Close()
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return evs
}
