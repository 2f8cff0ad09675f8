// Package yamlnode is the one walker over goccy/go-yaml syntax trees in
// Riposte. The configuration file, Sigma rules and playbooks all need what
// generic YAML decoders throw away: the line and column of every key and
// value, the order of keys, and whether a scalar was written as a string or
// as a number. Each reads the tree this package builds and applies its own
// rules on top; the rules that differ between them (anchors and aliases,
// merge keys, duplicate and complex keys) are options here.
package yamlnode

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Kind is the shape of a node once tags, anchors and aliases are resolved.
type Kind uint8

const (
	Null Kind = iota
	String
	Int
	Float // including .inf and .nan
	Bool
	Map
	Seq
)

// Node is a YAML value with its position.
type Node struct {
	Kind      Kind
	Line, Col int // where the value starts; 0 when goccy gives no position
	// AliasLine is the line of the alias a value was reached through (its
	// Line is where the anchored value is written).
	AliasLine int
	// Text is a string's value; for other scalars the text as written.
	Text string
	// Value is a scalar's decoded value: string, int64, uint64, float64,
	// bool, or nil.
	Value any
	Tag   string  // an explicit tag such as !!str, "" when none
	Keys  []*Node // Map: keys in document order
	Vals  []*Node // Map: values, parallel to Keys
	Items []*Node // Seq
	// Src is the goccy node the value came from (tags, anchors and aliases
	// resolved), for callers that keep a subtree as YAML text.
	Src ast.Node
}

// IsScalar reports whether the node is neither a mapping nor a list.
func (n *Node) IsScalar() bool { return n != nil && n.Kind != Map && n.Kind != Seq }

// Options are the rules that differ between Riposte's YAML formats.
type Options struct {
	// MaxDepth bounds nesting, so hostile input cannot exhaust the stack.
	MaxDepth int
	// Aliases resolves anchors (&a) and aliases (*a); when false they are
	// refused. MaxAliases bounds how many aliases are expanded and
	// MaxExpanded how many nodes the expansions produce in all, against
	// "billion laughs" files and aliases to one huge value (0: no limit).
	Aliases     bool
	MaxAliases  int
	MaxExpanded int
	// MergeKeys resolves << merge keys (with Aliases); when false they are
	// refused.
	MergeKeys bool
	// PlainKeys refuses keys that are not plain scalars: complex keys
	// ("? "), tags, anchors and aliases on keys, and empty keys.
	PlainKeys bool
	// UniqueKeys refuses a key written twice in one mapping.
	UniqueKeys bool
	// RefusedMsg is the message for a refused anchor, alias or merge key.
	RefusedMsg string
}

// Error is a conversion error with the position of the offending node and
// the path to it from the document root.
type Error struct {
	Line, Col int
	Path      []PathElem // outermost first
	Msg       string
}

func (e *Error) Error() string { return e.Msg }

// PathElem is one step from a document's root: a key or a list index.
type PathElem struct {
	Key   string
	Index int
	IsIdx bool
}

// SyntaxError is a YAML syntax error with its position when goccy gives one.
type SyntaxError struct {
	Line, Col int
	Err       error
}

func (e *SyntaxError) Error() string { return e.Err.Error() }
func (e *SyntaxError) Unwrap() error { return e.Err }

// FirstLine is the first line of the message without goccy's "[l:c] "
// prefix, for one-line error reports.
func (e *SyntaxError) FirstLine() string {
	msg := strings.TrimSpace(e.Err.Error())
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	if strings.HasPrefix(msg, "[") {
		if j := strings.Index(msg, "] "); j > 0 {
			msg = msg[j+2:]
		}
	}
	return msg
}

// Doc is one document of a file.
type Doc struct {
	Index int // 1-based, among documents with content
	Body  *Node
}

// Parse parses every document of a YAML file; documents with only comments
// are left out. Anchors are shared by all documents, as goccy resolves
// them.
func Parse(data []byte, opt Options) (docs []Doc, err error) {
	defer func() {
		// goccy is third-party code run on untrusted input; a panic in it
		// must become an error, not take the caller down.
		if r := recover(); r != nil {
			docs, err = nil, &SyntaxError{Err: fmt.Errorf("YAML parser failure: %v", r)}
		}
	}()
	f, perr := parser.ParseBytes(data, 0)
	if perr != nil {
		se := &SyntaxError{Err: perr}
		var te interface{ GetToken() *token.Token }
		if errors.As(perr, &te) {
			if tk := te.GetToken(); tk != nil && tk.Position != nil {
				se.Line, se.Col = tk.Position.Line, tk.Position.Column
			}
		}
		return nil, se
	}
	c := &conv{opt: opt, anchors: map[string]ast.Node{}}
	if opt.Aliases {
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
	}
	for _, d := range f.Docs {
		if d == nil || d.Body == nil {
			continue
		}
		if _, ok := d.Body.(*ast.CommentGroupNode); ok {
			continue
		}
		n, err := c.node(d.Body, 0)
		if err != nil {
			return docs, err
		}
		docs = append(docs, Doc{Index: len(docs) + 1, Body: n})
	}
	return docs, nil
}

type conv struct {
	opt      Options
	anchors  map[string]ast.Node
	aliases  int
	inAlias  int // depth of alias expansions being converted
	expanded int // nodes produced by alias expansions
}

func pos(n ast.Node) (int, int) {
	if n == nil {
		return 0, 0
	}
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line, t.Position.Column
	}
	return 0, 0
}

func fail(n ast.Node, format string, a ...any) *Error {
	l, c := pos(n)
	return &Error{Line: l, Col: c, Msg: fmt.Sprintf(format, a...)}
}

// within prepends a path step to an error coming up from a child.
func within(err error, p PathElem) error {
	var e *Error
	if errors.As(err, &e) {
		e.Path = append([]PathElem{p}, e.Path...)
	}
	return err
}

func (c *conv) refused(n ast.Node) error {
	msg := c.opt.RefusedMsg
	if msg == "" {
		msg = "YAML anchors, aliases and merge keys are not supported here"
	}
	return fail(n, "%s", msg)
}

// tokenText is a scalar as written.
func tokenText(n ast.Node) string {
	if t := n.GetToken(); t != nil {
		return t.Value
	}
	return ""
}

func (c *conv) node(an ast.Node, depth int) (*Node, error) {
	if c.opt.MaxDepth > 0 && depth > c.opt.MaxDepth {
		return nil, fail(an, "YAML nested deeper than %d levels", c.opt.MaxDepth)
	}
	if c.inAlias > 0 {
		c.expanded++
		if c.opt.MaxExpanded > 0 && c.expanded > c.opt.MaxExpanded {
			return nil, fail(an, "YAML aliases expand to more than %d values", c.opt.MaxExpanded)
		}
	}
	l, col := pos(an)
	n := &Node{Line: l, Col: col, Src: an}
	switch t := an.(type) {
	case nil:
		n.Kind = Null
	case *ast.NullNode:
		n.Kind, n.Text = Null, tokenText(t)
	case *ast.StringNode:
		n.Kind, n.Text, n.Value = String, t.Value, t.Value
	case *ast.LiteralNode:
		n.Kind = String
		if t.Value != nil {
			n.Text = t.Value.Value
		}
		n.Value = n.Text
	case *ast.IntegerNode:
		n.Kind, n.Text, n.Value = Int, tokenText(t), t.Value
	case *ast.FloatNode:
		n.Kind, n.Text, n.Value = Float, tokenText(t), t.Value
	case *ast.InfinityNode:
		n.Kind, n.Text, n.Value = Float, tokenText(t), t.Value
	case *ast.NanNode:
		n.Kind, n.Text, n.Value = Float, tokenText(t), t.GetValue()
	case *ast.BoolNode:
		n.Kind, n.Text, n.Value = Bool, tokenText(t), t.Value
	case *ast.TagNode:
		v, err := c.node(t.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if t.Start != nil {
			v.Tag = t.Start.Value
		}
		return v, nil
	case *ast.AnchorNode:
		if !c.opt.Aliases {
			return nil, c.refused(an)
		}
		return c.node(t.Value, depth+1)
	case *ast.AliasNode:
		if !c.opt.Aliases {
			return nil, c.refused(an)
		}
		name := ""
		if t.Value != nil {
			name = t.Value.GetToken().Value
		}
		a, ok := c.anchors[name]
		if !ok {
			return nil, fail(an, "alias *%s names no anchor &%s", name, name)
		}
		c.aliases++
		if c.opt.MaxAliases > 0 && c.aliases > c.opt.MaxAliases {
			return nil, fail(an, "more than %d YAML aliases", c.opt.MaxAliases)
		}
		c.inAlias++
		v, err := c.node(a, depth+1)
		c.inAlias--
		if err != nil {
			return nil, err
		}
		v.AliasLine = l
		return v, nil
	case *ast.MappingNode:
		return c.mapping(n, t.Values, depth)
	case *ast.MappingValueNode:
		return c.mapping(n, []*ast.MappingValueNode{t}, depth)
	case *ast.SequenceNode:
		n.Kind = Seq
		for i, it := range t.Values {
			v, err := c.node(it, depth+1)
			if err != nil {
				return nil, within(err, PathElem{Index: i, IsIdx: true})
			}
			n.Items = append(n.Items, v)
		}
	case *ast.CommentGroupNode, *ast.CommentNode:
		n.Kind = Null
	case *ast.MergeKeyNode:
		return nil, c.refused(an)
	default:
		return nil, fail(an, "unsupported YAML construct %s", an.Type())
	}
	return n, nil
}

func (c *conv) mapping(n *Node, vals []*ast.MappingValueNode, depth int) (*Node, error) {
	n.Kind = Map
	var seen map[string]bool
	if c.opt.UniqueKeys {
		seen = map[string]bool{}
	}
	// merged maps the keys taken from << to their position: a key written
	// in the mapping itself overrides a merged one wherever << stands.
	var merged map[string]int
	for _, mv := range vals {
		if mv == nil {
			continue
		}
		if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
			if !c.opt.MergeKeys || !c.opt.Aliases {
				return nil, c.refused(mv.Key)
			}
			v, err := c.node(mv.Value, depth+1)
			if err != nil {
				return nil, err
			}
			if v.Kind != Map {
				return nil, fail(mv, "merge key << needs a mapping")
			}
			if merged == nil {
				merged = map[string]int{}
			}
			for i, k := range v.Keys {
				if !n.hasCanonical(k.Canonical()) {
					merged[k.Canonical()] = len(n.Keys)
					n.Keys = append(n.Keys, k)
					n.Vals = append(n.Vals, v.Vals[i])
				}
			}
			continue
		}
		k, err := c.key(mv.Key, depth)
		if err != nil {
			return nil, err
		}
		if seen != nil {
			if seen[k.Text] {
				return nil, fail(mv.Key, "YAML: duplicate key %q", k.Text)
			}
			seen[k.Text] = true
		}
		v, err := c.node(mv.Value, depth+1)
		if err != nil {
			return nil, within(err, PathElem{Key: k.Text})
		}
		if i, ok := merged[k.Canonical()]; ok {
			delete(merged, k.Canonical())
			n.Keys[i], n.Vals[i] = k, v
			continue
		}
		n.Keys = append(n.Keys, k)
		n.Vals = append(n.Vals, v)
	}
	return n, nil
}

func (c *conv) key(k ast.MapKeyNode, depth int) (*Node, error) {
	if c.opt.PlainKeys {
		switch ast.Node(k).(type) {
		case *ast.MappingKeyNode:
			return nil, fail(k, "YAML: complex keys ('? ') are not supported")
		case *ast.TagNode, *ast.AnchorNode, *ast.AliasNode:
			return nil, fail(k, "YAML: tags, anchors and aliases are not supported on keys")
		case nil:
			return nil, fail(k, "YAML: empty key")
		}
	}
	var an ast.Node = k
	if mk, ok := k.(*ast.MappingKeyNode); ok {
		an = mk.Value
	}
	v, err := c.node(an, depth+1)
	if err != nil {
		return nil, err
	}
	if !v.IsScalar() {
		return nil, fail(an, "mapping key must be a single value, not a %s", map[Kind]string{Map: "mapping", Seq: "list"}[v.Kind])
	}
	if v.Line == 0 {
		v.Line, v.Col = pos(k)
	}
	return v, nil
}

func (n *Node) hasCanonical(key string) bool {
	for _, k := range n.Keys {
		if k.Canonical() == key {
			return true
		}
	}
	return false
}

// Get returns the value of the first key whose text is key, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != Map {
		return nil
	}
	for i, k := range n.Keys {
		if k.Text == key {
			return n.Vals[i]
		}
	}
	return nil
}

// Canonical is a scalar's text with numbers in canonical form (0x10 is 16,
// 1_000 is 1000) and booleans as true or false.
func (n *Node) Canonical() string {
	switch v := n.Value.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case bool:
		return strconv.FormatBool(v)
	}
	if n.Kind == Null {
		return ""
	}
	return n.Text
}
