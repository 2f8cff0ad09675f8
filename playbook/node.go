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

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
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
func parseYAML(data []byte) (n *node, err error) {
	if len(data) > maxInput {
		return nil, fmt.Errorf("document is %d bytes, more than the %d allowed", len(data), maxInput)
	}
	if !utf8.Valid(data) {
		return nil, errors.New("document is not valid UTF-8")
	}
	defer func() {
		// The YAML parser is third-party code fed untrusted input; a panic
		// in it must not take the caller down.
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("YAML syntax: parser failure: %v", r)
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlSyntaxError(err)
	}
	var docs []ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d.Body)
		}
	}
	switch len(docs) {
	case 0:
		return nil, errors.New("empty document")
	case 1:
	default:
		return nil, errors.New("more than one YAML document: put one playbook per file")
	}
	return convertYAML(docs[0], 0)
}

// yamlError carries a YAML syntax error with its position.
type yamlError struct {
	line, col int
	msg       string
}

func (e *yamlError) Error() string { return e.msg }

func yamlSyntaxError(err error) error {
	msg := strings.TrimSpace(err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	ye := &yamlError{msg: "YAML syntax: " + msg}
	var te interface{ GetToken() *token.Token }
	if errors.As(err, &te) {
		if tk := te.GetToken(); tk != nil && tk.Position != nil {
			ye.line, ye.col = tk.Position.Line, tk.Position.Column
		}
	}
	return ye
}

func tokPos(n ast.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line, t.Position.Column
	}
	return 0, 0
}

func convertYAML(an ast.Node, depth int) (*node, error) {
	if depth > maxDepth {
		l, c := tokPos(an)
		return nil, &yamlError{l, c, fmt.Sprintf("nesting deeper than %d", maxDepth)}
	}
	l, c := tokPos(an)
	n := &node{line: l, col: c}
	switch t := an.(type) {
	case nil:
		n.kind = kNull
	case *ast.NullNode:
		n.kind = kNull
	case *ast.BoolNode:
		n.kind, n.s = kBool, strconv.FormatBool(t.Value)
	case *ast.IntegerNode:
		n.kind = kNumber
		switch v := t.Value.(type) {
		case int64:
			n.s = strconv.FormatInt(v, 10)
		case uint64:
			n.s = strconv.FormatUint(v, 10)
		default:
			n.s = fmt.Sprint(v)
		}
	case *ast.FloatNode:
		if math.IsInf(t.Value, 0) || math.IsNaN(t.Value) {
			return nil, &yamlError{l, c, "YAML: infinite or NaN numbers are not allowed"}
		}
		n.kind, n.s = kNumber, strconv.FormatFloat(t.Value, 'g', -1, 64)
	case *ast.InfinityNode, *ast.NanNode:
		return nil, &yamlError{l, c, "YAML: infinite or NaN numbers are not allowed"}
	case *ast.StringNode:
		n.kind, n.s = kString, t.Value
	case *ast.LiteralNode:
		n.kind = kString
		if t.Value != nil {
			n.s = t.Value.Value
		}
	case *ast.TagNode:
		return convertYAML(t.Value, depth+1)
	case *ast.AnchorNode, *ast.AliasNode, *ast.MergeKeyNode:
		return nil, &yamlError{l, c, "YAML anchors, aliases and merge keys are not supported in playbooks"}
	case *ast.MappingNode:
		n.kind = kObject
		seen := map[string]bool{}
		for _, mv := range t.Values {
			k, err := yamlKey(mv.Key)
			if err != nil {
				return nil, err
			}
			kl, kc := tokPos(mv.Key)
			if seen[k] {
				return nil, &yamlError{kl, kc, fmt.Sprintf("YAML: duplicate key %q", k)}
			}
			seen[k] = true
			v, err := convertYAML(mv.Value, depth+1)
			if err != nil {
				return nil, err
			}
			if v.kind == kNull || v.line == 0 {
				v.line, v.col = kl, kc
			}
			n.keys = append(n.keys, k)
			n.kids = append(n.kids, v)
		}
	case *ast.MappingValueNode:
		return convertYAML(&ast.MappingNode{BaseNode: t.BaseNode, Values: []*ast.MappingValueNode{t}}, depth)
	case *ast.SequenceNode:
		n.kind = kArray
		for _, v := range t.Values {
			k, err := convertYAML(v, depth+1)
			if err != nil {
				return nil, err
			}
			n.kids = append(n.kids, k)
		}
	case *ast.CommentGroupNode, *ast.CommentNode:
		n.kind = kNull
	default:
		return nil, &yamlError{l, c, fmt.Sprintf("YAML: unsupported node %s", an.Type())}
	}
	return n, nil
}

func yamlKey(k ast.MapKeyNode) (string, error) {
	l, c := tokPos(k)
	switch t := ast.Node(k).(type) {
	case *ast.StringNode:
		return t.Value, nil
	case *ast.MappingKeyNode:
		return "", &yamlError{l, c, "YAML: complex keys ('? ') are not supported"}
	case *ast.MergeKeyNode:
		return "", &yamlError{l, c, "YAML anchors, aliases and merge keys are not supported in playbooks"}
	case *ast.TagNode, *ast.AnchorNode, *ast.AliasNode:
		return "", &yamlError{l, c, "YAML: tags, anchors and aliases are not supported on keys"}
	case nil:
		return "", &yamlError{l, c, "YAML: empty key"}
	default:
		// Numbers and booleans as keys (switch cases "1:", "2:") are read as
		// their text.
		if tk := k.GetToken(); tk != nil {
			return tk.Value, nil
		}
		return "", &yamlError{l, c, "YAML: unsupported key"}
	}
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
