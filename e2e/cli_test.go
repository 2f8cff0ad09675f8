package e2e

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func run(args ...string) (string, string, int) {
	return runCmd(exec.Command(binary, args...))
}

// runIn runs the binary inside a network namespace, as root on that host.
func runIn(ns string, args ...string) (string, string, int) {
	return runCmd(exec.Command("ip", append([]string{"netns", "exec", ns, binary}, args...)...))
}

func runCmd(cmd *exec.Cmd) (string, string, int) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
	}
	return out.String(), errb.String(), code
}

func TestCLIExitCodes(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("http:\n  listen: 127.0.0.1:9999\n"), 0o600)
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("http:\n  listen: nowhere\n  lisen: x\ningest:\n  max_batch_events: many\nretention:\n  max_age: forever\n"), 0o600)
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr []string
	}{
		{"valid config", []string{"config", "check", good}, 0, "valid", nil},
		{"invalid config names every problem with its line", []string{"config", "check", bad}, 1, "",
			[]string{"bad.yaml:3: http.lisen: unknown key", "bad.yaml:5: ingest.max_batch_events", "bad.yaml:7: retention.max_age"}},
		{"missing config file", []string{"config", "check", filepath.Join(dir, "nope.yaml")}, 2, "", []string{"no such file"}},
		{"unknown flag", []string{"token", "create", "--bogus"}, 2, "", []string{"unknown flag"}},
		{"bad role", []string{"token", "create", "--data", dir, "--role", "root", "--name", "x"}, 2, "", []string{`unknown role "root"`}},
		{"missing data dir", []string{"audit", "verify", "--data", filepath.Join(dir, "absent")}, 2, "", []string{"data directory"}},
		{"token on a fresh data dir", []string{"token", "create", "--data", dir, "--role", "viewer", "--name", "ci"}, 0, "rpt_", nil},
		{"token list json", []string{"token", "list", "--data", dir, "--output", "json"}, 0, `"role": "viewer"`, nil},
		{"revoke unknown token is a negative answer", []string{"token", "revoke", "--data", dir, "01JNOPE"}, 1, "", []string{"unknown"}},
		{"audit verify intact", []string{"audit", "verify", "--data", dir}, 0, "intact: 1 entries", nil},
		{"bench without token", []string{"bench", "ingest", "--token", ""}, 2, "", []string{"no token"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := run(c.args...)
			if code != c.code || !strings.Contains(out, c.stdout) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d and stdout containing %q", code, out, errs, c.code, c.stdout)
			}
			for _, s := range c.stderr {
				if !strings.Contains(errs, s) {
					t.Errorf("stderr %q lacks %q", errs, s)
				}
			}
		})
	}
	// Tampering with the audit table turns verify into a negative answer naming the entry.
	db, err := sql.Open("sqlite", filepath.Join(dir, "riposte.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE audit SET actor = 'mallory' WHERE seq = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, errs, code := run("audit", "verify", "--data", dir)
	if code != 1 || !strings.Contains(errs, "entry 1") {
		t.Fatalf("verify after tampering: exit %d, %s", code, errs)
	}
}

// TestGracefulShutdown stops the server with SIGTERM while requests are in
// flight: each gets its answer, and every accepted event is stored.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	type result struct {
		code int
		err  error
	}
	results := make(chan result, 20)
	for i := 0; i < 20; i++ {
		go func() {
			var body bytes.Buffer
			for k := 0; k < 2000; k++ {
				fmt.Fprintf(&body, `{"seq":"term-%d-%d"}`+"\n", i, k)
			}
			resp, _, err := n.do("POST", "/api/v1/events", n.token, &body, nil)
			if err != nil {
				results <- result{err: err}
				return
			}
			results <- result{code: resp.StatusCode}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	n.stop(syscall.SIGTERM)
	if !strings.Contains(n.log.String(), "stopped") {
		t.Fatalf("no clean stop in the log:\n%s", n.log)
	}
	accepted := 0
	for i := 0; i < 20; i++ {
		r := <-results
		if r.err == nil && r.code == 202 {
			accepted++
		}
	}
	n.start()
	waitFor(t, "accepted events after restart", 30*time.Second, func() bool {
		return len(n.events("term-")) >= accepted*2000
	})
	if got := len(n.events("term-")); got != accepted*2000 {
		t.Fatalf("%d stored for %d accepted batches", got, accepted)
	}
	t.Logf("%d of 20 requests accepted before SIGTERM completed the shutdown", accepted)
}
