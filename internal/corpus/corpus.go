// Package corpus finds the shared public test corpus: ../shared/corpus
// beside the project root (the directory holding go.mod), whatever package
// directory a test runs in.
package corpus

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// Root returns the corpus directory, found from the working directory up to
// the module root. It does not check that the directory exists.
func Root() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared", "corpus"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it: not inside the project")
		}
		dir = parent
	}
}

// Path returns the corpus folder sub if it exists, else an error naming
// where it was looked for.
func Path(sub string) (string, error) {
	root, err := Root()
	if err != nil {
		return "", err
	}
	p := filepath.Join(root, filepath.FromSlash(sub))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("corpus folder %s (../shared/corpus/%s beside the project root): %w", p, sub, err)
	}
	return p, nil
}

// Dir returns the corpus folder sub for a test that needs it: a missing
// folder skips the test outside CI and fails it under CI=true.
func Dir(tb testing.TB, sub string) string {
	tb.Helper()
	p, err := Path(sub)
	testenv.Need(tb, err == nil, "%v", err)
	return p
}

// Optional returns the corpus folder sub, or "" when it is absent: for
// extra fuzz seeds, which tests run without.
func Optional(sub string) string {
	p, _ := Path(sub)
	return p
}
