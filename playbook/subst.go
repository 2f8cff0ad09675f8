package playbook

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Variable substitution (cacao.md §5.4, §5.5).
//
// References are written `__name__:value`. Substitution happens at the last
// moment, just before a command is dispatched, from the step instance's
// resolved scope, in one left-to-right pass that at each position takes the
// longest declared name followed by `:value` (names may contain `__`, so
// `__x__:value` never rewrites the tail of `__y__x__:value`).
//
// Injection safety. Variable values often come from untrusted events, so
// where a value lands decides how it is inserted:
//   - structured arguments (riposte-connector Args, argv arrays, JSON
//     fields): SubstituteArgs and SubstituteArgv. A string that is exactly
//     one reference becomes the value itself, as data; a reference inside
//     a longer string is replaced by the value's text inside that one
//     argument. Nothing is ever re-parsed by a shell, so a value like
//     "x; rm -rf /" stays one inert argument. This is what Riposte's own
//     connectors use.
//   - legacy command strings of bash, ssh and powershell commands:
//     Substitute with ShellQuote or PowerShellQuote, which insert every value
//     quoted for that shell, never raw.
//   - http-api: JSONStringEscape inside JSON content, URLPathEscape or
//     URLQueryEscape inside the request target.
//   - text shown to people (manual commands, approval questions): Raw.
//
// command_b64 / content_b64 are decoded, substituted and re-encoded
// (SubstituteB64); substituting inside the base64 text does not work.

// Scope maps variable names (`__name__`) to values: nil (unset), string,
// bool, numbers, map[string]any, []any.
type Scope map[string]any

// Escaper turns a value's text into text safe for its destination.
type Escaper func(string) string

// Raw inserts text unchanged: only for text read by people.
func Raw(s string) string { return s }

// ShellQuote quotes for a POSIX shell: the value becomes one single-quoted
// word ('it'\”s').
func ShellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// PowerShellQuote quotes for PowerShell: a single-quoted string with
// embedded single quotes doubled.
func PowerShellQuote(s string) string {
	r := strings.NewReplacer("'", "''", "\u2018", "\u2018\u2018", "\u2019", "\u2019\u2019", "\u201a", "\u201a\u201a", "\u201b", "\u201b\u201b")
	return "'" + r.Replace(s) + "'"
}

// JSONStringEscape escapes for the inside of a JSON string literal (the
// surrounding quotes are the template's).
func JSONStringEscape(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}

// URLPathEscape escapes for one path segment of a URL.
func URLPathEscape(s string) string { return url.PathEscape(s) }

// URLQueryEscape escapes for a URL query value.
func URLQueryEscape(s string) string { return url.QueryEscape(s) }

// Ref is a variable reference found in a string.
type Ref struct {
	Name  string // __name__
	Start int    // byte offset of the reference
	End   int    // byte offset just after `:value`
}

const valueSuffix = ":value"

// maxVarName bounds a variable name, underscores included (cacao.md §5.1).
const maxVarName = 250

// FindRefs returns the references in s in order. With declared != nil it
// follows the substitution rule (the longest declared name at each
// position) and returns the other `__…__:value` texts in undeclared; with
// declared == nil every `__…__:value` is a reference.
func FindRefs(s string, declared map[string]bool) (refs []Ref, undeclared []Ref) {
	i := 0
	for i < len(s) {
		if s[i] != '_' || !strings.HasPrefix(s[i:], "__") {
			i++
			continue
		}
		best := -1
		for j := i + 2; j < len(s) && j-i < maxVarName && isVarChar(s[j]); {
			j++
			if j-i >= 5 && s[j-2:j] == "__" && strings.HasPrefix(s[j:], valueSuffix) && (declared == nil || declared[s[i:j]]) {
				best = j
			}
		}
		if best >= 0 {
			refs = append(refs, Ref{Name: s[i:best], Start: i, End: best + len(valueSuffix)})
			i = best + len(valueSuffix)
			continue
		}
		i++
	}
	if declared == nil {
		return refs, nil
	}
	// Every other "__:value" is a reference to an undeclared name: the
	// longest name-like text before it.
	r := 0
	for off := 0; off < len(s); {
		k := strings.Index(s[off:], "__"+valueSuffix)
		if k < 0 {
			break
		}
		e := off + k + 2 // index of ":value"
		off = e + len(valueSuffix)
		for r < len(refs) && refs[r].End <= e {
			r++
		}
		if r < len(refs) && refs[r].Start < e {
			continue
		}
		start := e
		for start > 0 && e-start < maxVarName && isVarChar(s[start-1]) {
			start--
		}
		f := strings.Index(s[start:e], "__")
		if f < 0 || e-(start+f) < 5 {
			continue
		}
		undeclared = append(undeclared, Ref{Name: s[start+f : e], Start: start + f, End: e + len(valueSuffix)})
	}
	return refs, undeclared
}

func isVarChar(c byte) bool {
	return c == '_' || c == '-' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// reBareVar finds `__name__` written without `:value` (SOARCA style).
var reBareVar = regexp.MustCompile(`__[a-zA-Z][a-zA-Z0-9_-]*__`)

// ValueText is the text of a value when it is inserted into a string:
// strings as they are, numbers and booleans in JSON form, dictionaries and
// lists as JSON.
func ValueText(v any) (string, error) {
	switch t := v.(type) {
	case nil:
		return "", fmt.Errorf("no value")
	case string:
		return t, nil
	case bool:
		return strconv.FormatBool(t), nil
	case int:
		return strconv.Itoa(t), nil
	case int64:
		return strconv.FormatInt(t, 10), nil
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64), nil
	case json.Number:
		return t.String(), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

func (s Scope) names() map[string]bool {
	m := make(map[string]bool, len(s))
	for k := range s {
		m[k] = true
	}
	return m
}

// Substitute replaces every reference in text with the escaped text of its
// value. A reference to a name not in scope, or to an unset variable, is an
// error (the step fails; nothing is sent).
func Substitute(text string, scope Scope, esc Escaper) (string, error) {
	refs, undeclared := FindRefs(text, scope.names())
	if len(undeclared) > 0 {
		return "", fmt.Errorf("undefined variable %s", undeclared[0].Name)
	}
	if len(refs) == 0 {
		return text, nil
	}
	var b strings.Builder
	last := 0
	for _, r := range refs {
		v, err := ValueText(scope[r.Name])
		if err != nil {
			return "", fmt.Errorf("variable %s: %v", r.Name, err)
		}
		b.WriteString(text[last:r.Start])
		b.WriteString(esc(v))
		last = r.End
	}
	b.WriteString(text[last:])
	return b.String(), nil
}

// SubstituteB64 decodes a base64 payload, substitutes, and re-encodes it.
func SubstituteB64(b64 string, scope Scope, esc Escaper) (string, error) {
	raw, err := decodeB64(b64)
	if err != nil {
		return "", fmt.Errorf("base64: %v", err)
	}
	out, err := Substitute(string(raw), scope, esc)
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString([]byte(out)), nil
}

// SubstituteArgv substitutes in each argument separately; values never
// split into more arguments.
func SubstituteArgv(argv []string, scope Scope) ([]string, error) {
	out := make([]string, len(argv))
	for i, a := range argv {
		s, err := Substitute(a, scope, Raw)
		if err != nil {
			return nil, fmt.Errorf("argument %d: %v", i, err)
		}
		out[i] = s
	}
	return out, nil
}

// SubstituteArgs substitutes in structured connector arguments. A string
// that is exactly one reference is replaced by the value itself (a
// dictionary stays a dictionary, a number a number); references inside
// longer strings are replaced by the value's text. Map keys are not
// substituted.
func SubstituteArgs(args map[string]any, scope Scope) (map[string]any, error) {
	v, err := substValue(args, scope, "args")
	if err != nil {
		return nil, err
	}
	m, _ := v.(map[string]any)
	return m, nil
}

func substValue(v any, scope Scope, path string) (any, error) {
	switch t := v.(type) {
	case string:
		refs, undeclared := FindRefs(t, scope.names())
		if len(undeclared) > 0 {
			return nil, fmt.Errorf("%s: undefined variable %s", path, undeclared[0].Name)
		}
		if len(refs) == 1 && refs[0].Start == 0 && refs[0].End == len(t) {
			val, ok := scope[refs[0].Name]
			if !ok || val == nil {
				return nil, fmt.Errorf("%s: variable %s has no value", path, refs[0].Name)
			}
			return val, nil
		}
		s, err := Substitute(t, scope, Raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", path, err)
		}
		return s, nil
	case map[string]any:
		out := make(map[string]any, len(t))
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			s, err := substValue(t[k], scope, path+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			s, err := substValue(e, scope, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = s
		}
		return out, nil
	}
	return v, nil
}

var (
	reHex  = regexp.MustCompile(`^[0-9a-fA-F]*$`)
	reUUID = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidateValue checks a value against a CACAO variable type before use
// (cacao.md §5.4 rule 5). Unknown types accept anything.
func ValidateValue(typ string, v any) error {
	if v == nil {
		return nil
	}
	s, isStr := v.(string)
	want := func(ok bool, what string) error {
		if !ok {
			return fmt.Errorf("%s is not %s", shortValue(v), what)
		}
		return nil
	}
	switch typ {
	case "string", "uri":
		if typ == "uri" && isStr {
			u, err := url.Parse(s)
			return want(err == nil && u.Scheme != "", "a URI")
		}
		return want(isStr, "a string")
	case "bool":
		if isStr {
			return want(s == "true" || s == "false", "true or false")
		}
		_, ok := v.(bool)
		return want(ok, "a boolean")
	case "integer", "long":
		if isStr {
			_, err := strconv.ParseInt(s, 10, 64)
			return want(err == nil, "an integer")
		}
		switch n := v.(type) {
		case int, int64:
			return nil
		case float64:
			return want(n == float64(int64(n)), "an integer")
		}
		return want(false, "an integer")
	case "float":
		if isStr {
			_, err := strconv.ParseFloat(s, 64)
			return want(err == nil, "a number")
		}
		switch v.(type) {
		case int, int64, float64:
			return nil
		}
		return want(false, "a number")
	case "ipv4-addr", "ipv6-addr":
		if !isStr {
			return want(false, "an address")
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			return want(p.Addr().Is4() == (typ == "ipv4-addr"), typ)
		}
		a, err := netip.ParseAddr(s)
		return want(err == nil && a.Is4() == (typ == "ipv4-addr") && a.Zone() == "", typ)
	case "mac-addr":
		_, err := net.ParseMAC(s)
		return want(isStr && err == nil, "a MAC address")
	case "hexstring":
		return want(isStr && reHex.MatchString(s) && len(s)%2 == 0, "a hex string")
	case "md5-hash":
		return want(isStr && len(s) == 32 && reHex.MatchString(s), "an MD5 hash (32 hex digits)")
	case "sha256-hash":
		return want(isStr && len(s) == 64 && reHex.MatchString(s), "a SHA-256 hash (64 hex digits)")
	case "hash":
		_, err := hex.DecodeString(s)
		return want(isStr && err == nil && len(s) >= 32, "a hash (hex)")
	case "uuid":
		return want(isStr && reUUID.MatchString(s), "a UUID")
	case "dictionary":
		if isStr {
			var m map[string]any
			return want(json.Unmarshal([]byte(s), &m) == nil, "a dictionary")
		}
		_, ok := v.(map[string]any)
		return want(ok, "a dictionary")
	}
	return nil
}

func shortValue(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}
