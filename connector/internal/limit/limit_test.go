package limit

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	if got := Text("short", 10); got != "short" {
		t.Fatal(got)
	}
	long := strings.Repeat("é", 1000)
	got := Text(long, 100)
	if len(got) > 100 || !utf8.ValidString(got) || !strings.Contains(got, "2000 bytes, truncated") {
		t.Fatalf("%d %q", len(got), got)
	}
}

func TestKeysForgetOldest(t *testing.T) {
	k := NewKeys(2)
	if !k.Add("a") || !k.Add("b") || k.Add("a") {
		t.Fatal("add")
	}
	k.Add("c")
	if k.Has("a") || !k.Has("b") || !k.Has("c") || k.Len() != 2 {
		t.Fatal("eviction")
	}
}
