package correlate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Correlation types.
const (
	EventCount      = "event_count"
	ValueCount      = "value_count"
	Temporal        = "temporal"
	TemporalOrdered = "temporal_ordered"
	ValueSum        = "value_sum"
	ValueAvg        = "value_avg"
)

// MaxRules is the most rules one correlation may reference. Group state
// records which referenced rules an event matched in a 64-bit set.
const MaxRules = 64

// Rule is a parsed correlation document.
type Rule struct {
	ID, Name, Title, Level, Description string
	Status                              string
	Tags                                []string
	// Type is one of event_count, value_count, temporal, temporal_ordered,
	// value_sum, value_avg.
	Type string
	// Rules are the referenced rule ids or names (base rules or other
	// correlations), as written.
	Rules   []string
	GroupBy []string
	// Timespan is the length of the sliding window.
	Timespan  time.Duration
	Condition Condition
	// Expr is the optional boolean condition over rule names for the
	// temporal types (SEP "Condition Extension in Temporal Correlation
	// Rules"), e.g. "failed_login and not vpn_login".
	Expr string
	// Aliases maps alias -> rule reference (as in Rules) -> field name.
	Aliases map[string]map[string]string
	// Generate true lets the referenced rules alert on their own as well.
	Generate bool
	// File and Line locate the document, for messages.
	File string
	Line int
	// Warnings are lint findings that do not stop the rule from loading
	// (no group-by, a w/M/y timespan unit, an unused alias).
	Warnings []string

	expr *exprNode // parsed Expr (nil without one)
}

// Condition is the threshold of a correlation.
type Condition struct {
	// Ops are ANDed: {gt: 100, lte: 200}.
	Ops []Op
	// Field is the field the value_* types aggregate. When the document
	// gives a list (value_count only: distinct tuples), Field is the first
	// and Fields holds them all; otherwise Fields is []string{Field}.
	Field  string
	Fields []string
}

// Op is one comparison of a condition.
type Op struct {
	Op    string // gt gte lt lte eq neq
	Value float64
}

var opOrder = []string{"gt", "gte", "lt", "lte", "eq", "neq"}

// holds reports whether v satisfies the comparison.
func (o Op) holds(v float64) bool {
	switch o.Op {
	case "gt":
		return v > o.Value
	case "gte":
		return v >= o.Value
	case "lt":
		return v < o.Value
	case "lte":
		return v <= o.Value
	case "eq":
		return v == o.Value
	case "neq":
		return v != o.Value
	}
	return false
}

// Holds reports whether v satisfies every op.
func (c Condition) Holds(v float64) bool {
	for _, o := range c.Ops {
		if !o.holds(v) {
			return false
		}
	}
	return len(c.Ops) > 0
}

// decidedAtClose reports whether the condition can only be decided when the
// window closes (lt, lte, eq, neq: more events could still make it false).
func (c Condition) decidedAtClose() bool {
	for _, o := range c.Ops {
		switch o.Op {
		case "lt", "lte", "eq", "neq":
			return true
		}
	}
	return false
}

func (c Condition) String() string {
	var b strings.Builder
	for i, o := range c.Ops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(o.Op + " " + strconv.FormatFloat(o.Value, 'g', -1, 64))
	}
	if len(c.Fields) > 0 {
		b.WriteString(" of " + strings.Join(c.Fields, "+"))
	}
	return b.String()
}

// Key identifies the rule's state: its id, else "name:"+Name, else
// "title:"+Title. State persisted under a key is partitioned by
// (Key, group key).
func (r *Rule) Key() string {
	switch {
	case r.ID != "":
		return r.ID
	case r.Name != "":
		return "name:" + r.Name
	}
	return "title:" + r.Title
}

// Fingerprint is a hash of everything that decides how the rule counts
// (type, rules, group-by, timespan, condition, aliases), but not of its
// metadata (title, level, tags, generate). Kept state is only reused for a
// rule with the same key and fingerprint.
func (r *Rule) Fingerprint() string {
	type alias struct {
		Alias string     `json:"a"`
		Map   [][]string `json:"m"`
	}
	var al []alias
	for _, a := range sortedKeys(r.Aliases) {
		m := r.Aliases[a]
		x := alias{Alias: a}
		for _, k := range sortedKeys(m) {
			x.Map = append(x.Map, []string{k, m[k]})
		}
		al = append(al, x)
	}
	var ops [][2]string
	for _, o := range r.Condition.Ops {
		ops = append(ops, [2]string{o.Op, strconv.FormatFloat(o.Value, 'g', -1, 64)})
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i][0] < ops[j][0] })
	b, _ := json.Marshal(struct {
		Type     string      `json:"t"`
		Rules    []string    `json:"r"`
		GroupBy  []string    `json:"g"`
		Timespan int64       `json:"s"`
		Ops      [][2]string `json:"o"`
		Fields   []string    `json:"f"`
		Expr     string      `json:"e"`
		Aliases  []alias     `json:"a"`
	}{r.Type, r.Rules, r.GroupBy, int64(r.Timespan), ops, r.condFields(), strings.Join(strings.Fields(r.Expr), " "), al})
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

func (r *Rule) condFields() []string {
	if len(r.Condition.Fields) > 0 {
		return r.Condition.Fields
	}
	if r.Condition.Field != "" {
		return []string{r.Condition.Field}
	}
	return nil
}

func (r *Rule) String() string {
	switch {
	case r.Name != "":
		return r.Name
	case r.ID != "":
		return r.ID
	}
	return strconv.Quote(r.Title)
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Error is one problem with a correlation document, naming the key.
type Error struct {
	File string
	Line int
	Key  string // "correlation.timespan", "correlation.rules[1]", "title"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

type parser struct {
	file string
	line int
	errs []error
	warn []string
}

func (p *parser) errf(key, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: p.line, Key: key, Msg: fmt.Sprintf(format, args...)})
}

func (p *parser) warnf(key, format string, args ...any) {
	p.warn = append(p.warn, key+": "+fmt.Sprintf(format, args...))
}

var (
	levels   = []string{"informational", "low", "medium", "high", "critical"}
	statuses = []string{"stable", "test", "experimental", "deprecated", "unsupported"}
	relTypes = []string{"derived", "obsolete", "merged", "renamed", "similar"}
	types    = []string{EventCount, ValueCount, Temporal, TemporalOrdered, ValueSum, ValueAvg}
	corrKeys = []string{"type", "rules", "group-by", "timespan", "condition", "aliases", "generate"}
	dateRe   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}$`)
	spanRe   = regexp.MustCompile(`^([0-9]+)([smhdwMy])$`)
	spanUnit = map[string]time.Duration{
		"s": time.Second, "m": time.Minute, "h": time.Hour, "d": 24 * time.Hour,
		"w": 7 * 24 * time.Hour, "M": 2629746 * time.Second, "y": 31556952 * time.Second,
	}
)

// Parse validates one correlation document given as decoded YAML (as from
// goccy/go-yaml or encoding/json) and returns the rule, or every problem
// found, each an *Error naming its key (joined with errors.Join).
// file and line are only used in messages and kept on the rule.
func Parse(doc map[string]any, file string, line int) (*Rule, error) {
	p := &parser{file: file, line: line}
	r := &Rule{File: file, Line: line}
	if doc == nil {
		p.errf("", "empty document")
		return nil, errors.Join(p.errs...)
	}
	for _, k := range []string{"detection", "logsource", "filter"} {
		if _, ok := doc[k]; ok {
			p.errf(k, "not allowed in a correlation document")
		}
	}
	if a, ok := doc["action"]; ok {
		p.errf("action", "%s: Sigma 1.x rule collections are not supported", show(a))
	}
	r.Title = p.str(doc, "title", true)
	if n := utf8.RuneCountInString(r.Title); n > 256 {
		p.errf("title", "is %d characters long, at most 256 are allowed", n)
	}
	r.ID = p.ident(doc, "id")
	r.Name = p.ident(doc, "name")
	r.Description = p.str(doc, "description", false)
	if n := utf8.RuneCountInString(r.Description); n > 65535 {
		p.errf("description", "is %d characters long, at most 65535 are allowed", n)
	}
	r.Level = p.enum(doc, "level", levels)
	r.Status = p.enum(doc, "status", statuses)
	for _, k := range []string{"author", "license", "taxonomy"} {
		p.str(doc, k, false)
	}
	for _, k := range []string{"date", "modified"} {
		p.date(doc, k)
	}
	for _, k := range []string{"references", "falsepositives", "fields"} {
		p.strList(doc, k, true, false)
	}
	r.Tags = p.strList(doc, "tags", false, true)
	p.related(doc)

	top, hasTop := doc["generate"]
	if hasTop {
		b, ok := top.(bool)
		if !ok {
			p.errf("generate", "%s is not true or false", show(top))
		}
		r.Generate = b
	}

	raw, ok := doc["correlation"]
	if !ok {
		p.errf("correlation", "missing")
		return nil, errors.Join(p.errs...)
	}
	c, ok := asMap(raw)
	if !ok {
		p.errf("correlation", "is %s, not a map", show(raw))
		return nil, errors.Join(p.errs...)
	}
	for _, k := range sortedKeys(c) {
		if !slices.Contains(corrKeys, k) {
			hint := ""
			switch strings.ToLower(strings.ReplaceAll(k, "_", "-")) {
			case "group-by", "groupby":
				hint = " (did you mean group-by?)"
			case "timeframe", "time-span":
				hint = " (did you mean timespan?)"
			}
			p.errf("correlation."+k, "unknown key%s", hint)
		}
	}
	if g, ok := c["generate"]; ok {
		b, isBool := g.(bool)
		switch {
		case !isBool:
			p.errf("correlation.generate", "%s is not true or false", show(g))
		case hasTop:
			if tb, ok := top.(bool); ok && tb != b {
				p.errf("generate", "%v conflicts with correlation.generate: %v", tb, b)
			}
		default:
			r.Generate = b
		}
	}

	r.Type = p.corrType(c)
	r.Timespan = p.timespan(c)
	rulesGiven := p.rules(c, r)
	r.GroupBy = p.groupBy(c)
	p.condition(c, r, rulesGiven)
	p.aliases(c, r)
	if len(r.Rules) > MaxRules {
		p.errf("correlation.rules", "names %d rules, at most %d are supported", len(r.Rules), MaxRules)
	}
	if _, ok := c["group-by"]; !ok {
		p.warnf("correlation.group-by", "absent: all events fall into one global group")
	}
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	r.Warnings = p.warn
	return r, nil
}

func (p *parser) str(doc map[string]any, key string, required bool) string {
	v, ok := doc[key]
	if !ok || v == nil {
		if required {
			p.errf(key, "missing")
		}
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.errf(key, "is %s, not a string", show(v))
		return ""
	}
	if required && strings.TrimSpace(s) == "" {
		p.errf(key, "is empty")
	}
	return s
}

// ident reads id or name: a non-empty string without white space.
func (p *parser) ident(doc map[string]any, key string) string {
	v, ok := doc[key]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	switch {
	case !ok:
		p.errf(key, "is %s, not a string", show(v))
	case s == "":
		p.errf(key, "is empty")
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		p.errf(key, "%q contains white space", s)
	}
	return s
}

func (p *parser) enum(doc map[string]any, key string, allowed []string) string {
	v, ok := doc[key]
	if !ok || v == nil {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		p.errf(key, "is %s, not a string", show(v))
		return ""
	}
	if !slices.Contains(allowed, s) {
		p.errf(key, "%q is not one of %s", s, strings.Join(allowed, ", "))
	}
	return s
}

func (p *parser) date(doc map[string]any, key string) {
	v, ok := doc[key]
	if !ok {
		return
	}
	if _, isTime := v.(time.Time); isTime {
		return
	}
	s, ok := v.(string)
	if !ok || !dateRe.MatchString(s) {
		p.errf(key, "%s is not a date YYYY-MM-DD", show(v))
		return
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		p.errf(key, "%q is not a valid date", s)
	}
}

// strList reads a list of strings (or, with allowScalar, one string).
func (p *parser) strList(doc map[string]any, key string, allowScalar, noSpace bool) []string {
	errKey := key
	v, ok := doc[key]
	if !ok || v == nil {
		return nil
	}
	switch x := v.(type) {
	case string:
		if allowScalar {
			return []string{x}
		}
		p.errf(errKey, "is a string, not a list")
		return nil
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := e.(string)
			switch {
			case !ok || s == "":
				p.errf(fmt.Sprintf("%s[%d]", errKey, i), "is %s, not a non-empty string", show(e))
			case noSpace && strings.IndexFunc(s, unicode.IsSpace) >= 0:
				p.errf(fmt.Sprintf("%s[%d]", errKey, i), "%q contains white space", s)
			default:
				out = append(out, s)
			}
		}
		return out
	}
	p.errf(errKey, "is %s, not a list of strings", show(v))
	return nil
}

func (p *parser) related(doc map[string]any) {
	v, ok := doc["related"]
	if !ok {
		return
	}
	l, ok := v.([]any)
	if !ok {
		p.errf("related", "is %s, not a list", show(v))
		return
	}
	for i, e := range l {
		key := fmt.Sprintf("related[%d]", i)
		m, ok := asMap(e)
		if !ok {
			p.errf(key, "is %s, not a map with id and type", show(e))
			continue
		}
		if id, ok := m["id"].(string); !ok || id == "" {
			p.errf(key+".id", "missing or not a string")
		}
		t, _ := m["type"].(string)
		if !slices.Contains(relTypes, t) {
			p.errf(key+".type", "%s is not one of %s", show(m["type"]), strings.Join(relTypes, ", "))
		}
	}
}

func (p *parser) corrType(c map[string]any) string {
	v, ok := c["type"]
	if !ok {
		p.errf("correlation.type", "missing")
		return ""
	}
	s, ok := v.(string)
	switch {
	case !ok:
		p.errf("correlation.type", "is %s, not a string", show(v))
	case s == "value_percentile" || s == "value_median":
		p.errf("correlation.type", "%s is unsupported: the specification does not define its semantics", s)
	case !slices.Contains(types, s):
		p.errf("correlation.type", "%q is not one of %s", s, strings.Join(types, ", "))
	default:
		return s
	}
	return ""
}

func (p *parser) timespan(c map[string]any) time.Duration {
	const key = "correlation.timespan"
	v, ok := c["timespan"]
	if !ok {
		p.errf(key, "missing")
		return 0
	}
	s, _ := v.(string)
	m := spanRe.FindStringSubmatch(s)
	if m == nil {
		p.errf(key, "%s is not <int><s|m|h|d>", show(v))
		return 0
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	unit := spanUnit[m[2]]
	switch {
	case err != nil || n > math.MaxInt64/int64(unit):
		p.errf(key, "%q is too long", s)
		return 0
	case n == 0:
		p.errf(key, "%q must be greater than zero", s)
		return 0
	}
	if strings.ContainsAny(m[2], "wMy") {
		p.warnf(key, "%q: the unit %s is a pySigma extension (the specification allows s, m, h, d)", s, m[2])
	}
	return time.Duration(n) * unit
}

// rules reads correlation.rules; it reports whether the key was given.
func (p *parser) rules(c map[string]any, r *Rule) bool {
	const key = "correlation.rules"
	v, ok := c["rules"]
	if !ok {
		return false
	}
	var list []any
	switch x := v.(type) {
	case string:
		list = []any{x}
	case []any:
		list = x
		if len(x) == 0 {
			p.errf(key, "is empty")
		}
	default:
		p.errf(key, "is %s, not a rule reference or a list of them", show(v))
		return true
	}
	seen := map[string]bool{}
	for i, e := range list {
		s, ok := e.(string)
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !ok:
			p.errf(k, "is %s, not a rule id or name", show(e))
			continue
		case strings.TrimSpace(s) == "":
			p.errf(k, "is empty")
			continue
		case seen[s]:
			p.errf(k, "%q is listed twice", s)
			continue
		}
		seen[s] = true
		r.Rules = append(r.Rules, s)
	}
	return true
}

func (p *parser) groupBy(c map[string]any) []string {
	const key = "correlation.group-by"
	v, ok := c["group-by"]
	if !ok || v == nil {
		return nil
	}
	var list []any
	switch x := v.(type) {
	case string:
		list = []any{x}
	case []any:
		list = x
	default:
		p.errf(key, "is %s, not a field name or a list of them", show(v))
		return nil
	}
	var out []string
	for i, e := range list {
		s, ok := e.(string)
		k := fmt.Sprintf("%s[%d]", key, i)
		switch {
		case !ok:
			p.errf(k, "is %s, not a field name", show(e))
		case s == "":
			p.errf(k, "is empty")
		case slices.Contains(out, s):
			p.errf(k, "%q is listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

func isTemporal(t string) bool  { return t == Temporal || t == TemporalOrdered }
func isValueType(t string) bool { return t == ValueCount || t == ValueSum || t == ValueAvg }

func (p *parser) condition(c map[string]any, r *Rule, rulesGiven bool) {
	const key = "correlation.condition"
	v, ok := c["condition"]
	if !ok || v == nil {
		switch {
		case isTemporal(r.Type):
			if !rulesGiven {
				p.errf("correlation.rules", "missing (a temporal correlation may omit it only with a condition expression)")
			}
			r.Condition = Condition{Ops: []Op{{"gte", float64(len(r.Rules))}}}
		default:
			if !rulesGiven {
				p.errf("correlation.rules", "missing")
			}
			if r.Type != "" {
				p.errf(key, "missing (required for %s)", r.Type)
			}
		}
		return
	}
	if s, ok := v.(string); ok {
		p.exprCondition(s, r, rulesGiven)
		return
	}
	if !rulesGiven {
		p.errf("correlation.rules", "missing")
	}
	m, ok := asMap(v)
	if !ok {
		p.errf(key, "is %s, not a map of gt/gte/lt/lte/eq/neq or a string expression", show(v))
		return
	}
	for _, k := range sortedKeys(m) {
		if k != "field" && k != "percentile" && !slices.Contains(opOrder, k) {
			p.errf(key+"."+k, "unknown key (allowed: gt, gte, lt, lte, eq, neq, field)")
		}
	}
	if _, ok := m["percentile"]; ok {
		p.errf(key+".percentile", "only applies to value_percentile, which is unsupported")
	}
	for _, op := range opOrder {
		x, ok := m[op]
		if !ok {
			continue
		}
		f, ok := number(x)
		if !ok {
			p.errf(key+"."+op, "%s is not a number", show(x))
			continue
		}
		r.Condition.Ops = append(r.Condition.Ops, Op{op, f})
	}
	if len(r.Condition.Ops) == 0 {
		p.errf(key, "needs at least one of gt, gte, lt, lte, eq, neq")
	}
	fv, hasField := m["field"]
	switch {
	case hasField && r.Type != "" && !isValueType(r.Type):
		p.errf(key+".field", "only applies to value_count, value_sum and value_avg, not %s", r.Type)
	case !hasField && isValueType(r.Type):
		p.errf(key+".field", "missing (required for %s)", r.Type)
	case hasField:
		switch x := fv.(type) {
		case string:
			if x == "" {
				p.errf(key+".field", "is empty")
				break
			}
			r.Condition.Field, r.Condition.Fields = x, []string{x}
		case []any:
			if r.Type != ValueCount {
				p.errf(key+".field", "a list of fields only applies to value_count")
				break
			}
			if len(x) == 0 {
				p.errf(key+".field", "is empty")
			}
			for i, e := range x {
				s, ok := e.(string)
				if !ok || s == "" {
					p.errf(fmt.Sprintf("%s.field[%d]", key, i), "is %s, not a field name", show(e))
					continue
				}
				if slices.Contains(r.Condition.Fields, s) {
					p.errf(fmt.Sprintf("%s.field[%d]", key, i), "%q is listed twice", s)
					continue
				}
				r.Condition.Fields = append(r.Condition.Fields, s)
			}
			if len(r.Condition.Fields) > 0 {
				r.Condition.Field = r.Condition.Fields[0]
			}
		default:
			p.errf(key+".field", "is %s, not a field name", show(fv))
		}
	}
}

func (p *parser) exprCondition(s string, r *Rule, rulesGiven bool) {
	const key = "correlation.condition"
	if r.Type != "" && !isTemporal(r.Type) {
		p.errf(key, "a string condition only applies to temporal and temporal_ordered, not %s", r.Type)
		return
	}
	x, names, err := parseExpr(s)
	if err != nil {
		p.errf(key, "%q: %v", s, err)
		return
	}
	if !rulesGiven {
		r.Rules = names
	} else {
		var undefined, unused []string
		for _, n := range names {
			if !slices.Contains(r.Rules, n) {
				undefined = append(undefined, n)
			}
		}
		for _, n := range r.Rules {
			if !slices.Contains(names, n) {
				unused = append(unused, n)
			}
		}
		if len(undefined) > 0 {
			p.errf(key, "names %s, not in correlation.rules", strings.Join(undefined, ", "))
		}
		if len(unused) > 0 {
			p.errf(key, "does not use %s from correlation.rules", strings.Join(unused, ", "))
		}
		if len(undefined)+len(unused) > 0 {
			return
		}
	}
	if len(r.Rules) > MaxRules {
		return // reported by Parse
	}
	x.bind(r.Rules)
	if x.eval(0) {
		p.errf(key, "%q is true when no rule matched; it needs a rule that must match", s)
		return
	}
	r.Expr, r.expr = s, x
}

func (p *parser) aliases(c map[string]any, r *Rule) {
	const key = "correlation.aliases"
	v, ok := c["aliases"]
	if !ok || v == nil {
		return
	}
	m, ok := asMap(v)
	if !ok {
		p.errf(key, "is %s, not a map alias: {rule: field}", show(v))
		return
	}
	for _, alias := range sortedKeys(m) {
		k := key + "." + alias
		mm, ok := asMap(m[alias])
		if !ok {
			p.errf(k, "is %s, not a map rule: field", show(m[alias]))
			continue
		}
		if len(mm) == 0 {
			p.errf(k, "is empty")
			continue
		}
		out := map[string]string{}
		for _, ref := range sortedKeys(mm) {
			f, ok := mm[ref].(string)
			switch {
			case !slices.Contains(r.Rules, ref):
				p.errf(k+"."+ref, "%q is not in correlation.rules", ref)
			case !ok || f == "":
				p.errf(k+"."+ref, "is %s, not a field name", show(mm[ref]))
			default:
				out[ref] = f
			}
		}
		if r.Aliases == nil {
			r.Aliases = map[string]map[string]string{}
		}
		r.Aliases[alias] = out
		if !slices.Contains(r.GroupBy, alias) && !slices.Contains(r.Condition.Fields, alias) {
			p.warnf(k, "is not used in group-by")
		}
	}
}

// asMap accepts the map shapes YAML and JSON decoders produce.
func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, x := range m {
			out[fmt.Sprint(k)] = x
		}
		return out, true
	}
	return nil, false
}

// number accepts the numeric types YAML and JSON decoders produce.
func number(v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint64:
		f = float64(x)
	case int32:
		f = float64(x)
	case uint32:
		f = float64(x)
	case float64:
		f = x
	case float32:
		f = float64(x)
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, false
		}
	case string:
		// The Sigma loader hands scalars over as the text the YAML held,
		// so a plain 10 arrives as "10".
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, false
		}
	default:
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

// show renders a decoded YAML value for a message.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x)
	case []any:
		return "a list"
	case map[string]any, map[any]any:
		return "a map"
	case bool:
		return strconv.FormatBool(x)
	}
	if f, ok := number(v); ok {
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	return fmt.Sprintf("%v", v)
}
