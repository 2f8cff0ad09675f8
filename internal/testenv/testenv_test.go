package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The helper's two outcomes, seen from outside as go test reports them:
// run in a child process so the failure under CI is observed, not suffered.
func TestNeedSkipsOrFails(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		Need(t, false, "a widget (install widgets)")
		return
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP"},
		{"false", false, "--- SKIP"},
		{"true", true, "--- FAIL"},
		{"1", true, "--- FAIL"},
	} {
		t.Run("CI="+c.ci, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestNeedSkipsOrFails$", "-test.v")
			cmd.Env = append(os.Environ(), "TESTENV_CHILD=1", "CI="+c.ci)
			out, err := cmd.CombinedOutput()
			if (err != nil) != c.wantFail {
				t.Fatalf("exit error %v, want failure %v:\n%s", err, c.wantFail, out)
			}
			if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "missing: a widget (install widgets)") {
				t.Fatalf("output lacks %q and the missing prerequisite's name:\n%s", c.want, out)
			}
		})
	}
}

func TestNeedPassesWhenPresent(t *testing.T) {
	Need(t, true, "nothing")
	if p := Command(t, "sh", "dash"); p == "" {
		t.Fatal("no path for sh")
	}
}
