package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// decode walks the YAML tree itself, instead of unmarshalling in one go, so
// that it can report every unknown key and wrong value with its line rather
// than stopping at the first.
func decode(data []byte, c *Config, lines map[string]int) Problems {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		p := Problem{Path: "(file)", Msg: "YAML syntax: " + strings.TrimSpace(err.Error())}
		var te interface{ GetToken() *token.Token }
		if errors.As(err, &te) {
			if tk := te.GetToken(); tk != nil && tk.Position != nil {
				p.Line = tk.Position.Line
			}
		}
		return Problems{p}
	}
	// Aliases (*name) stand for the value of their anchor (&name).
	anchors := map[string]ast.Node{}
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		for _, a := range ast.Filter(ast.AnchorType, doc.Body) {
			if a, ok := a.(*ast.AnchorNode); ok && a.Name != nil {
				anchors[a.Name.GetToken().Value] = a.Value
			}
		}
	}
	var ps Problems
	for _, doc := range f.Docs {
		if doc.Body == nil {
			continue
		}
		walk(doc.Body, reflect.ValueOf(c).Elem(), "", lines, anchors, &ps)
	}
	return ps
}

func line(n ast.Node) int {
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line
	}
	return 0
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func walk(n ast.Node, v reflect.Value, path string, lines map[string]int, anchors map[string]ast.Node, ps *Problems) {
	bad := func(format string, a ...any) {
		*ps = append(*ps, Problem{Path: pathOrRoot(path), Line: line(n), Msg: fmt.Sprintf(format, a...)})
	}
	for {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
			continue
		case *ast.AnchorNode:
			n = t.Value
			continue
		case *ast.AliasNode:
			name := ""
			if t.Value != nil {
				name = t.Value.GetToken().Value
			}
			a, ok := anchors[name]
			if !ok {
				bad("alias *%s names no anchor &%s", name, name)
				return
			}
			walk(a, v, path, lines, anchors, ps)
			if path != "" {
				lines[path] = line(n) // Validate points at the alias
			}
			return
		case *ast.CommentGroupNode:
			return
		}
		break
	}
	if path != "" {
		lines[path] = line(n)
	}
	if _, ok := n.(*ast.NullNode); ok {
		return // an empty key keeps its default
	}
	if v.Type() == rawType {
		v.Set(reflect.ValueOf(Raw{YAML: []byte(n.String()), Line: line(n)}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		m, ok := mapping(n)
		if !ok {
			bad("want a mapping of keys, got %s", kindOf(n))
			return
		}
		fields := map[string]int{}
		var known []string
		for i := 0; i < v.NumField(); i++ {
			tag := strings.Split(v.Type().Field(i).Tag.Get("yaml"), ",")[0]
			fields[tag] = i
			known = append(known, tag)
		}
		for _, mv := range m {
			key := mv.Key.String()
			if k, ok := mv.Key.(ast.ScalarNode); ok {
				key = scalarText(k) // without quotes or comments
			}
			i, ok := fields[key]
			if !ok {
				*ps = append(*ps, Problem{Path: join(path, key), Line: line(mv.Key),
					Msg: fmt.Sprintf("unknown key (known here: %s)", strings.Join(known, ", "))})
				continue
			}
			lines[join(path, key)] = line(mv.Key)
			walk(mv.Value, v.Field(i), join(path, key), lines, anchors, ps)
		}
	case reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			bad("want a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(seq.Values), len(seq.Values))
		for i, item := range seq.Values {
			walk(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), lines, anchors, ps)
		}
		v.Set(s)
	default:
		sc, ok := n.(ast.ScalarNode)
		if !ok {
			bad("want a single value, got %s", kindOf(n))
			return
		}
		raw := fmt.Sprint(sc.GetValue())
		if _, lit := sc.(*ast.LiteralNode); lit || v.Kind() == reflect.String {
			// A string keeps the text as written: 010 is not 8, 1.0 not 1.
			raw = scalarText(sc)
		}
		if err := setScalar(v, raw); err != nil {
			bad("%v", err)
		}
	}
}

// scalarText is a scalar's text: a string's unquoted value, a block
// scalar's content, and anything else as written in the file.
func scalarText(n ast.ScalarNode) string {
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value
	case *ast.LiteralNode:
		if t.Value != nil {
			return t.Value.Value
		}
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		if tok := n.GetToken(); tok != nil {
			return tok.Value
		}
	}
	return fmt.Sprint(n.GetValue())
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

func mapping(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

func kindOf(n ast.Node) string {
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	}
	return fmt.Sprintf("%q", n.String())
}

var (
	rawType      = reflect.TypeOf(Raw{})
	sizeType     = reflect.TypeOf(Size(0))
	durationType = reflect.TypeOf(Duration(0))
)

func setScalar(v reflect.Value, raw string) error {
	switch v.Type() {
	case sizeType:
		s, err := ParseSize(raw)
		if err != nil {
			return err
		}
		v.SetInt(int64(s))
		return nil
	case durationType:
		d, err := time.ParseDuration(raw)
		if err != nil {
			return fmt.Errorf("%q is not a duration like 30s, 15m or 24h", raw)
		}
		v.SetInt(int64(d))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not true or false", raw)
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not a whole number", raw)
		}
		v.SetInt(i)
	case reflect.Float64:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil {
			return fmt.Errorf("%q is not a number", raw)
		}
		v.SetFloat(f)
	default:
		return fmt.Errorf("cannot set a value of type %s", v.Type())
	}
	return nil
}
