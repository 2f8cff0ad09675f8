package openc2

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// maxDepth bounds JSON nesting so hostile input cannot exhaust the stack.
const maxDepth = 64

// parseJSON decodes data into generic values (map[string]any, []any,
// json.Number, string, bool, nil), rejecting duplicate object keys,
// trailing data and excessive nesting.
func parseJSON(data []byte) (any, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("openc2: empty message")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	v, err := parseValue(dec, "", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("openc2: trailing data after JSON value")
	}
	return v, nil
}

func parseValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("openc2: %s: JSON nesting deeper than %d", pathOrRoot(path), maxDepth)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("openc2: %s: invalid JSON: %v", pathOrRoot(path), err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, fmt.Errorf("openc2: %s: invalid JSON: %v", pathOrRoot(path), err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, fmt.Errorf("openc2: %s: invalid JSON object key", pathOrRoot(path))
				}
				sub := join(path, k)
				if _, dup := m[k]; dup {
					return nil, fmt.Errorf("openc2: %s: duplicate key", sub)
				}
				v, err := parseValue(dec, sub, depth+1)
				if err != nil {
					return nil, err
				}
				m[k] = v
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("openc2: %s: invalid JSON: %v", pathOrRoot(path), err)
			}
			return m, nil
		case '[':
			a := []any{}
			for i := 0; dec.More(); i++ {
				v, err := parseValue(dec, fmt.Sprintf("%s[%d]", path, i), depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, fmt.Errorf("openc2: %s: invalid JSON: %v", pathOrRoot(path), err)
			}
			return a, nil
		}
		return nil, fmt.Errorf("openc2: %s: invalid JSON", pathOrRoot(path))
	default:
		return t, nil
	}
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func pathOrRoot(p string) string {
	if p == "" {
		return "(root)"
	}
	return p
}
