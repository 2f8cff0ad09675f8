package ndjson

import (
	"strings"
	"testing"
)

type got struct {
	line int
	ok   bool
	err  string
}

func collect(body string, max int) []got {
	var out []got
	Read([]byte(body), max, func(it Item) {
		g := got{line: it.Line, ok: it.Err == nil}
		if it.Err != nil {
			g.err = it.Err.Error()
		}
		out = append(out, g)
	})
	return out
}

func TestShapes(t *testing.T) {
	cases := []struct {
		name string
		body string
		max  int
		want []got
	}{
		{"single object", `{"a":1}`, 0, []got{{1, true, ""}}},
		{"ndjson", "{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}\n", 0, []got{{1, true, ""}, {2, true, ""}, {4, true, ""}}},
		{"bad line in the middle", "{\"a\":1}\n{\"a\":\n{\"a\":3}", 0, []got{{1, true, ""}, {2, false, "invalid JSON"}, {3, true, ""}}},
		{"not an object", "{\"a\":1}\n[1,2]\n\"x\"\n", 0, []got{{1, true, ""}, {2, false, "not a JSON object (got an array)"}, {3, false, "a string"}}},
		{"concatenated on a line", "{\"a\":1} {\"b\":2}\n", 0, []got{{1, true, ""}, {1, true, ""}}},
		{"trailing garbage", "{\"a\":1}\n{\"a\":1} x\n", 0, []got{{1, true, ""}, {2, false, "after top-level value"}}},
		{"too large", "{\"a\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}\n{}\n", 20, []got{{1, false, "too large"}, {2, true, ""}}},
		{"array", "[\n {\"a\":1},\n {\"a\":2},\n 3\n]", 0, []got{{2, true, ""}, {3, true, ""}, {4, false, "not a JSON object"}}},
		{"array broken", "[{\"a\":1}, {\"a\":}]", 0, []got{{1, true, ""}, {1, false, "rest of the array"}}},
		{"array unclosed", "[{\"a\":1}", 0, []got{{1, true, ""}, {1, false, "not closed"}}},
		{"pretty stream", "{\n  \"a\": 1\n}\n{\n  \"b\": 2\n}\n", 0, []got{{1, true, ""}, {4, true, ""}}},
		{"pretty but broken falls back to lines", "{\n  \"a\": 1\n}\n{\n", 0, []got{{1, false, ""}, {2, false, ""}, {3, false, ""}, {4, false, ""}}},
		{"empty", " \n\t\n", 0, nil},
		{"bom", "\xef\xbb\xbf{\"a\":1}", 0, []got{{1, true, ""}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := collect(c.body, c.max)
			if len(g) != len(c.want) {
				t.Fatalf("got %d items %+v, want %d %+v", len(g), g, len(c.want), c.want)
			}
			for i := range g {
				if g[i].line != c.want[i].line || g[i].ok != c.want[i].ok || !strings.Contains(g[i].err, c.want[i].err) {
					t.Errorf("item %d = %+v, want %+v", i, g[i], c.want[i])
				}
			}
		})
	}
}

func TestNumbersKeepDigits(t *testing.T) {
	var obj map[string]any
	Read([]byte(`{"id":12345678901234567890}`), 0, func(it Item) { obj = it.Obj })
	if s := obj["id"].(interface{ String() string }).String(); s != "12345678901234567890" {
		t.Fatalf("id = %s", s)
	}
}

func FuzzRead(f *testing.F) {
	for _, s := range []string{`{"a":1}`, "{\"a\":1}\n{", "[{}, 1, {\"b\":[1,2]}]", "{\n\"a\":1\n}\n{}", "", "[", "\xef\xbb\xbf{}"} {
		f.Add([]byte(s), 16)
	}
	f.Fuzz(func(t *testing.T, body []byte, max int) {
		if max < 0 {
			max = -max
		}
		lines := strings.Count(string(body), "\n") + 1
		prevIndex := -1
		Read(body, max, func(it Item) {
			if it.Line < 1 || it.Line > lines {
				t.Fatalf("line %d outside 1..%d", it.Line, lines)
			}
			if it.Index <= prevIndex {
				t.Fatalf("index %d after %d", it.Index, prevIndex)
			}
			prevIndex = it.Index
			if (it.Err == nil) == (it.Obj == nil) {
				t.Fatalf("item must have exactly one of Obj and Err: %+v", it)
			}
			if it.Err == nil && max > 0 && len(it.Raw) > max {
				t.Fatalf("accepted item of %d bytes over limit %d", len(it.Raw), max)
			}
		})
	})
}
