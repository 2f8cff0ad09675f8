package corpus

import (
	"os"
	"path/filepath"
	"testing"
)

// From any package directory, the corpus is ../shared/corpus beside the
// directory holding go.mod, not a path fixed to one machine.
func TestRootBesideModule(t *testing.T) {
	root, err := Root()
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	want := filepath.Join(wd, "..", "..", "..", "shared", "corpus") // internal/corpus → module root → ..
	if filepath.Clean(root) != filepath.Clean(want) {
		t.Fatalf("Root() = %s, want %s", root, want)
	}
	if _, err := Path("no-such-folder"); err == nil {
		t.Fatal("Path of a missing folder gave no error")
	}
	if Optional("no-such-folder") != "" {
		t.Fatal("Optional of a missing folder is not empty")
	}
}
