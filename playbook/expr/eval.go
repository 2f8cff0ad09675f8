package expr

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EvalError is a run-time failure of a condition (a value that cannot be
// compared as asked). The engine fails the step with it (cacao.md §6).
type EvalError struct{ Msg string }

func (e *EvalError) Error() string { return e.Msg }

func evalErr(format string, a ...any) error { return &EvalError{fmt.Sprintf(format, a...)} }

// Eval evaluates the condition against env, which maps variable names
// (`__x__`, or the bare `x`) to values: nil, bool, string, numbers,
// json.Number, time.Time, map[string]any, []any (and []string,
// map[string]string). The result is a bool.
func (p *Program) Eval(env map[string]any) (any, error) {
	return p.EvalBool(env)
}

// EvalBool is Eval with the result typed.
func (p *Program) EvalBool(env map[string]any) (bool, error) {
	return eval(p.root, env)
}

func eval(n node, env map[string]any) (bool, error) {
	switch t := n.(type) {
	case *orNode:
		for _, x := range t.xs {
			v, err := eval(x, env)
			if err != nil || v {
				return v, err
			}
		}
		return false, nil
	case *andNode:
		for _, x := range t.xs {
			v, err := eval(x, env)
			if err != nil || !v {
				return v, err
			}
		}
		return true, nil
	case *notNode:
		v, err := eval(t.x, env)
		return !v, err
	case *constNode:
		return t.v, nil
	case *existsNde:
		return resolve(t.o, env) != nil, nil
	case *truthNode:
		v := resolve(t.o, env)
		switch b := v.(type) {
		case nil:
			return false, nil
		case bool:
			return b, nil
		case string:
			switch strings.ToLower(b) {
			case "true":
				return true, nil
			case "false", "":
				return false, nil
			}
		}
		return false, evalErr("%s is %s, not a boolean", t.o.name, describe(v))
	case *testNode:
		return evalTest(t, env)
	}
	return false, evalErr("internal: unknown node %T", n)
}

// maxJSONValue bounds the size of a JSON string decoded to walk a path.
const maxJSONValue = 1 << 20

// resolve looks the operand up, walking its path. Anything missing is nil.
func resolve(o *operand, env map[string]any) any {
	v, ok := env[o.name]
	if !ok {
		v = env[o.name[2:len(o.name)-2]]
	}
	for _, e := range o.path {
		v = normalize(v)
		if s, ok := v.(string); ok && len(s) <= maxJSONValue && (strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[")) {
			// CACAO variable values are strings; a dictionary may arrive
			// JSON-encoded.
			var x any
			dec := json.NewDecoder(strings.NewReader(s))
			dec.UseNumber()
			if dec.Decode(&x) == nil {
				v = x
			}
		}
		switch c := v.(type) {
		case map[string]any:
			if e.isIdx {
				return nil
			}
			v = c[e.key]
		case map[string]string:
			if e.isIdx {
				return nil
			}
			s, ok := c[e.key]
			if !ok {
				return nil
			}
			v = s
		case []any:
			if !e.isIdx || e.idx >= len(c) {
				return nil
			}
			v = c[e.idx]
		case []string:
			if !e.isIdx || e.idx >= len(c) {
				return nil
			}
			v = c[e.idx]
		default:
			return nil
		}
	}
	return normalize(v)
}

// normalize maps Go values to the few kinds the comparisons know: nil, bool,
// string, float64/int64 (as num), time.Time, []any, map[string]any.
func normalize(v any) any {
	switch t := v.(type) {
	case nil, bool, string, map[string]any, []any, map[string]string, []string, time.Time:
		return v
	case json.Number:
		return num(t.String())
	case int:
		return number{i: int64(t), isInt: true, f: float64(t)}
	case int8, int16, int32, int64:
		i := reflect.ValueOf(t).Int()
		return number{i: i, isInt: true, f: float64(i)}
	case uint, uint8, uint16, uint32, uint64:
		u := reflect.ValueOf(t).Uint()
		if u <= math.MaxInt64 {
			return number{i: int64(u), isInt: true, f: float64(u)}
		}
		return number{f: float64(u)}
	case float32:
		return number{f: float64(t)}
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1<<53 {
			return number{i: int64(t), isInt: true, f: t}
		}
		return number{f: t}
	case number:
		return t
	case fmt.Stringer:
		return t.String()
	}
	return fmt.Sprint(v)
}

type number struct {
	i     int64
	f     float64
	isInt bool
}

func num(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{i: i, isInt: true, f: float64(i)}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		return number{f: f}
	}
	return s
}

func (n number) String() string {
	if n.isInt {
		return strconv.FormatInt(n.i, 10)
	}
	return strconv.FormatFloat(n.f, 'g', -1, 64)
}

func cmpNum(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

func describe(v any) string {
	switch t := v.(type) {
	case nil:
		return "unset"
	case string:
		if len(t) > 64 {
			t = t[:64] + "…"
		}
		return strconv.Quote(t)
	case number:
		return t.String()
	case map[string]any, map[string]string:
		return "a dictionary"
	case []any, []string:
		return "a list"
	}
	return fmt.Sprintf("%v", v)
}

func evalTest(t *testNode, env map[string]any) (bool, error) {
	v := resolve(t.lhs, env)
	if v == nil {
		// Unset: every comparison false except the negative ones.
		return t.neg || t.op == "!=", nil
	}
	r, err := evalOp(t, v, env)
	if err != nil {
		return false, err
	}
	if t.neg {
		return !r, nil
	}
	return r, nil
}

func evalOp(t *testNode, v any, env map[string]any) (bool, error) {
	typ := t.lhs.typ
	switch t.op {
	case "IN":
		for _, l := range t.list {
			c, err := compareLit(v, l, typ, t.lhs.name)
			if err != nil {
				return false, err
			}
			if c == 0 {
				return true, nil
			}
		}
		return false, nil
	case "LIKE", "MATCHES":
		s, ok := asText(v)
		if !ok {
			return false, evalErr("%s is %s; %s needs text", t.lhs.name, describe(v), t.op)
		}
		return t.re.MatchString(s), nil
	case "ISSUBSET", "ISSUPERSET":
		s, ok := asText(v)
		if !ok {
			return false, evalErr("%s is %s, not an address", t.lhs.name, describe(v))
		}
		a, ok := parsePrefix(strings.TrimSpace(s))
		if !ok {
			return false, evalErr("%s is %s, not an IP address or CIDR", t.lhs.name, describe(v))
		}
		var bs string
		if t.lit != nil {
			bs = t.lit.s
		} else if rs, ok := asText(resolve(t.rop, env)); ok {
			bs = rs
		}
		b, ok := parsePrefix(bs)
		if !ok {
			return false, evalErr("%q is not an IP address or CIDR", bs)
		}
		if t.op == "ISSUBSET" {
			return prefixContains(b, a), nil
		}
		return prefixContains(a, b), nil
	case "CONTAINS":
		var want any
		if t.lit != nil {
			want = litValue(t.lit)
		} else {
			want = resolve(t.rop, env)
		}
		switch c := v.(type) {
		case []any:
			for _, e := range c {
				if looseEqual(normalize(e), want) {
					return true, nil
				}
			}
			return false, nil
		case []string:
			for _, e := range c {
				if looseEqual(e, want) {
					return true, nil
				}
			}
			return false, nil
		case map[string]any:
			k, _ := asText(want)
			_, ok := c[k]
			return ok, nil
		case map[string]string:
			k, _ := asText(want)
			_, ok := c[k]
			return ok, nil
		case string:
			w, ok := asText(want)
			if !ok {
				return false, evalErr("CONTAINS on text needs text, not %s", describe(want))
			}
			return strings.Contains(c, w), nil
		}
		return false, evalErr("%s is %s; CONTAINS needs a list, dictionary or text", t.lhs.name, describe(v))
	}
	// Ordered and equality comparisons.
	var c int
	var err error
	if t.lit != nil {
		c, err = compareLit(v, t.lit, typ, t.lhs.name)
	} else {
		w := resolve(t.rop, env)
		if w == nil {
			return t.op == "!=", nil
		}
		c, err = compareValues(v, w, typ, t.lhs.name)
	}
	if err != nil {
		if c == 2 && (t.op == "=" || t.op == "!=") {
			// Incomparable kinds are simply unequal.
			return t.op == "!=", nil
		}
		return false, err
	}
	switch t.op {
	case "=":
		return c == 0, nil
	case "!=":
		return c != 0, nil
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, evalErr("internal: unknown operator %s", t.op)
}

func prefixContains(outer, inner netip.Prefix) bool {
	if outer.Addr().Is4() != inner.Addr().Is4() {
		return false
	}
	return outer.Bits() <= inner.Bits() && outer.Contains(inner.Addr())
}

func litValue(l *literal) any {
	switch l.kind {
	case lNumber:
		return number{i: l.i, f: l.f, isInt: l.isInt}
	case lBool:
		return l.b
	case lTime:
		return l.t
	case lBytes:
		return string(l.raw)
	}
	return l.s
}

func asText(v any) (string, bool) {
	switch t := v.(type) {
	case string:
		return t, true
	case number:
		return t.String(), true
	case bool:
		return strconv.FormatBool(t), true
	}
	return "", false
}

func looseEqual(a, b any) bool {
	c, err := compareValues(a, b, "", "")
	return err == nil && c == 0
}

func isHashType(typ string) bool {
	switch typ {
	case "hash", "md5-hash", "sha256-hash", "sha1-hash", "sha512-hash", "hexstring", "mac-addr":
		return true
	}
	return false
}

// compareLit compares a value with a literal: -1, 0, 1. An error with
// result 2 means the kinds cannot be compared.
func compareLit(v any, l *literal, typ, name string) (int, error) {
	switch typ {
	case "ipv4-addr", "ipv6-addr":
		s, ok1 := asText(v)
		ls, ok2 := asText(litValue(l))
		if ok1 && ok2 {
			a, e1 := netip.ParseAddr(strings.TrimSpace(s))
			b, e2 := netip.ParseAddr(ls)
			if e1 == nil && e2 == nil {
				return a.Unmap().Compare(b.Unmap()), nil
			}
		}
	case "integer", "long", "float":
		if l.kind == lString {
			if n, ok := num(l.s).(number); ok {
				return compareValues(v, n, typ, name)
			}
		}
	}
	return compareValues(v, litValue(l), typ, name)
}

func compareValues(v, w any, typ, name string) (int, error) {
	if name == "" {
		name = "value"
	}
	switch b := w.(type) {
	case number:
		switch a := v.(type) {
		case number:
			return cmpNum(a, b), nil
		case string:
			if n, ok := num(strings.TrimSpace(a)).(number); ok {
				return cmpNum(n, b), nil
			}
		}
		return 2, evalErr("%s is %s, not a number", name, describe(v))
	case bool:
		var a bool
		switch x := v.(type) {
		case bool:
			a = x
		case string:
			switch strings.ToLower(x) {
			case "true":
				a = true
			case "false":
				a = false
			default:
				return 2, evalErr("%s is %s, not a boolean", name, describe(v))
			}
		default:
			return 2, evalErr("%s is %s, not a boolean", name, describe(v))
		}
		if a == b {
			return 0, nil
		}
		if !a {
			return -1, nil
		}
		return 1, nil
	case time.Time:
		var a time.Time
		switch x := v.(type) {
		case time.Time:
			a = x
		case string:
			var err error
			a, err = time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return 2, evalErr("%s is %s, not a timestamp", name, describe(v))
			}
		default:
			return 2, evalErr("%s is %s, not a timestamp", name, describe(v))
		}
		return a.Compare(b), nil
	case string:
		switch a := v.(type) {
		case string:
			if isHashType(typ) {
				return strings.Compare(strings.ToLower(a), strings.ToLower(b)), nil
			}
			return strings.Compare(a, b), nil
		case number:
			if n, ok := num(b).(number); ok {
				return cmpNum(a, n), nil
			}
			return strings.Compare(a.String(), b), nil
		case bool:
			return strings.Compare(strconv.FormatBool(a), strings.ToLower(b)), nil
		case time.Time:
			t, err := time.Parse(time.RFC3339Nano, b)
			if err != nil {
				return 2, evalErr("%q is not a timestamp", b)
			}
			return a.Compare(t), nil
		}
		return 2, evalErr("%s is %s, not comparable with text", name, describe(v))
	}
	if reflect.DeepEqual(v, w) {
		return 0, nil
	}
	if a, ok := v.(string); ok {
		if bb, ok := w.([]byte); ok {
			return bytes.Compare([]byte(a), bb), nil
		}
	}
	return 2, evalErr("%s is %s, not comparable with %s", name, describe(v), describe(w))
}
