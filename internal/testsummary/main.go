// Command testsummary reads `go test -json` on stdin and writes what a
// person reads in CI: the package lines go test prints without -v (ok,
// FAIL, no test files), the whole output of every failed test, every
// skipped test with its reason, the tests that logged "not exercised here",
// and a last line "N passed, N failed, N skipped". .ci/run pipes the
// README's test command through it.
//
// It exits 1 when a test or a build failed, and, under CI=true, when a test
// skipped: CI must not pass by skipping what it could not do.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// event is one line of test2json output (go doc test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail
	Test       string
	Output     string
}

type key struct{ pkg, test string }

type summary struct {
	out                    io.Writer
	buf                    map[key]*strings.Builder
	passed, failed, skipps int
	buildFailed            bool
	skipped, notExercised  []string
}

const notExercisedMark = "not exercised here:"

func main() {
	s := &summary{out: os.Stdout, buf: map[key]*strings.Builder{}}
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		s.line(sc.Bytes())
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintf(os.Stderr, "testsummary: reading go test -json: %v\n", err)
		os.Exit(1)
	}
	ci, _ := strconv.ParseBool(os.Getenv("CI"))
	os.Exit(s.finish(ci))
}

func (s *summary) line(b []byte) {
	var e event
	if len(b) == 0 || b[0] != '{' || json.Unmarshal(b, &e) != nil {
		// Not test2json: go's own messages (a module download, a vet
		// error) pass through unchanged.
		fmt.Fprintf(s.out, "%s\n", b)
		return
	}
	switch e.Action {
	case "build-output":
		fmt.Fprint(s.out, e.Output)
		return
	case "build-fail":
		s.buildFailed = true
		return
	}
	k := key{e.Package, e.Test}
	switch e.Action {
	case "output":
		if i := strings.Index(e.Output, notExercisedMark); i >= 0 {
			s.notExercised = append(s.notExercised, fmt.Sprintf("%s %s: %s", e.Package, e.Test, strings.TrimSpace(e.Output[i+len(notExercisedMark):])))
		}
		b := s.buf[k]
		if b == nil {
			b = &strings.Builder{}
			s.buf[k] = b
		}
		b.WriteString(e.Output)
	case "pass", "fail", "skip":
		text := ""
		if b := s.buf[k]; b != nil {
			text = b.String()
		}
		delete(s.buf, k)
		if e.Test == "" {
			s.packageDone(e.Action, text)
			return
		}
		switch e.Action {
		case "pass":
			s.passed++
		case "fail":
			s.failed++
			fmt.Fprint(s.out, text)
		case "skip":
			s.skipps++
			s.skipped = append(s.skipped, fmt.Sprintf("%s %s: %s", e.Package, e.Test, skipReason(text)))
		}
	}
}

// packageDone prints a package's result line as go test prints it without
// -v, and all of its package-level output when it failed (a panic, a
// TestMain error, a timeout).
func (s *summary) packageDone(action, text string) {
	if action == "fail" {
		fmt.Fprint(s.out, text)
		return
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "ok  ") || strings.HasPrefix(l, "?   ") || strings.HasPrefix(l, "ok\t") || strings.HasPrefix(l, "?\t") {
			fmt.Fprintln(s.out, l)
		}
	}
}

// skipReason keeps what the test said, without go test's own lines.
func skipReason(text string) string {
	var parts []string
	for _, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " / ")
}

func (s *summary) finish(ci bool) int {
	if len(s.skipped) > 0 {
		fmt.Fprintf(s.out, "\nskipped tests (%d):\n", len(s.skipped))
		for _, l := range s.skipped {
			fmt.Fprintln(s.out, "  "+l)
		}
	}
	if len(s.notExercised) > 0 {
		fmt.Fprintf(s.out, "\nran, but could not exercise everything on this machine (%d):\n", len(s.notExercised))
		for _, l := range s.notExercised {
			fmt.Fprintln(s.out, "  "+l)
		}
	}
	code := 0
	if s.failed > 0 || s.buildFailed {
		code = 1
	}
	if ci && s.skipps > 0 {
		fmt.Fprintf(s.out, "\nCI=true: %d tests skipped; a CI run must not pass by skipping\n", s.skipps)
		code = 1
	}
	if s.buildFailed {
		fmt.Fprintln(s.out, "a package failed to build")
	}
	fmt.Fprintf(s.out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipps)
	return code
}
