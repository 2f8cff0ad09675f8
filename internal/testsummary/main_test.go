package main

import (
	"strings"
	"testing"
)

func run(t *testing.T, input string, ci bool) (string, int) {
	t.Helper()
	var out strings.Builder
	s := &summary{out: &out, buf: map[key]*strings.Builder{}}
	for _, l := range strings.Split(input, "\n") {
		if l != "" {
			s.line([]byte(l))
		}
	}
	code := s.finish(ci)
	return out.String(), code
}

const (
	passing = `{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"=== RUN   TestA\n"}
{"Action":"output","Package":"p","Test":"TestA","Output":"--- PASS: TestA (0.00s)\n"}
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Output":"PASS\n"}
{"Action":"output","Package":"p","Output":"ok  \tp\t0.01s\n"}
{"Action":"pass","Package":"p"}
`
	skipping = `{"Action":"output","Package":"q","Test":"TestB","Output":"=== RUN   TestB\n"}
{"Action":"output","Package":"q","Test":"TestB","Output":"    b_test.go:9: missing: the ip(8) tool (install iproute2)\n"}
{"Action":"output","Package":"q","Test":"TestB","Output":"--- SKIP: TestB (0.00s)\n"}
{"Action":"skip","Package":"q","Test":"TestB"}
{"Action":"output","Package":"q","Test":"TestC","Output":"    c_test.go:3: not exercised here: a real systemd unit (systemd is not PID 1)\n"}
{"Action":"pass","Package":"q","Test":"TestC"}
{"Action":"output","Package":"q","Output":"ok  \tq\t0.02s\n"}
{"Action":"pass","Package":"q"}
`
	failing = `{"Action":"output","Package":"r","Test":"TestD","Output":"=== RUN   TestD\n"}
{"Action":"output","Package":"r","Test":"TestD","Output":"    d_test.go:5: got 1, want 2\n"}
{"Action":"output","Package":"r","Test":"TestD","Output":"--- FAIL: TestD (0.00s)\n"}
{"Action":"fail","Package":"r","Test":"TestD"}
{"Action":"output","Package":"r","Output":"FAIL\n"}
{"Action":"output","Package":"r","Output":"FAIL\tr\t0.01s\n"}
{"Action":"fail","Package":"r"}
`
	buildFail = `{"ImportPath":"s [s.test]","Action":"build-output","Output":"# s\n./s.go:3:1: syntax error\n"}
{"ImportPath":"s [s.test]","Action":"build-fail"}
{"Action":"output","Package":"s","Output":"FAIL\ts [build failed]\n"}
{"Action":"fail","Package":"s"}
`
)

func TestSummary(t *testing.T) {
	for _, c := range []struct {
		name     string
		input    string
		ci       bool
		code     int
		want     []string
		wantNot  []string
		lastLine string
	}{
		{"pass", passing, true, 0, []string{"ok  \tp\t0.01s"}, []string{"=== RUN", "PASS\n"}, "1 passed, 0 failed, 0 skipped"},
		{"skip outside CI", passing + skipping, false, 0,
			[]string{"skipped tests (1):", "q TestB: b_test.go:9: missing: the ip(8) tool (install iproute2)", "q TestC: a real systemd unit (systemd is not PID 1)"}, nil,
			"2 passed, 0 failed, 1 skipped"},
		{"skip under CI", skipping, true, 1, []string{"CI=true: 1 tests skipped"}, nil, "1 passed, 0 failed, 1 skipped"},
		{"fail", passing + failing, false, 1, []string{"d_test.go:5: got 1, want 2", "--- FAIL: TestD", "FAIL\tr\t0.01s"}, nil, "1 passed, 1 failed, 0 skipped"},
		{"build failure", buildFail, false, 1, []string{"./s.go:3:1: syntax error", "FAIL\ts [build failed]", "a package failed to build"}, nil, "0 passed, 0 failed, 0 skipped"},
		{"not json passes through", "go: downloading example.com/x v1.0.0\n", false, 0, []string{"go: downloading example.com/x v1.0.0"}, nil, "0 passed, 0 failed, 0 skipped"},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := run(t, c.input, c.ci)
			if code != c.code {
				t.Errorf("exit %d, want %d\n%s", code, c.code, out)
			}
			for _, w := range c.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range c.wantNot {
				if strings.Contains(out, w) {
					t.Errorf("output has %q:\n%s", w, out)
				}
			}
			lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
			if last := lines[len(lines)-1]; last != c.lastLine {
				t.Errorf("last line %q, want %q", last, c.lastLine)
			}
		})
	}
}
