package playbook

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Severity tells whether a finding blocks (Error) or only informs (Warning).
type Severity int

const (
	// SeverityError blocks import (parse) or activation (lint).
	SeverityError Severity = iota
	// Warning is reported but blocks nothing.
	SeverityWarning
)

func (s Severity) String() string {
	if s == SeverityWarning {
		return "warning"
	}
	return "error"
}

// Error is one finding of a parser, the schema validator or the linter.
//
// Path is a JSON path into the document that was read: for CACAO it names
// the JSON value (`$.workflow["action--…"].on_completion`), for Riposte YAML
// the YAML value (`$.steps.block_ip.next`). Line and Column are 1-based and
// zero when unknown.
type Error struct {
	Severity Severity
	Code     string // stable, machine-readable kind, e.g. "missing-step", "cycle", "schema"
	Path     string
	Line     int
	Column   int
	Msg      string
}

func (e Error) Error() string {
	var b strings.Builder
	if e.Severity == SeverityWarning {
		b.WriteString("warning: ")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", e.Line)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// HasErrors reports whether errs holds at least one finding of severity
// error (warnings do not count).
func HasErrors(errs []Error) bool {
	for _, e := range errs {
		if e.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Errors returns only the findings of severity error.
func Errors(errs []Error) []Error {
	var out []Error
	for _, e := range errs {
		if e.Severity == SeverityError {
			out = append(out, e)
		}
	}
	return out
}

// sortErrors orders findings by line, then path, then message, so output is
// deterministic (golden files, CLI).
func sortErrors(errs []Error) {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i], errs[j]
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		if a.Severity != b.Severity {
			return a.Severity < b.Severity
		}
		return a.Msg < b.Msg
	})
}

// joinPath appends an object key to a JSON path: `.key` for plain
// identifiers, `["key"]` for everything else.
func joinPath(path, key string) string {
	if isPlainKey(key) {
		return path + "." + key
	}
	return path + "[" + strconv.Quote(key) + "]"
}

func indexPath(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

func isPlainKey(k string) bool {
	if k == "" {
		return false
	}
	for i, r := range k {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// pathOf renders JSON-pointer-like tokens (as reported by the schema
// validator) as a JSON path.
func pathOf(tokens []string) string {
	p := "$"
	for _, t := range tokens {
		if i, err := strconv.Atoi(t); err == nil && i >= 0 && strconv.Itoa(i) == t {
			p = indexPath(p, i)
			continue
		}
		p = joinPath(p, t)
	}
	return p
}

// errList collects findings while decoding.
type errList struct {
	errs []Error
	src  *SourceMap // positions of CACAO paths, filled while decoding
}

func (l *errList) add(sev Severity, code, path string, n *node, format string, a ...any) {
	e := Error{Severity: sev, Code: code, Path: path, Msg: fmt.Sprintf(format, a...)}
	if n != nil {
		e.Line, e.Column = n.line, n.col
	}
	l.errs = append(l.errs, e)
}

func (l *errList) errorf(code, path string, n *node, format string, a ...any) {
	l.add(SeverityError, code, path, n, format, a...)
}

func (l *errList) warnf(code, path string, n *node, format string, a ...any) {
	l.add(SeverityWarning, code, path, n, format, a...)
}
