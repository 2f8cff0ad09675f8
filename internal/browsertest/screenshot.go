package browsertest

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// ArtifactsEnv names the variable that says where test artifacts go; CI can
// point it at a folder it keeps. Unset, they go to e2e/artifacts/ under the
// module root (ignored by git).
const ArtifactsEnv = "RIPOSTE_ARTIFACTS"

// Screenshot writes a PNG of the tab's whole page (beyond the window, to
// its bottom) to <artifacts>/screenshots/<name>.png and returns the file's
// path. Characters of name other than letters, digits, '.', '_' and '-'
// become '_', so a test name can be used as it is. A second screenshot of
// the same name replaces the first.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	p, err := writeScreenshot(ctx, name)
	if err != nil {
		t.Fatalf("screenshot %q: %v", name, err)
	}
	t.Logf("screenshot: %s", p)
	return p
}

func writeScreenshot(ctx context.Context, name string) (string, error) {
	dir, err := artifactsDir()
	if err != nil {
		return "", err
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100)) // 100: PNG, not JPEG
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, fileName(name)+".png")
	return p, os.WriteFile(p, png, 0o644)
}

// fileName keeps name readable and safe as one path element.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, name)
	if strings.Trim(s, ".") == "" { // "", ".", ".."
		s = "_" + s
	}
	return s
}

// artifactsDir is $RIPOSTE_ARTIFACTS, or e2e/artifacts under the module
// root (the first directory holding go.mod, from the working directory up).
func artifactsDir() (string, error) {
	if d := os.Getenv(ArtifactsEnv); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "e2e", "artifacts"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod in the working directory or above it, and " + ArtifactsEnv + " is not set")
		}
		dir = parent
	}
}
