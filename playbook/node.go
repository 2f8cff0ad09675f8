package playbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/internal/yamlnode"
)

// node is the format-neutral document tree both decoders read: JSON and
// YAML are parsed into it with the position of every value, so the CACAO
// decoder can serve YAML sub-objects written in CACAO shape and every error
// can carry a line number.
type node struct {
	kind nodeKind
	s    string   // string value, number literal, or "true"/"false"
	keys []string // object keys, in document order
	kids []*node  // object values (parallel to keys) or array elements
	line int
	col  int
}

type nodeKind uint8

const (
	kNull nodeKind = iota
	kBool
	kNumber
	kString
	kObject
	kArray
)

func (k nodeKind) String() string {
	switch k {
	case kNull:
		return "null"
	case kBool:
		return "boolean"
	case kNumber:
		return "number"
	case kString:
		return "string"
	case kObject:
		return "object"
	case kArray:
		return "array"
	}
	return "?"
}

// get returns the value of key in an object node, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != kObject {
		return nil
	}
	for i := len(n.keys) - 1; i >= 0; i-- {
		if n.keys[i] == key {
			return n.kids[i]
		}
	}
	return nil
}

// maxDepth bounds nesting in both input formats, so hostile input cannot
// exhaust the stack.
const maxDepth = 128

// maxInput bounds the size of a playbook document.
const maxInput = 16 << 20

// ---- JSON -----------------------------------------------------------------

type jsonParser struct {
	data []byte
	pos  int
	warn []Error
	// Position of the last lineCol call: offsets only grow, so each call
	// scans only the bytes since the previous one (scanning from the start
	// made a large document quadratic to parse).
	lcOff, lcLine, lcStart int
}

// parseJSON parses one JSON value with positions. Duplicate keys are
// reported as warnings (the last one wins, as in encoding/json).
func parseJSON(data []byte) (*node, []Error, error) {
	if len(data) > maxInput {
		return nil, nil, fmt.Errorf("document is %d bytes, more than the %d allowed", len(data), maxInput)
	}
	if !utf8.Valid(data) {
		return nil, nil, errors.New("document is not valid UTF-8")
	}
	p := &jsonParser{data: data}
	p.ws()
	n, err := p.value(0, "$")
	if err != nil {
		return nil, nil, err
	}
	p.ws()
	if p.pos != len(p.data) {
		return nil, nil, p.errf("unexpected data after the top-level value")
	}
	return n, p.warn, nil
}

func (p *jsonParser) lineCol(off int) (int, int) {
	if off < p.lcOff || p.lcLine == 0 {
		p.lcOff, p.lcLine, p.lcStart = 0, 1, 0
	}
	seg := p.data[p.lcOff:off]
	if n := bytes.Count(seg, []byte{'\n'}); n > 0 {
		p.lcLine += n
		p.lcStart = p.lcOff + bytes.LastIndexByte(seg, '\n') + 1
	}
	p.lcOff = off
	return p.lcLine, off - p.lcStart + 1
}

func (p *jsonParser) errf(format string, a ...any) error {
	l, c := p.lineCol(p.pos)
	return fmt.Errorf("invalid JSON at line %d, column %d: %s", l, c, fmt.Sprintf(format, a...))
}

func (p *jsonParser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

func (p *jsonParser) value(depth int, path string) (*node, error) {
	if depth > maxDepth {
		return nil, p.errf("nesting deeper than %d", maxDepth)
	}
	if p.pos >= len(p.data) {
		return nil, p.errf("unexpected end of input")
	}
	l, c := p.lineCol(p.pos)
	n := &node{line: l, col: c}
	switch ch := p.data[p.pos]; {
	case ch == '{':
		n.kind = kObject
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == '}' {
			p.pos++
			return n, nil
		}
		seen := map[string]bool{}
		for {
			p.ws()
			if p.pos >= len(p.data) || p.data[p.pos] != '"' {
				return nil, p.errf("expected a string key")
			}
			k, err := p.str()
			if err != nil {
				return nil, err
			}
			p.ws()
			if p.pos >= len(p.data) || p.data[p.pos] != ':' {
				return nil, p.errf("expected ':' after key %q", k)
			}
			p.pos++
			p.ws()
			kp := joinPath(path, k)
			v, err := p.value(depth+1, kp)
			if err != nil {
				return nil, err
			}
			if seen[k] {
				p.warn = append(p.warn, Error{Severity: SeverityWarning, Code: "duplicate-key", Path: kp, Line: v.line, Msg: "duplicate key; the last value is used"})
			}
			seen[k] = true
			n.keys = append(n.keys, k)
			n.kids = append(n.kids, v)
			p.ws()
			if p.pos >= len(p.data) {
				return nil, p.errf("unexpected end of input in object")
			}
			if p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.data[p.pos] == '}' {
				p.pos++
				return n, nil
			}
			return nil, p.errf("expected ',' or '}' in object")
		}
	case ch == '[':
		n.kind = kArray
		p.pos++
		p.ws()
		if p.pos < len(p.data) && p.data[p.pos] == ']' {
			p.pos++
			return n, nil
		}
		for {
			p.ws()
			v, err := p.value(depth+1, fmt.Sprintf("%s[%d]", path, len(n.kids)))
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, v)
			p.ws()
			if p.pos >= len(p.data) {
				return nil, p.errf("unexpected end of input in array")
			}
			if p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.data[p.pos] == ']' {
				p.pos++
				return n, nil
			}
			return nil, p.errf("expected ',' or ']' in array")
		}
	case ch == '"':
		s, err := p.str()
		if err != nil {
			return nil, err
		}
		n.kind, n.s = kString, s
		return n, nil
	case ch == 't' || ch == 'f' || ch == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(p.data[p.pos:], []byte(lit)) {
				p.pos += len(lit)
				if lit == "null" {
					n.kind = kNull
				} else {
					n.kind, n.s = kBool, lit
				}
				return n, nil
			}
		}
		return nil, p.errf("invalid literal")
	case ch == '-' || (ch >= '0' && ch <= '9'):
		start := p.pos
		if p.data[p.pos] == '-' {
			p.pos++
		}
		digits := func() int {
			s := p.pos
			for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
				p.pos++
			}
			return p.pos - s
		}
		if p.pos < len(p.data) && p.data[p.pos] == '0' {
			p.pos++
		} else if digits() == 0 {
			return nil, p.errf("invalid number")
		}
		if p.pos < len(p.data) && p.data[p.pos] == '.' {
			p.pos++
			if digits() == 0 {
				return nil, p.errf("invalid number")
			}
		}
		if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
			p.pos++
			if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
				p.pos++
			}
			if digits() == 0 {
				return nil, p.errf("invalid number")
			}
		}
		n.kind, n.s = kNumber, string(p.data[start:p.pos])
		return n, nil
	default:
		return nil, p.errf("unexpected character %q", ch)
	}
}

func (p *jsonParser) str() (string, error) {
	start := p.pos
	p.pos++
	escaped := false
	for p.pos < len(p.data) {
		ch := p.data[p.pos]
		switch {
		case ch == '\\':
			escaped = true
			p.pos += 2
			continue
		case ch == '"':
			p.pos++
			raw := p.data[start:p.pos]
			if !escaped {
				return string(raw[1 : len(raw)-1]), nil
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				p.pos = start
				return "", p.errf("invalid string: %v", err)
			}
			return s, nil
		case ch < 0x20:
			return "", p.errf("control character in string")
		}
		p.pos++
	}
	p.pos = start
	return "", p.errf("unterminated string")
}

// ---- YAML -----------------------------------------------------------------

// parseYAML parses a single YAML document into a node tree. Anchors and
// aliases are refused: a playbook is small and explicit, and aliases are the
// classic way to make a tiny file expand into a huge one.
func parseYAML(data []byte) (*node, error) {
	if len(data) > maxInput {
		return nil, fmt.Errorf("document is %d bytes, more than the %d allowed", len(data), maxInput)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("document is not valid UTF-8")
	}
	// yamlnode turns a panic in the third-party parser into an error.
	docs, err := yamlnode.Parse(data, yamlnode.Options{
		MaxDepth:   maxDepth,
		PlainKeys:  true,
		UniqueKeys: true,
		RefusedMsg: "YAML anchors, aliases and merge keys are not supported in playbooks",
	})
	if err != nil {
		var se *yamlnode.SyntaxError
		if errors.As(err, &se) {
			msg := strings.TrimSpace(se.Err.Error())
			if i := strings.IndexByte(msg, '\n'); i >= 0 {
				msg = msg[:i]
			}
			return nil, &yamlError{se.Line, se.Col, "YAML syntax: " + msg}
		}
		var ce *yamlnode.Error
		if errors.As(err, &ce) {
			return nil, &yamlError{ce.Line, ce.Col, ce.Msg}
		}
		return nil, err
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("empty document")
	case 1:
	default:
		return nil, errors.New("more than one YAML document: put one playbook per file")
	}
	return fromYAML(docs[0].Body)
}

// yamlError carries a YAML error with its position.
type yamlError struct {
	line, col int
	msg       string
}

func (e *yamlError) Error() string { return e.msg }

// fromYAML takes the shared YAML tree into the format-neutral node: numbers
// in canonical form, infinities and NaN refused (JSON has none), a null
// value placed at its key.
func fromYAML(y *yamlnode.Node) (*node, error) {
	n := &node{line: y.Line, col: y.Col}
	switch y.Kind {
	case yamlnode.Null:
		n.kind = kNull
	case yamlnode.Bool:
		n.kind, n.s = kBool, y.Canonical()
	case yamlnode.Int:
		n.kind, n.s = kNumber, y.Canonical()
	case yamlnode.Float:
		f, _ := y.Value.(float64)
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, &yamlError{y.Line, y.Col, "YAML: infinite or NaN numbers are not allowed"}
		}
		n.kind, n.s = kNumber, strconv.FormatFloat(f, 'g', -1, 64)
	case yamlnode.String:
		n.kind, n.s = kString, y.Text
	case yamlnode.Map:
		n.kind = kObject
		for i, k := range y.Keys {
			v, err := fromYAML(y.Vals[i])
			if err != nil {
				return nil, err
			}
			if v.kind == kNull || v.line == 0 {
				v.line, v.col = k.Line, k.Col
			}
			// Numbers and booleans as keys (switch cases "1:", "2:") are
			// read as written.
			n.keys = append(n.keys, k.Text)
			n.kids = append(n.kids, v)
		}
	case yamlnode.Seq:
		n.kind = kArray
		for _, it := range y.Items {
			v, err := fromYAML(it)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, v)
		}
	}
	return n, nil
}

// ---- conversions ----------------------------------------------------------

// compactJSON writes the node as compact JSON, keys in document order.
func (n *node) compactJSON() json.RawMessage {
	var b bytes.Buffer
	n.writeJSON(&b)
	return b.Bytes()
}

func (n *node) writeJSON(b *bytes.Buffer) {
	switch n.kind {
	case kNull:
		b.WriteString("null")
	case kBool:
		b.WriteString(n.s)
	case kNumber:
		b.WriteString(n.s)
	case kString:
		writeJSONString(b, n.s)
	case kObject:
		b.WriteByte('{')
		for i, k := range n.keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeJSONString(b, k)
			b.WriteByte(':')
			n.kids[i].writeJSON(b)
		}
		b.WriteByte('}')
	case kArray:
		b.WriteByte('[')
		for i, k := range n.kids {
			if i > 0 {
				b.WriteByte(',')
			}
			k.writeJSON(b)
		}
		b.WriteByte(']')
	}
}

func writeJSONString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s)
	b.Write(enc)
}

// value converts the node to plain Go data: nil, bool, string, int64 or
// float64, []any, map[string]any.
func (n *node) value() any {
	switch n.kind {
	case kBool:
		return n.s == "true"
	case kNumber:
		return numberValue(n.s)
	case kString:
		return n.s
	case kObject:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.kids[i].value()
		}
		return m
	case kArray:
		l := make([]any, len(n.kids))
		for i, k := range n.kids {
			l[i] = k.value()
		}
		return l
	}
	return nil
}

func numberValue(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return f
}

// rawToNode parses stored raw JSON back into a node (positions are lost).
func rawToNode(raw json.RawMessage) *node {
	n, _, err := parseJSON(raw)
	if err != nil {
		return &node{kind: kNull}
	}
	return n
}

// valueToNode converts plain Go data (as produced by node.value) to a node.
func valueToNode(v any) *node {
	switch t := v.(type) {
	case nil:
		return &node{kind: kNull}
	case bool:
		return &node{kind: kBool, s: strconv.FormatBool(t)}
	case string:
		return &node{kind: kString, s: t}
	case int:
		return &node{kind: kNumber, s: strconv.Itoa(t)}
	case int64:
		return &node{kind: kNumber, s: strconv.FormatInt(t, 10)}
	case uint64:
		return &node{kind: kNumber, s: strconv.FormatUint(t, 10)}
	case float64:
		return &node{kind: kNumber, s: strconv.FormatFloat(t, 'g', -1, 64)}
	case json.Number:
		return &node{kind: kNumber, s: t.String()}
	case map[string]any:
		n := &node{kind: kObject}
		for _, k := range sortedKeys(t) {
			n.keys = append(n.keys, k)
			n.kids = append(n.kids, valueToNode(t[k]))
		}
		return n
	case []any:
		n := &node{kind: kArray}
		for _, e := range t {
			n.kids = append(n.kids, valueToNode(e))
		}
		return n
	case []string:
		n := &node{kind: kArray}
		for _, e := range t {
			n.kids = append(n.kids, valueToNode(e))
		}
		return n
	}
	return &node{kind: kString, s: fmt.Sprint(v)}
}
