package config

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/internal/yamlnode"
)

// maxAliases and maxExpanded bound how many aliases a file may expand and
// into how many values: a few lines of aliases to aliases ("billion
// laughs") would otherwise expand into billions of values.
const (
	maxAliases  = 10000
	maxExpanded = 1 << 17
)

// decode walks the YAML tree itself, instead of unmarshalling in one go, so
// that it can report every unknown key and wrong value with its line rather
// than stopping at the first.
func decode(data []byte, c *Config, lines map[string]int) Problems {
	// Aliases (*name) stand for the value of their anchor (&name), and <<
	// merges a mapping in, as YAML specifies.
	docs, err := yamlnode.Parse(data, yamlnode.Options{MaxDepth: 128, Aliases: true, MaxAliases: maxAliases, MaxExpanded: maxExpanded, MergeKeys: true})
	var se *yamlnode.SyntaxError
	if errors.As(err, &se) {
		return Problems{{Path: "(file)", Line: se.Line, Msg: "YAML syntax: " + strings.TrimSpace(se.Err.Error())}}
	}
	var ps Problems
	for _, doc := range docs {
		walk(doc.Body, reflect.ValueOf(c).Elem(), "", lines, &ps)
	}
	var ce *yamlnode.Error
	if errors.As(err, &ce) {
		path := ""
		for _, e := range ce.Path {
			if e.IsIdx {
				path = fmt.Sprintf("%s[%d]", path, e.Index)
			} else {
				path = join(path, e.Key)
			}
		}
		ps = append(ps, Problem{Path: pathOrRoot(path), Line: ce.Line, Msg: ce.Msg})
	}
	return ps
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func walk(n *yamlnode.Node, v reflect.Value, path string, lines map[string]int, ps *Problems) {
	bad := func(format string, a ...any) {
		*ps = append(*ps, Problem{Path: pathOrRoot(path), Line: n.Line, Msg: fmt.Sprintf(format, a...)})
	}
	if path != "" {
		lines[path] = n.Line
		if n.AliasLine != 0 {
			lines[path] = n.AliasLine // Validate points at the alias
		}
	}
	if n.Kind == yamlnode.Null {
		return // an empty key keeps its default
	}
	if v.Type() == rawType {
		v.Set(reflect.ValueOf(Raw{YAML: []byte(n.Src.String()), Line: n.Line}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yamlnode.Map {
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
		for j, k := range n.Keys {
			key := k.Text // without quotes or comments
			i, ok := fields[key]
			if !ok {
				*ps = append(*ps, Problem{Path: join(path, key), Line: k.Line,
					Msg: fmt.Sprintf("unknown key (known here: %s)", strings.Join(known, ", "))})
				continue
			}
			lines[join(path, key)] = k.Line
			walk(n.Vals[j], v.Field(i), join(path, key), lines, ps)
		}
	case reflect.Slice:
		if n.Kind != yamlnode.Seq {
			bad("want a list, got %s", kindOf(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Items), len(n.Items))
		for i, item := range n.Items {
			walk(item, s.Index(i), fmt.Sprintf("%s[%d]", path, i), lines, ps)
		}
		v.Set(s)
	default:
		if !n.IsScalar() {
			bad("want a single value, got %s", kindOf(n))
			return
		}
		raw := fmt.Sprint(n.Value)
		if n.Kind == yamlnode.String || v.Kind() == reflect.String {
			// A string keeps the text as written: 010 is not 8, 1.0 not 1.
			raw = n.Text
		}
		if err := setScalar(v, raw); err != nil {
			bad("%v", err)
		}
	}
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(top level)"
	}
	return p
}

func kindOf(n *yamlnode.Node) string {
	switch n.Kind {
	case yamlnode.Map:
		return "a mapping"
	case yamlnode.Seq:
		return "a list"
	}
	if n.Src == nil {
		return fmt.Sprintf("%q", n.Text)
	}
	return fmt.Sprintf("%q", n.Src.String())
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
