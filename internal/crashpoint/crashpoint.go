// Package crashpoint lets end-to-end tests kill the process at a named
// point, to show that what must commit together does: the process SIGKILLs
// itself the first time it reaches the point named by RIPOSTE_TEST_CRASH_AT.
// Unset (always, outside tests), At costs a string comparison.
package crashpoint

import (
	"os"
	"syscall"
)

// Env names the variable that selects the point.
const Env = "RIPOSTE_TEST_CRASH_AT"

var point = os.Getenv(Env)

// At kills the process when name is the selected point.
func At(name string) {
	if point != "" && name == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // the signal is asynchronous: go no further
	}
}
