package intel

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// find returns the imported indicator of kind and value.
func find(t *testing.T, inds []Indicator, kind Kind, value string) *Indicator {
	t.Helper()
	for i := range inds {
		if inds[i].Kind == kind && inds[i].Value == value {
			return &inds[i]
		}
	}
	t.Errorf("no %s %q among %d indicators", kind, value, len(inds))
	return nil
}

func openTestdata(t testing.TB, name string) *os.File {
	t.Helper()
	f, err := os.Open("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func hasProblem(res Result, where, msg string) bool {
	return slices.ContainsFunc(res.Problems, func(p Problem) bool {
		return strings.Contains(p.Where, where) && strings.Contains(p.Msg, msg)
	})
}
