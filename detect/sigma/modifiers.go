package sigma

import (
	"encoding/base64"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// itemKind is how a detection item tests its field.
type itemKind uint8

const (
	kString   itemKind = iota // Sigma string patterns (the default)
	kRegex                    // re
	kCIDR                     // cidr
	kNumber                   // lt lte gt gte
	kNull                     // Field: null
	kExists                   // exists
	kFieldref                 // fieldref
	kTime                     // minute hour day week month year
)

// item is one "field|modifiers: values" entry (or a keyword list, field
// ""), validated and, except for expand placeholders, compiled at parse time.
type item struct {
	field   string
	keyword bool
	key     string // as written, for messages
	line    int
	kind    itemKind
	all     bool
	neq     bool
	cased   bool
	expand  bool
	// kString: per written value its alternatives (base64offset gives 3);
	// an item matches a value if any alternative matches.
	values [][]sstr
	pats   [][]pattern // compiled values; nil while placeholders are pending
	res    []*regexp.Regexp
	guards [][]string // per regexp: literals every match contains (folded)
	minLen []int      // per regexp: bytes a match needs at least
	nets   []netip.Prefix
	numOp  string
	nums   []number
	exists bool
	refs   []string
	refPos pkind // fieldref: pExact, pPrefix, pSuffix or pContains
	tpart  string
	tvals  []int64
}

// number is a rule or event value for numeric comparison; integers stay
// exact beyond 2^53.
type number struct {
	i     int64
	f     float64
	isInt bool
}

func (a number) cmp(b number) int {
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

// parseNumber reads a decimal integer, a 0x hex integer or a decimal float.
// It checks the syntax itself so that the common failure (a non-numeric
// event value) costs no error allocation.
func parseNumber(s string) (number, bool) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return number{}, false
	}
	neg := false
	t := s
	if t[0] == '-' || t[0] == '+' {
		neg = t[0] == '-'
		t = t[1:]
	}
	if len(t) > 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X') {
		var u uint64
		for i := 2; i < len(t); i++ {
			c := t[i]
			var d byte
			switch {
			case '0' <= c && c <= '9':
				d = c - '0'
			case 'a' <= c && c <= 'f':
				d = c - 'a' + 10
			case 'A' <= c && c <= 'F':
				d = c - 'A' + 10
			default:
				return number{}, false
			}
			if u > (math.MaxUint64-uint64(d))/16 {
				return number{}, false
			}
			u = u*16 + uint64(d)
		}
		if u > math.MaxInt64 {
			f := float64(u)
			if neg {
				f = -f
			}
			return number{f: f}, true
		}
		i := int64(u)
		if neg {
			i = -i
		}
		return number{i: i, f: float64(i), isInt: true}, true
	}
	digits, dot, exp := 0, false, false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '.' && !dot && !exp:
			dot = true
		case (c == 'e' || c == 'E') && !exp && digits > 0:
			exp = true
			if i+1 < len(t) && (t[i+1] == '+' || t[i+1] == '-') {
				i++
			}
		default:
			return number{}, false
		}
	}
	if digits == 0 {
		return number{}, false
	}
	if !dot && !exp {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{i: i, f: float64(i), isInt: true}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return number{}, false
	}
	return number{f: f}, true
}

// modifier classes, for chain validation.
var knownModifiers = map[string]bool{
	"contains": true, "startswith": true, "endswith": true, "all": true, "exists": true,
	"cased": true, "neq": true, "windash": true, "re": true, "i": true, "m": true, "s": true,
	"ignorecase": true, "multiline": true, "dotall": true, "base64": true, "base64offset": true,
	"utf16le": true, "wide": true, "utf16be": true, "utf16": true, "cidr": true,
	"lt": true, "lte": true, "gt": true, "gte": true,
	"minute": true, "hour": true, "day": true, "week": true, "month": true, "year": true,
	"expand": true, "fieldref": true,
}

var timeRanges = map[string][2]int64{
	"minute": {0, 59}, "hour": {0, 23}, "day": {1, 31}, "week": {1, 53}, "month": {1, 12}, "year": {0, 9999},
}

// parseItem validates a "field|mod|mod" key with its value(s) and compiles
// it. warn receives non-fatal findings.
func parseItem(key string, keyLine int, v *ynode, keyword bool, warn func(int, string)) (*item, error) {
	parts := strings.Split(key, "|")
	it := &item{field: parts[0], key: key, line: keyLine, keyword: keyword}
	mods := parts[1:]
	if it.keyword && it.field != "" {
		return nil, fmt.Errorf("keyword item has a field name %q", it.field)
	}
	if it.field == "" && !keyword {
		if len(mods) == 0 {
			return nil, fmt.Errorf("empty field name")
		}
		it.keyword = true
	}
	seen := map[string]bool{}
	for _, m := range mods {
		if m == "" {
			return nil, fmt.Errorf("empty modifier in %q", key)
		}
		if !knownModifiers[m] {
			return nil, fmt.Errorf("unknown modifier %q", m)
		}
		if seen[m] {
			return nil, fmt.Errorf("modifier %q repeated in %q", m, key)
		}
		seen[m] = true
	}

	// The written values, flattened from a scalar or a list.
	var vals []*ynode
	switch {
	case v == nil:
		vals = []*ynode{{kind: yNull, line: keyLine}}
	case v.kind == ySeq:
		if len(v.items) == 0 {
			return nil, fmt.Errorf("%q: empty value list", key)
		}
		for _, x := range v.items {
			if !x.isScalar() {
				return nil, fmt.Errorf("%q: a value list may hold only single values, not %s", key, x.kindName())
			}
			if x.kind == yNull {
				return nil, fmt.Errorf("%q: null cannot be part of a value list", key)
			}
		}
		vals = v.items
	case v.kind == yMap:
		return nil, fmt.Errorf("%q: value must be a single value or a list, not a mapping", key)
	default:
		vals = []*ynode{v}
	}

	if seen["all"] {
		it.all = true
		if len(vals) == 1 {
			warn(keyLine, fmt.Sprintf("%q: modifier all on a single value has no effect", key))
			it.all = false
		}
	}
	it.neq = seen["neq"]
	it.cased = seen["cased"]

	// The kind-defining modifiers.
	isFlag := func(m string) bool {
		switch m {
		case "i", "m", "s", "ignorecase", "multiline", "dotall":
			return true
		}
		return false
	}
	switch {
	case seen["exists"]:
		if len(mods) != 1 {
			return nil, fmt.Errorf("%q: exists must be the only modifier", key)
		}
		if len(vals) != 1 || vals[0].kind != yBool {
			return nil, fmt.Errorf("%q: exists needs true or false", key)
		}
		if it.keyword {
			return nil, fmt.Errorf("%q: exists needs a field", key)
		}
		it.kind, it.exists = kExists, vals[0].b
		return it, nil
	case seen["re"]:
		if mods[0] != "re" {
			return nil, fmt.Errorf("%q: re must be the first modifier", key)
		}
		flags := ""
		for _, m := range mods[1:] {
			switch {
			case isFlag(m):
				flags += m[:1]
			case m == "all" || m == "neq" || m == "contains" || m == "startswith" || m == "endswith":
				// contains & co. add .* at unanchored ends in pySigma: a no-op for a substring search.
			default:
				return nil, fmt.Errorf("%q: modifier %q cannot follow re", key, m)
			}
		}
		it.kind = kRegex
		for _, x := range vals {
			if x.kind != yString {
				warn(x.line, fmt.Sprintf("%q: regular expression given as %s", key, x.kindName()))
			}
			src := x.text()
			if flags != "" {
				src = "(?" + flags + ")" + src
			}
			re, err := regexp.Compile(src)
			if err != nil {
				return nil, fmt.Errorf("%q: regular expression does not compile in RE2: %v", key, cleanRegexpErr(err))
			}
			it.res = append(it.res, re)
			it.guards = append(it.guards, regexGuard(src))
			it.minLen = append(it.minLen, regexMinLen(src))
		}
		return it, nil
	case seen["cidr"]:
		if mods[0] != "cidr" {
			return nil, fmt.Errorf("%q: cidr must be the first modifier", key)
		}
		for _, m := range mods[1:] {
			if m != "all" && m != "neq" {
				return nil, fmt.Errorf("%q: modifier %q cannot be combined with cidr", key, m)
			}
		}
		if it.keyword {
			return nil, fmt.Errorf("%q: cidr needs a field", key)
		}
		it.kind = kCIDR
		for _, x := range vals {
			s := strings.TrimSpace(x.text())
			p, err := netip.ParsePrefix(s)
			if err != nil {
				a, aerr := netip.ParseAddr(s)
				if aerr != nil {
					return nil, fmt.Errorf("%q: %q is not a CIDR network", key, s)
				}
				p = netip.PrefixFrom(a, a.BitLen())
			}
			if m := p.Masked(); m != p {
				warn(x.line, fmt.Sprintf("%q: %s has host bits set; using %s", key, s, m))
				p = m
			}
			it.nets = append(it.nets, p)
		}
		return it, nil
	}
	for _, m := range mods {
		if isFlag(m) {
			return nil, fmt.Errorf("%q: regular expression flag %q without re", key, m)
		}
	}
	var numOp, tpart string
	for _, m := range mods {
		switch m {
		case "lt", "lte", "gt", "gte":
			if numOp != "" {
				return nil, fmt.Errorf("%q: more than one comparison modifier", key)
			}
			numOp = m
		case "minute", "hour", "day", "week", "month", "year":
			if tpart != "" {
				return nil, fmt.Errorf("%q: more than one time-part modifier", key)
			}
			tpart = m
		}
	}
	if numOp != "" || tpart != "" {
		if numOp != "" && tpart != "" {
			return nil, fmt.Errorf("%q: %s cannot be combined with %s", key, numOp, tpart)
		}
		for _, m := range mods {
			if m != numOp && m != tpart && m != "neq" && m != "all" {
				return nil, fmt.Errorf("%q: modifier %q cannot be combined with %s", key, m, numOp+tpart)
			}
		}
		if it.keyword {
			return nil, fmt.Errorf("%q: %s needs a field", key, numOp+tpart)
		}
		for _, x := range vals {
			n, ok := number{}, false
			switch x.kind {
			case yInt:
				n, ok = number{i: x.i, f: float64(x.i), isInt: true}, true
			case yFloat:
				n, ok = number{f: x.f}, true
			case yString:
				n, ok = parseNumber(x.str)
			}
			if !ok {
				return nil, fmt.Errorf("%q: %q is not a number", key, x.text())
			}
			if tpart != "" {
				r := timeRanges[tpart]
				if !n.isInt || n.i < r[0] || n.i > r[1] {
					return nil, fmt.Errorf("%q: %s must be an integer from %d to %d", key, tpart, r[0], r[1])
				}
				it.tvals = append(it.tvals, n.i)
				continue
			}
			it.nums = append(it.nums, n)
		}
		if tpart != "" {
			it.kind, it.tpart = kTime, tpart
		} else {
			it.kind, it.numOp = kNumber, numOp
		}
		return it, nil
	}
	if seen["fieldref"] {
		pos := pExact
		for _, m := range mods {
			switch m {
			case "fieldref", "neq", "cased", "all":
			case "contains", "startswith", "endswith":
				if pos != pExact {
					return nil, fmt.Errorf("%q: conflicting modifiers %q", key, m)
				}
				pos = map[string]pkind{"contains": pContains, "startswith": pPrefix, "endswith": pSuffix}[m]
			default:
				return nil, fmt.Errorf("%q: modifier %q cannot be combined with fieldref", key, m)
			}
		}
		if it.keyword {
			return nil, fmt.Errorf("%q: fieldref needs a field", key)
		}
		for _, x := range vals {
			if x.kind != yString || x.str == "" {
				return nil, fmt.Errorf("%q: fieldref needs a field name", key)
			}
			if strings.ContainsAny(x.str, "*?") {
				return nil, fmt.Errorf("%q: fieldref %q: wildcards are not allowed in a field name", key, x.str)
			}
			it.refs = append(it.refs, x.str)
		}
		it.kind, it.refPos = kFieldref, pos
		return it, nil
	}

	// null: only alone or negated.
	for _, x := range vals {
		if x.kind == yNull {
			for _, m := range mods {
				if m != "neq" {
					return nil, fmt.Errorf("%q: null cannot be used with modifier %q", key, m)
				}
			}
			if it.keyword {
				return nil, fmt.Errorf("keyword list cannot hold null")
			}
			it.kind = kNull
			return it, nil
		}
	}

	// String values: apply the transforming modifiers in the written order.
	it.kind = kString
	pos := ""
	for _, x := range vals {
		var s sstr
		if x.kind == yString {
			s = parseSigmaString(x.str)
		} else {
			s = literalString(x.text())
		}
		it.values = append(it.values, []sstr{s})
	}
	for _, m := range mods {
		var err error
		switch m {
		case "contains", "startswith", "endswith":
			if pos != "" {
				return nil, fmt.Errorf("%q: %s conflicts with %s", key, m, pos)
			}
			pos = m
			err = it.mapAlts(func(s sstr) ([]sstr, error) {
				if m != "startswith" && (len(s) == 0 || s[0].k != aStar) {
					s = append(sstr{{k: aStar}}, s...)
				}
				if m != "endswith" && (len(s) == 0 || s[len(s)-1].k != aStar) {
					s = s.add(atom{k: aStar})
				}
				return []sstr{s}, nil
			})
		case "windash":
			err = it.mapAlts(func(s sstr) ([]sstr, error) { return []sstr{windash(s)}, nil })
		case "base64":
			err = it.mapAlts(func(s sstr) ([]sstr, error) {
				b, err := plainBytes(s, m)
				if err != nil {
					return nil, err
				}
				return []sstr{literalString(base64.StdEncoding.EncodeToString(b))}, nil
			})
		case "base64offset":
			err = it.mapAlts(func(s sstr) ([]sstr, error) {
				b, err := plainBytes(s, m)
				if err != nil {
					return nil, err
				}
				var out []sstr
				for _, e := range base64Offsets(b) {
					out = append(out, literalString(e))
				}
				return out, nil
			})
		case "wide", "utf16le", "utf16be", "utf16":
			err = it.mapAlts(func(s sstr) ([]sstr, error) { return []sstr{encodeUTF16(s, m)}, nil })
		case "expand":
			it.expand = true
			err = it.mapAlts(func(s sstr) ([]sstr, error) { return []sstr{placeholders(s)}, nil })
		case "cased", "all", "neq":
		default:
			return nil, fmt.Errorf("%q: modifier %q is not applicable here", key, m)
		}
		if err != nil {
			return nil, fmt.Errorf("%q: %v", key, err)
		}
	}
	if it.keyword {
		// A keyword is searched anywhere in the message.
		_ = it.mapAlts(func(s sstr) ([]sstr, error) {
			if len(s) == 0 || s[0].k != aStar {
				s = append(sstr{{k: aStar}}, s...)
			}
			if s[len(s)-1].k != aStar {
				s = s.add(atom{k: aStar})
			}
			return []sstr{s}, nil
		})
	}
	if !it.expand {
		// Only expand needs the values again (at Compile, with the
		// mapping's placeholders).
		it.pats = compileAlts(it.values, it.cased)
		it.values = nil
	}
	return it, nil
}

func (it *item) mapAlts(f func(sstr) ([]sstr, error)) error {
	for i, alts := range it.values {
		var out []sstr
		for _, s := range alts {
			r, err := f(s.clone())
			if err != nil {
				return err
			}
			out = append(out, r...)
		}
		it.values[i] = out
	}
	return nil
}

func compileAlts(values [][]sstr, cased bool) [][]pattern {
	out := make([][]pattern, len(values))
	for i, alts := range values {
		for _, s := range alts {
			out[i] = append(out[i], compilePattern(s, cased))
		}
	}
	return out
}

// plainBytes returns the bytes of a value that must not hold wildcards
// (base64 cannot encode "any characters").
func plainBytes(s sstr, mod string) ([]byte, error) {
	var b []byte
	for _, a := range s {
		if a.k != aLit {
			return nil, fmt.Errorf("%s: value %q holds wildcards or placeholders, which cannot be encoded", mod, s.String())
		}
		b = append(b, a.s...)
	}
	return b, nil
}

// base64Offsets follows pySigma's SigmaBase64OffsetModifier: the value
// encoded at the three byte alignments, with the characters that depend on
// neighbouring bytes cut off.
func base64Offsets(d []byte) []string {
	start := [3]int{0, 2, 3}
	endCut := [3]int{0, 3, 2} // by (len(d)+i) % 3
	out := make([]string, 0, 3)
	for i := 0; i < 3; i++ {
		b := append(make([]byte, i, i+len(d)), d...)
		for j := 0; j < i; j++ {
			b[j] = ' '
		}
		e := base64.StdEncoding.EncodeToString(b)
		cut := endCut[(len(d)+i)%3]
		if start[i] > len(e)-cut {
			continue
		}
		out = append(out, e[start[i]:len(e)-cut])
	}
	return out
}

// encodeUTF16 encodes the literal parts, by code unit; wildcards stay.
func encodeUTF16(s sstr, mod string) sstr {
	var out sstr
	if mod == "utf16" {
		out = out.add(atom{k: aLit, s: "\xff\xfe"})
	}
	for _, a := range s {
		if a.k != aLit {
			out = out.add(a)
			continue
		}
		var b []byte
		for _, u := range utf16.Encode([]rune(a.s)) {
			if mod == "utf16be" {
				b = append(b, byte(u>>8), byte(u))
			} else {
				b = append(b, byte(u), byte(u>>8))
			}
		}
		out = out.add(atom{k: aLit, s: string(b)})
	}
	return out
}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// windash turns each - or / that starts a flag into a dash position, as
// pySigma's \B[-/]\b applied to each literal part: the character before is
// not a word character (or the part starts there) and the one after is.
func windash(s sstr) sstr {
	var out sstr
	for _, a := range s {
		if a.k != aLit {
			out = out.add(a)
			continue
		}
		txt := a.s
		last := 0
		prevWord := false
		for i := 0; i < len(txt); {
			r, w := utf8.DecodeRuneInString(txt[i:])
			if (r == '-' || r == '/') && !prevWord && i+w < len(txt) {
				nr, _ := utf8.DecodeRuneInString(txt[i+w:])
				if isWordRune(nr) {
					out = out.add(atom{k: aLit, s: txt[last:i]})
					out = out.add(atom{k: aDash})
					last = i + w
				}
			}
			prevWord = isWordRune(r)
			i += w
		}
		out = out.add(atom{k: aLit, s: txt[last:]})
	}
	return out
}

// placeholders finds %name% in literal parts; \% is a literal percent.
func placeholders(s sstr) sstr {
	var out sstr
	for _, a := range s {
		if a.k != aLit {
			out = out.add(a)
			continue
		}
		t := a.s
		var lit strings.Builder
		for i := 0; i < len(t); i++ {
			c := t[i]
			if c == '\\' && i+1 < len(t) && t[i+1] == '%' {
				lit.WriteByte('%')
				i++
				continue
			}
			if c == '%' {
				j := i + 1
				for j < len(t) && isWordByte(t[j]) {
					j++
				}
				if j < len(t) && t[j] == '%' && j > i+1 {
					out = out.add(atom{k: aLit, s: lit.String()})
					lit.Reset()
					out = out.add(atom{k: aPH, s: t[i+1 : j]})
					i = j
					continue
				}
			}
			lit.WriteByte(c)
		}
		out = out.add(atom{k: aLit, s: lit.String()})
	}
	return out
}

func isWordByte(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

// expandValues replaces placeholders with their configured values (each a
// Sigma string, wildcards allowed); several placeholders give the product.
func (it *item) expandValues(ph map[string][]string) ([][]sstr, error) {
	out := make([][]sstr, len(it.values))
	for i, alts := range it.values {
		for _, s := range alts {
			res := []sstr{nil}
			for _, a := range s {
				if a.k != aPH {
					for j := range res {
						res[j] = res[j].add(a)
					}
					continue
				}
				vals, ok := ph[a.s]
				if !ok {
					return nil, fmt.Errorf("placeholder %%%s%% has no configured values", a.s)
				}
				if len(vals) == 0 {
					return nil, fmt.Errorf("placeholder %%%s%% is configured with no values", a.s)
				}
				if len(res)*len(vals) > 10000 {
					return nil, fmt.Errorf("placeholders of %q expand to too many values", it.key)
				}
				var next []sstr
				for _, r := range res {
					for _, v := range vals {
						n := r.clone()
						for _, b := range parseSigmaString(v) {
							n = n.add(b)
						}
						next = append(next, n)
					}
				}
				res = next
			}
			out[i] = append(out[i], res...)
		}
	}
	return out, nil
}

func cleanRegexpErr(err error) string {
	s := err.Error()
	return strings.TrimPrefix(s, "error parsing regexp: ")
}
