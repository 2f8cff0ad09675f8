package sigma

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rule is one Sigma detection rule.
type Rule struct {
	ID, Name, Title, Status, Level, Description, Author, Date, Modified string
	License, Taxonomy                                                   string
	Tags, References, FalsePositives, Fields                            []string
	Related                                                             []Related
	LogSource                                                           LogSource
	// File and Line locate the rule's document.
	File string
	Line int
	// Detection is the parsed detection section (with any applied filters
	// merged in).
	Detection *Detection
	// Filters lists the ids (or titles) of the filters LoadPaths applied.
	Filters []string
	// Doc is the raw YAML document.
	Doc map[string]any
}

// Related is an entry of a rule's related list.
type Related struct {
	ID, Type string
}

// LogSource is a rule's logsource. Definition is prose and never evaluated.
type LogSource struct {
	Product, Service, Category, Definition string
}

// LoadError says why a rule (or file) did not load, or, in
// Collection.Warnings, what is questionable about one that did.
type LoadError struct {
	File   string
	Line   int
	Rule   string // id or title if known
	Reason string
}

func (e LoadError) Error() string {
	f := e.File
	if f == "" {
		f = "<input>"
	}
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", f, e.Line, e.Reason)
	}
	return fmt.Sprintf("%s: %s", f, e.Reason)
}

// Collection is what a file or a tree of files holds.
type Collection struct {
	Rules        []*Rule
	Correlations []RawDoc
	Filters      []*Filter
	// Skipped holds rules left out by the status policy (deprecated,
	// unsupported): valid, but not meant to run.
	Skipped []*Rule
	// Warnings are findings that did not stop a rule from loading.
	Warnings []LoadError
}

// RawDoc is a document passed on unparsed (correlation rules, for the
// correlate package).
type RawDoc struct {
	File string
	Line int
	Doc  map[string]any
}

// Filter is a Sigma meta-filter (spec §12).
type Filter struct {
	ID, Name, Title, Description, Date, Modified, Taxonomy string
	LogSource                                              LogSource
	// Rules lists the ids or names the filter applies to; AnyRule says it
	// applies to every rule in its logsource.
	Rules     []string
	AnyRule   bool
	Detection *Detection
	File      string
	Line      int
	Doc       map[string]any
}

var (
	validStatus = map[string]bool{"stable": true, "test": true, "experimental": true, "deprecated": true, "unsupported": true}
	validLevel  = map[string]bool{"informational": true, "low": true, "medium": true, "high": true, "critical": true}
	validRelTyp = map[string]bool{"derived": true, "obsolete": true, "merged": true, "renamed": true, "similar": true}
	dateRE      = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
)

// docParser collects a document's warnings and keeps its identity for
// messages.
type docParser struct {
	file  string
	label string
	warns []LoadError
}

func (p *docParser) warn(line int, msg string) {
	p.warns = append(p.warns, LoadError{File: p.file, Line: line, Rule: p.label, Reason: msg})
}

func (p *docParser) err(line int, format string, a ...any) LoadError {
	return LoadError{File: p.file, Line: line, Rule: p.label, Reason: fmt.Sprintf(format, a...)}
}

// Parse parses one file's bytes: detection rules, correlation documents
// (returned raw), and filters. A document that does not load gives one
// LoadError; the others still load. Rules are returned whatever their
// status (LoadPaths applies the status policy).
func Parse(data []byte, file string) (Collection, []LoadError) {
	var col Collection
	var errs []LoadError
	docs, line, err := parseYAML(data)
	if err != nil {
		return col, []LoadError{{File: file, Line: line, Reason: err.Error()}}
	}
	ids := map[string]int{}
	for _, d := range docs {
		p := &docParser{file: file}
		b := d.body
		if b.kind != yMap {
			if b.kind == yNull {
				continue
			}
			errs = append(errs, p.err(d.line, "document %d: expected a mapping, got %s", d.index, b.kindName()))
			continue
		}
		if t, _ := b.get("title"); t != nil && t.isScalar() {
			p.label = t.text()
		}
		if id, _ := b.get("id"); id != nil && id.isScalar() && id.text() != "" {
			p.label = id.text()
		}
		_, hasCorr := b.get("correlation")
		_, hasFilter := b.get("filter")
		_, hasDet := b.get("detection")
		action, actLine := b.get("action")
		switch {
		case action != nil:
			errs = append(errs, p.err(actLine, "document %d: Sigma 1.x \"action: %s\" collections are not supported; write each rule as a complete document", d.index, action.text()))
		case hasCorr != 0:
			col.Correlations = append(col.Correlations, RawDoc{File: file, Line: d.line, Doc: asMap(b.value())})
		case hasFilter != 0:
			f, e := parseFilter(p, b, d.line)
			if e != nil {
				errs = append(errs, *e)
				break
			}
			col.Filters = append(col.Filters, f)
		case hasDet != 0:
			r, e := parseRule(p, b, d.line)
			if e != nil {
				errs = append(errs, *e)
				break
			}
			if r.ID != "" {
				if prev, dup := ids[r.ID]; dup {
					errs = append(errs, p.err(d.line, "duplicate rule id %s (also at line %d)", r.ID, prev))
					break
				}
				ids[r.ID] = d.line
			}
			col.Rules = append(col.Rules, r)
		default:
			errs = append(errs, p.err(d.line, "document %d: not a detection rule, correlation or filter (no detection, correlation or filter key)", d.index))
		}
		col.Warnings = append(col.Warnings, p.warns...)
	}
	return col, errs
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// str reads an optional string key.
func str(p *docParser, b *ynode, key string) (string, int, *LoadError) {
	v, l := b.get(key)
	if v == nil || v.kind == yNull {
		return "", l, nil
	}
	if !v.isScalar() {
		e := p.err(l, "%s must be a single value, not %s", key, v.kindName())
		return "", l, &e
	}
	return v.text(), l, nil
}

// strList reads an optional list of strings; a single string is a list of one.
func strList(p *docParser, b *ynode, key string) ([]string, *LoadError) {
	v, l := b.get(key)
	if v == nil || v.kind == yNull {
		return nil, nil
	}
	if v.isScalar() {
		return []string{v.text()}, nil
	}
	if v.kind != ySeq {
		e := p.err(l, "%s must be a list, not %s", key, v.kindName())
		return nil, &e
	}
	out := make([]string, 0, len(v.items))
	for _, it := range v.items {
		if !it.isScalar() {
			e := p.err(it.line, "%s: items must be single values, not %s", key, it.kindName())
			return nil, &e
		}
		if it.kind == yNull {
			continue
		}
		out = append(out, it.text())
	}
	return out, nil
}

func parseLogSource(p *docParser, b *ynode, line int) (LogSource, *LoadError) {
	v, l := b.get("logsource")
	if v == nil {
		e := p.err(line, "logsource is missing")
		return LogSource{}, &e
	}
	if v.kind != yMap {
		e := p.err(l, "logsource must be a mapping, not %s", v.kindName())
		return LogSource{}, &e
	}
	var ls LogSource
	for i, k := range v.keys {
		x := v.vals[i]
		if !x.isScalar() {
			e := p.err(v.klns[i], "logsource.%s must be a single value, not %s", k, x.kindName())
			return LogSource{}, &e
		}
		s := x.text()
		switch k {
		case "product", "service", "category":
			if s != strings.ToLower(s) || strings.ContainsAny(s, " \t") {
				p.warn(v.klns[i], fmt.Sprintf("logsource.%s %q should be lowercase without spaces", k, s))
			}
			switch k {
			case "product":
				ls.Product = s
			case "service":
				ls.Service = s
			default:
				ls.Category = s
			}
		case "definition":
			ls.Definition = s
		}
	}
	if ls.Product == "" && ls.Service == "" && ls.Category == "" {
		p.warn(l, "logsource sets none of product, service, category: the rule applies to every event")
	}
	return ls, nil
}

func parseRule(p *docParser, b *ynode, line int) (*Rule, *LoadError) {
	r := &Rule{Line: line, File: p.file, Doc: asMap(b.value())}
	var e *LoadError
	fields := []struct {
		key string
		dst *string
	}{
		{"id", &r.ID}, {"name", &r.Name}, {"title", &r.Title}, {"status", &r.Status},
		{"level", &r.Level}, {"description", &r.Description}, {"date", &r.Date},
		{"modified", &r.Modified}, {"license", &r.License}, {"taxonomy", &r.Taxonomy},
	}
	for _, f := range fields {
		if *f.dst, _, e = str(p, b, f.key); e != nil {
			return nil, e
		}
	}
	if v, l := b.get("author"); v != nil {
		switch {
		case v.isScalar():
			r.Author = v.text()
		case v.kind == ySeq:
			a, e := strList(p, b, "author")
			if e != nil {
				return nil, e
			}
			r.Author = strings.Join(a, ", ")
		default:
			e := p.err(l, "author must be a string")
			return nil, &e
		}
	}
	for _, f := range []struct {
		key string
		dst *[]string
	}{{"tags", &r.Tags}, {"references", &r.References}, {"falsepositives", &r.FalsePositives}, {"fields", &r.Fields}} {
		if *f.dst, e = strList(p, b, f.key); e != nil {
			return nil, e
		}
	}
	_, tl := b.get("title")
	switch {
	case r.Title == "":
		x := p.err(line, "title is missing")
		return nil, &x
	case utf8.RuneCountInString(r.Title) > 256:
		x := p.err(tl, "title is longer than 256 characters")
		return nil, &x
	}
	if r.Status != "" && !validStatus[r.Status] {
		_, l := b.get("status")
		x := p.err(l, "unknown status %q (stable, test, experimental, deprecated, unsupported)", r.Status)
		return nil, &x
	}
	if r.Level != "" && !validLevel[r.Level] {
		_, l := b.get("level")
		x := p.err(l, "unknown level %q (informational, low, medium, high, critical)", r.Level)
		return nil, &x
	}
	if len(r.Description) > 65535 {
		_, l := b.get("description")
		x := p.err(l, "description is longer than 65,535 characters")
		return nil, &x
	}
	for _, k := range []string{"date", "modified"} {
		if v, l := b.get(k); v != nil && v.kind != yNull && !dateRE.MatchString(v.text()) {
			p.warn(l, fmt.Sprintf("%s %q is not YYYY-MM-DD", k, v.text()))
		}
	}
	for _, t := range r.Tags {
		if t != strings.ToLower(t) {
			_, l := b.get("tags")
			p.warn(l, fmt.Sprintf("tag %q should be lowercase", t))
		}
	}
	if v, l := b.get("related"); v != nil && v.kind != yNull {
		if v.kind != ySeq {
			x := p.err(l, "related must be a list")
			return nil, &x
		}
		for _, it := range v.items {
			id, _ := it.get("id")
			ty, _ := it.get("type")
			if id == nil || !id.isScalar() || ty == nil || !ty.isScalar() {
				x := p.err(it.line, "related entries need id and type")
				return nil, &x
			}
			if !validRelTyp[ty.text()] {
				p.warn(it.line, fmt.Sprintf("related type %q is not one of derived, obsolete, merged, renamed, similar", ty.text()))
			}
			r.Related = append(r.Related, Related{ID: id.text(), Type: ty.text()})
		}
	}
	ls, e := parseLogSource(p, b, line)
	if e != nil {
		return nil, e
	}
	r.LogSource = ls
	det, dl := b.get("detection")
	if dl == 0 {
		dl = line
	}
	d, pr := parseDetection(det, dl, p.warn)
	if pr != nil {
		x := p.err(pr.line, "%s", pr.reason)
		if x.Line == 0 {
			x.Line = dl
		}
		return nil, &x
	}
	r.Detection = d
	return r, nil
}

func parseFilter(p *docParser, b *ynode, line int) (*Filter, *LoadError) {
	f := &Filter{Line: line, File: p.file, Doc: asMap(b.value())}
	var e *LoadError
	for _, x := range []struct {
		key string
		dst *string
	}{{"id", &f.ID}, {"name", &f.Name}, {"title", &f.Title}, {"description", &f.Description},
		{"date", &f.Date}, {"modified", &f.Modified}, {"taxonomy", &f.Taxonomy}} {
		if *x.dst, _, e = str(p, b, x.key); e != nil {
			return nil, e
		}
	}
	if f.Title == "" {
		x := p.err(line, "filter title is missing")
		return nil, &x
	}
	ls, e := parseLogSource(p, b, line)
	if e != nil {
		return nil, e
	}
	f.LogSource = ls
	fv, fl := b.get("filter")
	if fv == nil || fv.kind != yMap {
		x := p.err(fl, "filter must be a mapping with rules, search identifiers and a condition")
		return nil, &x
	}
	det := &ynode{kind: yMap, line: fv.line}
	for i, k := range fv.keys {
		if k == "rules" {
			v := fv.vals[i]
			switch {
			case v.kind == yNull:
				f.AnyRule = true
			case v.isScalar() && (v.text() == "any" || v.text() == "all"):
				f.AnyRule = true
			case v.isScalar():
				f.Rules = []string{v.text()}
			case v.kind == ySeq:
				for _, it := range v.items {
					if !it.isScalar() {
						x := p.err(it.line, "filter.rules items must be rule ids or names")
						return nil, &x
					}
					f.Rules = append(f.Rules, it.text())
				}
				if len(f.Rules) == 0 {
					f.AnyRule = true
				}
			default:
				x := p.err(fv.klns[i], "filter.rules must be a list of rule ids or names, or any")
				return nil, &x
			}
			continue
		}
		det.keys = append(det.keys, k)
		det.klns = append(det.klns, fv.klns[i])
		det.vals = append(det.vals, fv.vals[i])
	}
	if _, l := fv.get("rules"); l == 0 {
		x := p.err(fl, "filter.rules is missing (use rules: any for every rule)")
		return nil, &x
	}
	d, pr := parseDetection(det, fl, p.warn)
	if pr != nil {
		x := p.err(pr.line, "%s", pr.reason)
		return nil, &x
	}
	if !condHasNot(d.cond) {
		p.warn(fl, "filter condition has no \"not\": it restricts the rules to matching events instead of excluding them (pySigma semantics: rule and filter)")
	}
	f.Detection = d
	return f, nil
}

func condHasNot(c *cond) bool {
	if c == nil {
		return false
	}
	if c.op == cNot {
		return true
	}
	for _, k := range c.kids {
		if condHasNot(k) {
			return true
		}
	}
	return false
}

// Applies reports whether the filter is in scope for r: r's logsource is
// within the filter's and r is listed by id or name (or the filter names
// any rule).
func (f *Filter) Applies(r *Rule) bool {
	ls := f.LogSource
	if (ls.Product != "" && ls.Product != r.LogSource.Product) ||
		(ls.Service != "" && ls.Service != r.LogSource.Service) ||
		(ls.Category != "" && ls.Category != r.LogSource.Category) {
		return false
	}
	if f.AnyRule {
		return true
	}
	for _, x := range f.Rules {
		if x != "" && (x == r.ID || x == r.Name) {
			return true
		}
	}
	return false
}

// ApplyFilters returns rules with every applicable filter merged in: the
// rule's condition C becomes (C) and (F) for each filter condition F, as
// pySigma does. Rules a filter touches are copied; the input is unchanged.
func ApplyFilters(rules []*Rule, filters []*Filter) []*Rule {
	if len(filters) == 0 {
		return rules
	}
	out := make([]*Rule, len(rules))
	for i, r := range rules {
		nr := r
		for fi, f := range filters {
			if !f.Applies(r) {
				continue
			}
			if nr == r {
				c := *r
				nr = &c
			}
			label := f.ID
			if label == "" {
				label = f.Title
			}
			nr.Filters = append(append([]string(nil), nr.Filters...), label)
			nr.Detection = mergeDetection(nr.Detection, f.Detection, fi)
		}
		out[i] = nr
	}
	return out
}

func mergeDetection(d, f *Detection, n int) *Detection {
	nd := &Detection{names: make(map[string]int, len(d.names)+len(f.names))}
	nd.searches = append(nd.searches, d.searches...)
	for k, v := range d.names {
		nd.names[k] = v
	}
	off := len(nd.searches)
	for _, s := range f.searches {
		// The _ prefix keeps "them" in the rule's condition from seeing the
		// filter's identifiers.
		name := "_filter" + strconv.Itoa(n) + "_" + s.name
		cp := *s
		cp.name = name
		nd.names[name] = len(nd.searches)
		nd.searches = append(nd.searches, &cp)
	}
	nd.cond = &cond{op: cAnd, kids: []*cond{d.cond, shiftCond(f.cond, off)}}
	nd.conditions = append(append([]string(nil), d.conditions...), f.conditions...)
	return nd
}

func shiftCond(c *cond, off int) *cond {
	n := &cond{op: c.op, id: c.id, n: c.n}
	if c.op == cIdent {
		n.id += off
	}
	for _, k := range c.kids {
		n.kids = append(n.kids, shiftCond(k, off))
	}
	return n
}

// Loader loads rule trees with a status policy.
type Loader struct {
	// SkipStatus lists the statuses whose rules are parsed but not loaded.
	SkipStatus map[string]bool
}

// DefaultLoader skips deprecated and unsupported rules (spec §2).
func DefaultLoader() *Loader {
	return &Loader{SkipStatus: map[string]bool{"deprecated": true, "unsupported": true}}
}

// LoadPaths walks files and directories (*.yml, *.yaml) with the default
// status policy, parses all, applies filters, and returns what loaded plus
// one LoadError per rule (or file) that did not.
func LoadPaths(paths ...string) (Collection, []LoadError) {
	return DefaultLoader().LoadPaths(paths...)
}

// LoadPaths is LoadPaths with this loader's policy.
func (l *Loader) LoadPaths(paths ...string) (Collection, []LoadError) {
	var files []string
	var errs []LoadError
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			errs = append(errs, LoadError{File: p, Reason: err.Error()})
			continue
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				errs = append(errs, LoadError{File: path, Reason: err.Error()})
				return nil
			}
			if !d.IsDir() && (strings.HasSuffix(path, ".yml") || strings.HasSuffix(path, ".yaml")) {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			errs = append(errs, LoadError{File: p, Reason: err.Error()})
		}
	}
	var all Collection
	seen := map[string]*Rule{}
	names := map[string]*Rule{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, LoadError{File: f, Reason: err.Error()})
			continue
		}
		c, e := Parse(data, f)
		errs = append(errs, e...)
		all.Warnings = append(all.Warnings, c.Warnings...)
		all.Correlations = append(all.Correlations, c.Correlations...)
		all.Filters = append(all.Filters, c.Filters...)
		for _, r := range c.Rules {
			if l.SkipStatus[r.Status] {
				all.Skipped = append(all.Skipped, r)
				continue
			}
			if r.ID != "" {
				if prev, dup := seen[r.ID]; dup {
					errs = append(errs, LoadError{File: r.File, Line: r.Line, Rule: r.ID,
						Reason: fmt.Sprintf("duplicate rule id %s (first in %s:%d)", r.ID, prev.File, prev.Line)})
					continue
				}
				seen[r.ID] = r
			}
			if r.Name != "" {
				if prev, dup := names[r.Name]; dup {
					errs = append(errs, LoadError{File: r.File, Line: r.Line, Rule: r.ID,
						Reason: fmt.Sprintf("duplicate rule name %q (first in %s:%d)", r.Name, prev.File, prev.Line)})
					continue
				}
				names[r.Name] = r
			}
			all.Rules = append(all.Rules, r)
		}
	}
	all.Rules = ApplyFilters(all.Rules, all.Filters)
	sort.SliceStable(errs, func(i, j int) bool {
		if errs[i].File != errs[j].File {
			return errs[i].File < errs[j].File
		}
		return errs[i].Line < errs[j].Line
	})
	return all, errs
}
