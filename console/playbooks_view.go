package console

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/rulestore"
)

// diffLine is one line of a diff between two versions.
type diffLine struct {
	Kind string // add, del, same
	Old  int    // line number in the older version (0 for an added line)
	New  int    // line number in the newer version (0 for a removed line)
	Text string
}

// diffView is a diff between two stored versions.
type diffView struct {
	From, To     rulestore.Version
	Lines        []diffLine
	Added, Gone  int
	NoDifference bool
}

// versionDiff diffs two versions with the store's diff, the one the
// audit log records, so the page and the audit log agree.
func versionDiff(a, b rulestore.Version) *diffView {
	d := &diffView{From: a, To: b}
	old, nw := 0, 0
	for _, l := range strings.Split(strings.TrimSuffix(rulestore.Diff(a.Body, b.Body), "\n"), "\n") {
		if l == "" || strings.HasPrefix(l, "@@") {
			continue
		}
		text := l[1:]
		switch l[0] {
		case '+':
			nw++
			d.Added++
			d.Lines = append(d.Lines, diffLine{Kind: "add", New: nw, Text: text})
		case '-':
			old++
			d.Gone++
			d.Lines = append(d.Lines, diffLine{Kind: "del", Old: old, Text: text})
		default:
			old, nw = old+1, nw+1
			d.Lines = append(d.Lines, diffLine{Kind: "same", Old: old, New: nw, Text: text})
		}
	}
	d.NoDifference = d.Added == 0 && d.Gone == 0
	return d
}

// pickDiff reads ?from=&to= (version numbers) against a history.
func pickDiff(hist []rulestore.Version, from, to string) *diffView {
	if from == "" && to == "" {
		return nil
	}
	find := func(s string) (rulestore.Version, bool) {
		n, err := strconv.Atoi(s)
		for _, v := range hist {
			if err == nil && v.Version == n {
				return v, true
			}
		}
		return rulestore.Version{}, false
	}
	a, ok1 := find(from)
	b, ok2 := find(to)
	if !ok1 || !ok2 {
		return nil
	}
	return versionDiff(a, b)
}

// newestFirst reverses a history (the store gives it oldest first).
func newestFirst(hist []rulestore.Version) []rulestore.Version {
	out := make([]rulestore.Version, len(hist))
	for i, v := range hist {
		out[len(hist)-1-i] = v
	}
	return out
}

// problem is one finding of a linter, at its line.
type problem struct {
	Line     int
	Severity string // error, warning
	Msg      string
	Path     string
}

// lintView is the linter's answer for an editor: the findings, and which
// lines of the text carry one (the gutter beside the text area).
type lintView struct {
	Checked  bool
	Problems []problem
	Errors   int
	Gutter   []gutterLine
}

type gutterLine struct {
	N     int
	Class string // "", "bad", "warn"
	Title string
}

func newLint(text string, ps []problem) lintView {
	lv := lintView{Checked: true, Problems: ps}
	marks := map[int]problem{}
	for _, p := range ps {
		if p.Severity == "error" {
			lv.Errors++
		}
		if m, ok := marks[p.Line]; p.Line > 0 && (!ok || m.Severity != "error") {
			marks[p.Line] = p
		}
	}
	lv.Gutter = gutter(text, marks)
	return lv
}

// gutter numbers the lines of text and marks those with a finding.
func gutter(text string, marks map[int]problem) []gutterLine {
	n := strings.Count(text, "\n") + 1
	for l := range marks {
		n = max(n, l)
	}
	out := make([]gutterLine, n)
	for i := range out {
		out[i].N = i + 1
		if p, ok := marks[i+1]; ok {
			out[i].Class, out[i].Title = "bad", p.Msg
			if p.Severity != "error" {
				out[i].Class = "warn"
			}
		}
	}
	return out
}

func playbookProblems(errs []playbook.Error) []problem {
	out := make([]problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, problem{Line: e.Line, Severity: e.Severity.String(), Msg: e.Msg, Path: e.Path})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

// triggerText says in words what starts a playbook.
func triggerText(t *playbook.Trigger) []string {
	if t == nil {
		return nil
	}
	var out []string
	match := func(kind string, m *playbook.EventMatch) {
		if m == nil {
			return
		}
		var parts []string
		add := func(name string, l []string) {
			if len(l) > 0 {
				parts = append(parts, name+" "+strings.Join(l, ", "))
			}
		}
		add("rules", m.Rules)
		add("tags", m.Tags)
		add("tactics", m.Tactics)
		add("priorities", m.Priorities)
		add("entities", m.EntityTypes)
		add("asset tags", m.AssetTags)
		if m.MinCriticality > 0 {
			parts = append(parts, "criticality ≥ "+strconv.Itoa(m.MinCriticality))
		}
		if m.Condition != "" {
			parts = append(parts, "if "+m.Condition)
		}
		if len(parts) == 0 {
			parts = []string{"any"}
		}
		out = append(out, kind+": "+strings.Join(parts, "; "))
	}
	match("alert", t.Alert)
	match("incident", t.Incident)
	if s := t.Schedule; s != nil {
		if s.Cron != "" {
			out = append(out, "schedule: "+s.Cron)
		} else {
			out = append(out, "schedule: every "+s.Every.String())
		}
	}
	if t.Webhook != nil {
		out = append(out, "webhook: "+t.Webhook.Name)
	}
	if t.Manual {
		out = append(out, "manual")
	}
	return out
}

// parseWhen reads a time from a form: RFC 3339, or what a datetime-local
// input sends (taken as UTC).
func parseWhen(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	for _, f := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02T15:04"} {
		if t, err := time.Parse(f, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// gutterOf is the editor's line gutter: the linter's, or plain numbers
// before any check.
func gutterOf(lv lintView, body string) []gutterLine {
	if lv.Gutter != nil {
		return lv.Gutter
	}
	return gutter(body, nil)
}

func init() {
	funcs["gutter"] = gutterOf
}

func init() {
	funcs["triggers"] = triggerText
}
