package sigma

import (
	"errors"
	"math"
	"strconv"

	"github.com/riposte-soar/riposte/internal/yamlnode"
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

// ynode is a YAML value with the line it starts on, taken from the shared
// tree of internal/yamlnode. Sigma needs three things the generic decoders
// throw away: the line of every key (errors must point at it), the order of
// keys, and whether a scalar was written as a string or as a
// number/bool/null (EventID: 4688 vs '4688' vs null behave differently).
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
// line. Anchors, aliases and merge keys are resolved: Sigma rule
// collections use them.
func parseYAML(data []byte) (docs []ydoc, errLine int, err error) {
	yd, err := yamlnode.Parse(data, yamlnode.Options{
		MaxDepth: maxYAMLDepth,
		Aliases:  true, MergeKeys: true,
		// Alias bombs ("billion laughs") expand exponentially; a rule
		// never needs many aliases.
		MaxAliases: 1000, MaxExpanded: 1 << 17,
	})
	var se *yamlnode.SyntaxError
	if errors.As(err, &se) {
		return nil, se.Line, errors.New("YAML syntax: " + se.FirstLine())
	}
	for _, d := range yd {
		n := fromNode(d.Body)
		docs = append(docs, ydoc{index: d.Index, line: n.line, body: n})
	}
	var ye *yamlnode.Error
	if errors.As(err, &ye) {
		return docs, ye.Line, err
	}
	return docs, 0, err
}

// fromNode takes the shared YAML tree into Sigma's shape: integers beyond
// int64 and NaN compare as text, !!str makes any scalar a string, and a
// value or mapping without a position takes its first key's line.
func fromNode(n *yamlnode.Node) *ynode {
	if n == nil {
		return &ynode{kind: yNull}
	}
	y := &ynode{line: n.Line}
	switch n.Kind {
	case yamlnode.Null:
		y.kind = yNull
	case yamlnode.String:
		y.kind, y.str = yString, n.Text
	case yamlnode.Int:
		y.kind, y.str = yInt, n.Text
		switch v := n.Value.(type) {
		case int64:
			y.i = v
		case uint64:
			// Beyond int64: keep it as text, which is how it compares.
			y.kind, y.str = yString, strconv.FormatUint(v, 10)
		}
	case yamlnode.Float:
		y.kind, y.str = yFloat, n.Text
		y.f, _ = n.Value.(float64)
		if math.IsNaN(y.f) {
			y.kind = yString
		}
	case yamlnode.Bool:
		y.b, _ = n.Value.(bool)
		y.kind, y.str = yBool, strconv.FormatBool(y.b)
	case yamlnode.Seq:
		y.kind = ySeq
		for _, it := range n.Items {
			y.items = append(y.items, fromNode(it))
		}
	case yamlnode.Map:
		y.kind = yMap
		for i, k := range n.Keys {
			v := fromNode(n.Vals[i])
			if v.line == 0 {
				v.line = k.Line
			}
			if y.line == 0 {
				y.line = k.Line
			}
			y.keys = append(y.keys, k.Canonical())
			y.klns = append(y.klns, k.Line)
			y.vals = append(y.vals, v)
		}
	}
	if (n.Tag == "!!str" || n.Tag == "tag:yaml.org,2002:str") && y.isScalar() {
		y.str = y.text()
		y.kind = yString
	}
	return y
}
