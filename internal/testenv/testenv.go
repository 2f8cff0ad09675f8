// Package testenv decides what a test does when something it needs is not
// on the machine: outside CI it skips, naming what is missing so the
// developer can install it; under CI=true it fails, because a CI run that
// skips what it cannot do passes without proving anything.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"
)

// InCI reports whether CI is set to a true value (CI=true, as CI services
// and .ci/run set it).
func InCI() bool {
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	return ci
}

// Need stops tb unless ok: a failure under CI, a skip elsewhere. The
// message names what is missing, e.g. Need(tb, err == nil, "the ip(8)
// tool (apt-get install iproute2): %v", err).
func Need(tb testing.TB, ok bool, format string, args ...any) {
	tb.Helper()
	if ok {
		return
	}
	msg := "missing: " + fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("%s (CI=true: a missing prerequisite fails the test instead of skipping it)", msg)
	}
	tb.Skip(msg)
}

// Root needs the test to run as root; why says what root is for.
func Root(tb testing.TB, why string) {
	tb.Helper()
	Need(tb, os.Geteuid() == 0, "root, for %s (run the tests with sudo)", why)
}

// Command needs an executable on PATH and returns its path; pkg names the
// package that provides it.
func Command(tb testing.TB, name, pkg string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	Need(tb, err == nil, "%s (install %s): %v", name, pkg, err)
	return p
}
