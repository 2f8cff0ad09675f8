package sigma

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// ykind is the shape of a YAML node once tags, anchors and aliases are
// resolved.
type ykind uint8

const (
	yNull ykind = iota
	yString
	yInt
	yFloat
	yBool
	yMap
	ySeq
)

// ynode is a YAML value with the line it starts on. Sigma needs three things
// the generic decoders throw away: the line of every key (errors must point
// at it), the order of keys, and whether a scalar was written as a string or
// as a number/bool/null (EventID: 4688 vs '4688' vs null behave differently).
type ynode struct {
	kind  ykind
	line  int
	str   string // scalars: the string value, or the text of a number/bool
	i     int64  // yInt
	f     float64
	b     bool
	keys  []string
	klns  []int // line of each key
	vals  []*ynode
	items []*ynode
}

func (n *ynode) get(key string) (*ynode, int) {
	if n == nil || n.kind != yMap {
		return nil, 0
	}
	for i, k := range n.keys {
		if k == key {
			return n.vals[i], n.klns[i]
		}
	}
	return nil, 0
}

func (n *ynode) isScalar() bool { return n != nil && n.kind != yMap && n.kind != ySeq }

// text is a scalar's string form: the value of a string, the canonical
// decimal form of an integer, the text as written for floats and booleans.
func (n *ynode) text() string {
	switch n.kind {
	case yInt:
		return strconv.FormatInt(n.i, 10)
	case yNull:
		return ""
	}
	return n.str
}

func (n *ynode) kindName() string {
	switch n.kind {
	case yNull:
		return "null"
	case yString:
		return "a string"
	case yInt, yFloat:
		return "a number"
	case yBool:
		return "a boolean"
	case yMap:
		return "a mapping"
	}
	return "a list"
}

// value converts the node to plain Go values for Rule.Doc.
func (n *ynode) value() any {
	if n == nil {
		return nil
	}
	switch n.kind {
	case yString:
		return n.str
	case yInt:
		return n.i
	case yFloat:
		return n.f
	case yBool:
		return n.b
	case yMap:
		m := make(map[string]any, len(n.keys))
		for i, k := range n.keys {
			m[k] = n.vals[i].value()
		}
		return m
	case ySeq:
		a := make([]any, len(n.items))
		for i, it := range n.items {
			a[i] = it.value()
		}
		return a
	}
	return nil
}

// ydoc is one document of a file.
type ydoc struct {
	index int // 1-based position in the file
	line  int
	body  *ynode
}

// maxYAMLDepth bounds nesting: deeper input is not a Sigma rule and would
// only cost stack.
const maxYAMLDepth = 64

// parseYAML splits a file into documents. A syntax error makes the whole
// file unusable, as goccy stops at the first one; it is returned with its
// line.
func parseYAML(data []byte) (docs []ydoc, errLine int, err error) {
	defer func() {
		// The YAML library is third-party code run on untrusted input; a
		// panic in it must become a load error, not take the engine down.
		if r := recover(); r != nil {
			docs, errLine, err = nil, 0, fmt.Errorf("YAML parser failed: %v", r)
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		msg := strings.TrimSpace(perr.Error())
		if i := strings.IndexByte(msg, '\n'); i >= 0 {
			msg = msg[:i]
		}
		// goccy prefixes "[line:col] "; the line goes in LoadError.Line.
		if strings.HasPrefix(msg, "[") {
			if j := strings.Index(msg, "] "); j > 0 {
				msg = msg[j+2:]
			}
		}
		var te interface{ GetToken() *token.Token }
		if errors.As(perr, &te) {
			if tk := te.GetToken(); tk != nil && tk.Position != nil {
				errLine = tk.Position.Line
			}
		}
		return nil, errLine, errors.New("YAML syntax: " + msg)
	}
	c := &yconv{anchors: map[string]ast.Node{}}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		for _, a := range ast.Filter(ast.AnchorType, d.Body) {
			if a, ok := a.(*ast.AnchorNode); ok && a.Name != nil {
				c.anchors[a.Name.GetToken().Value] = a.Value
			}
		}
	}
	idx := 0
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		idx++
		n, cerr := c.conv(d.Body, 0)
		if cerr != nil {
			return docs, c.errLine, cerr
		}
		docs = append(docs, ydoc{index: idx, line: n.line, body: n})
	}
	return docs, 0, nil
}

type yconv struct {
	anchors map[string]ast.Node
	errLine int
	aliases int
}

func nodeLine(n ast.Node) int {
	if n == nil {
		return 0
	}
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line
	}
	return 0
}

func (c *yconv) fail(n ast.Node, format string, a ...any) error {
	c.errLine = nodeLine(n)
	return fmt.Errorf(format, a...)
}

func (c *yconv) conv(n ast.Node, depth int) (*ynode, error) {
	if depth > maxYAMLDepth {
		return nil, c.fail(n, "YAML nested deeper than %d levels", maxYAMLDepth)
	}
	line := nodeLine(n)
	switch t := n.(type) {
	case nil:
		return &ynode{kind: yNull}, nil
	case *ast.NullNode:
		return &ynode{kind: yNull, line: line}, nil
	case *ast.StringNode:
		return &ynode{kind: yString, line: line, str: t.Value}, nil
	case *ast.LiteralNode:
		s := ""
		if t.Value != nil {
			s = t.Value.Value
		}
		return &ynode{kind: yString, line: line, str: s}, nil
	case *ast.IntegerNode:
		y := &ynode{kind: yInt, line: line, str: t.GetToken().Value}
		switch v := t.Value.(type) {
		case int64:
			y.i = v
		case uint64:
			// Beyond int64: keep it as text, which is how it compares.
			y.kind = yString
			y.str = strconv.FormatUint(v, 10)
		}
		return y, nil
	case *ast.FloatNode:
		return &ynode{kind: yFloat, line: line, f: t.Value, str: t.GetToken().Value}, nil
	case *ast.InfinityNode:
		return &ynode{kind: yFloat, line: line, f: t.Value, str: t.GetToken().Value}, nil
	case *ast.NanNode:
		return &ynode{kind: yString, line: line, str: t.GetToken().Value}, nil
	case *ast.BoolNode:
		return &ynode{kind: yBool, line: line, b: t.Value, str: strconv.FormatBool(t.Value)}, nil
	case *ast.TagNode:
		v, err := c.conv(t.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if tag := t.Start.Value; (tag == "!!str" || tag == "tag:yaml.org,2002:str") && v.isScalar() {
			v.str = v.text()
			v.kind = yString
		}
		return v, nil
	case *ast.AnchorNode:
		return c.conv(t.Value, depth+1)
	case *ast.AliasNode:
		name := ""
		if t.Value != nil {
			name = t.Value.GetToken().Value
		}
		a, ok := c.anchors[name]
		if !ok {
			return nil, c.fail(n, "alias *%s names no anchor", name)
		}
		// Alias bombs ("billion laughs") expand exponentially; a rule
		// never needs many aliases.
		c.aliases++
		if c.aliases > 1000 {
			return nil, c.fail(n, "too many YAML aliases")
		}
		return c.conv(a, depth+1)
	case *ast.MappingNode:
		return c.mapping(t.Values, line, depth)
	case *ast.MappingValueNode:
		return c.mapping([]*ast.MappingValueNode{t}, line, depth)
	case *ast.SequenceNode:
		y := &ynode{kind: ySeq, line: line}
		for _, it := range t.Values {
			v, err := c.conv(it, depth+1)
			if err != nil {
				return nil, err
			}
			y.items = append(y.items, v)
		}
		return y, nil
	case *ast.CommentGroupNode:
		return &ynode{kind: yNull, line: line}, nil
	}
	return nil, c.fail(n, "unsupported YAML construct %s", n.Type())
}

func (c *yconv) mapping(vals []*ast.MappingValueNode, line, depth int) (*ynode, error) {
	y := &ynode{kind: yMap, line: line}
	for _, mv := range vals {
		if mv == nil {
			continue
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			v, err := c.conv(mv.Value, depth+1)
			if err != nil {
				return nil, err
			}
			if v.kind != yMap {
				return nil, c.fail(mv, "merge key << needs a mapping")
			}
			for i, k := range v.keys {
				if _, l := y.get(k); l == 0 {
					y.keys = append(y.keys, k)
					y.klns = append(y.klns, v.klns[i])
					y.vals = append(y.vals, v.vals[i])
				}
			}
			continue
		}
		key, err := c.keyText(mv.Key, depth)
		if err != nil {
			return nil, err
		}
		v, err := c.conv(mv.Value, depth+1)
		if err != nil {
			return nil, err
		}
		kl := nodeLine(mv.Key)
		if v.line == 0 {
			v.line = kl
		}
		if y.line == 0 {
			y.line = kl
		}
		y.keys = append(y.keys, key)
		y.klns = append(y.klns, kl)
		y.vals = append(y.vals, v)
	}
	return y, nil
}

func (c *yconv) keyText(k ast.MapKeyNode, depth int) (string, error) {
	var n ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		n = mk.Value
	}
	v, err := c.conv(n, depth+1)
	if err != nil {
		return "", err
	}
	if !v.isScalar() {
		return "", c.fail(n, "mapping key must be a single value, not %s", v.kindName())
	}
	if v.kind == yNull {
		return "", nil
	}
	return v.text(), nil
}
