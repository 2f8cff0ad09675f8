package hostops

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/openc2"
)

func remCmd(name string) string {
	return `{"action":"remediate","target":{"x-riposte:remediation":{"name":"` + name + `"}}}`
}

func TestRemediation(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RIPOSTE_SECRET_TOKEN", "must-not-leak")
	h := newHost(t, func(c *Config) {
		c.MaxOutput = 1024
		c.RemediationTimeout = 2 * time.Second
		c.Remediations = map[string][]string{
			"ok":    helperArgv(t, "output", "10", "0"),
			"fails": helperArgv(t, "output", "10", "3"),
			"noisy": helperArgv(t, "output", "100000", "0"),
			"env":   helperArgv(t, "env"),
			"touch": helperArgv(t, "touch", filepath.Join(dir, "ran")),
			"hangs": helperArgv(t, "hang-with-child", filepath.Join(dir, "child.pid")),
		}
	})
	t.Run("exit 0", func(t *testing.T) {
		out := handle(t, h, remCmd("ok"))
		expect(t, out, 200, `"ok" exited with code 0`)
		res := out.Details["exec"].(execResult)
		if res.ExitCode != 0 || res.Stdout != strings.Repeat("o", 10) || res.Stderr != strings.Repeat("e", 10) {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("exit 3", func(t *testing.T) {
		out := handle(t, h, remCmd("fails"))
		expect(t, out, 500, "exited with code 3")
		if out.Details["exec"].(execResult).ExitCode != 3 {
			t.Fatal(out.Details)
		}
	})
	t.Run("output bounded", func(t *testing.T) {
		out := handle(t, h, remCmd("noisy"))
		expect(t, out, 200)
		res := out.Details["exec"].(execResult)
		if !res.Truncated || len(res.Stdout) > 1100 || !strings.Contains(res.Stdout, "bytes omitted") {
			t.Fatalf("stdout %d bytes, truncated=%v", len(res.Stdout), res.Truncated)
		}
	})
	t.Run("environment not inherited", func(t *testing.T) {
		out := handle(t, h, remCmd("env"))
		expect(t, out, 200)
		env := out.Details["exec"].(execResult).Stdout
		if strings.Contains(env, "RIPOSTE_SECRET_TOKEN") || !strings.Contains(env, "LC_ALL=C") {
			t.Fatalf("environment: %s", env)
		}
	})
	t.Run("really runs", func(t *testing.T) {
		expect(t, handle(t, h, remCmd("touch")), 200)
		if _, err := os.Stat(filepath.Join(dir, "ran")); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("timeout kills the process group", func(t *testing.T) {
		start := time.Now()
		out := handle(t, h, remCmd("hangs"))
		expect(t, out, 500, "timed out")
		if d := time.Since(start); d > 8*time.Second {
			t.Fatalf("took %v", d)
		}
		b, err := os.ReadFile(filepath.Join(dir, "child.pid"))
		if err != nil {
			t.Fatal(err)
		}
		pid, _ := strconv.Atoi(string(b))
		deadline := time.Now().Add(2 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			t.Fatalf("grandchild %d outlived the timeout", pid)
		}
	})
	t.Run("not configured", func(t *testing.T) {
		expect(t, handle(t, h, remCmd("reboot")), 403, "not a configured remediation", "env, fails, hangs, noisy, ok, touch")
	})
}

func TestBoundedBuffer(t *testing.T) {
	for _, tc := range []struct {
		writes []string
		max    int
		want   string
		trunc  bool
	}{
		{[]string{"abc"}, 10, "abc", false},
		{[]string{"abcde", "fghij"}, 10, "abcdefghij", false},
		{[]string{"abcdefghijkl"}, 10, "abcde\n…[2 bytes omitted]…\nhijkl", true},
		{[]string{"ab", "cd", "ef", "gh", "ij", "kl", "mn"}, 4, "ab\n…[10 bytes omitted]…\nmn", true},
	} {
		b := &boundedBuffer{max: tc.max}
		for _, w := range tc.writes {
			b.Write([]byte(w))
		}
		if b.String() != tc.want || b.truncated() != tc.trunc {
			t.Errorf("%v: %q truncated=%v", tc.writes, b.String(), b.truncated())
		}
	}
}

// A remediation from the server's allowlist arrives with its argv in the
// signed command; the agent's own entry of the same name runs, a different
// argv for it is refused, and an agent configured local-only refuses
// argv from the server.
func TestServerRemediations(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "ran")
	h, err := New(Config{DataDir: filepath.Join(dir, "data"), Remediations: map[string][]string{"local": {"/bin/sh", "-c", "echo local > " + out}}})
	if err != nil {
		t.Fatal(err)
	}
	cmd := func(target string) *openc2.Command {
		c, err := openc2.DecodeCommand(openc2.ComponentRiposte, []byte(`{"action":"remediate","target":{"x-riposte:remediation":`+target+`}}`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	o := h.Handle(context.Background(), cmd(`{"name":"touch-it","argv":["/usr/bin/touch","`+out+`"]}`), Meta{CommandID: "c1"})
	if o.Response.Status != 200 || o.Details["allowlist"] != "server" {
		t.Fatalf("server remediation: %+v", o.Response)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal("the server's argv did not run")
	}
	os.Remove(out)
	if o := h.Handle(context.Background(), cmd(`{"name":"local","argv":["/usr/bin/touch","/tmp/not-this"]}`), Meta{CommandID: "c2"}); o.Response.Status != 400 {
		t.Fatalf("a differing argv for a local name: %+v", o.Response)
	}
	o = h.Handle(context.Background(), cmd(`{"name":"local"}`), Meta{CommandID: "c2b"})
	if b, _ := os.ReadFile(out); o.Response.Status != 200 || string(b) != "local\n" {
		t.Fatalf("the agent's own remediation: %+v %q", o.Response, b)
	}
	for _, bad := range []string{`{"name":"x","argv":["touch","a"]}`, `{"name":"x","argv":[]}`, `{"name":"x; id","argv":["/bin/true"]}`} {
		if o := h.Handle(context.Background(), cmd(bad), Meta{CommandID: "c3"}); o.Response.Status < 400 {
			t.Errorf("%s: %+v", bad, o.Response)
		}
	}
	strict, _ := New(Config{DataDir: filepath.Join(dir, "data2"), LocalRemediationsOnly: true})
	if o := strict.Handle(context.Background(), cmd(`{"name":"touch-it","argv":["/usr/bin/touch","`+out+`"]}`), Meta{CommandID: "c4"}); o.Response.Status != 403 {
		t.Fatalf("local-only agent: %+v", o.Response)
	}
}
