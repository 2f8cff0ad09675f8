package hostops

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/testenv"
)

func stopCmd(pid int, extra string) string {
	return fmt.Sprintf(`{"action":"stop","target":{"process":{"pid":%d%s}}}`, pid, extra)
}

// waitSignal reaps the helper and returns the signal that ended it.
func waitSignal(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	st, _ := cmd.Process.Wait()
	if st == nil {
		t.Fatal("no process state")
	}
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() {
		t.Fatalf("process exited without a signal: %v", st)
	}
	return ws.Signal()
}

func TestKillProcess(t *testing.T) {
	h := newHost(t, nil)
	sleep := testenv.Command(t, "sleep", "coreutils")
	cmd := exec.Command(sleep, "300")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	out := handle(t, h, stopCmd(cmd.Process.Pid, `,"name":"sleep","command_line":"`+sleep+` 300"`))
	expect(t, out, 200, "stopped (SIGTERM)", "verified gone")
	if sig := waitSignal(t, cmd); sig != syscall.SIGTERM {
		t.Fatalf("ended by %v, want SIGTERM", sig)
	}
	if out.Undo != nil {
		t.Fatalf("kill has no undo, got %s", out.Undo)
	}
}

func TestKillEscalatesToSIGKILL(t *testing.T) {
	h := newHost(t, nil)
	cmd := startHelper(t, "ignore-term")
	time.Sleep(200 * time.Millisecond) // let it install the SIG_IGN
	start := time.Now()
	out := handle(t, h, stopCmd(cmd.Process.Pid, ``))
	expect(t, out, 200, "SIGTERM, SIGKILL")
	if sig := waitSignal(t, cmd); sig != syscall.SIGKILL {
		t.Fatalf("ended by %v, want SIGKILL", sig)
	}
	if d := time.Since(start); d < h.cfg.KillGrace {
		t.Fatalf("SIGKILL after %v, before the %v grace", d, h.cfg.KillGrace)
	}
}

func TestKillGraceArg(t *testing.T) {
	h := newHost(t, func(c *Config) { c.KillGrace = time.Minute })
	cmd := startHelper(t, "ignore-term")
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	out := handle(t, h, `{"action":"stop","target":{"process":{"pid":`+fmt.Sprint(cmd.Process.Pid)+`}},"args":{"x-riposte":{"grace_ms":100}}}`)
	expect(t, out, 200, "SIGKILL")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("took %v: grace_ms ignored", d)
	}
}

// A pid that now names another program must not be killed.
func TestKillRefusesMismatchedIdentity(t *testing.T) {
	h := newHost(t, nil)
	cmd := startHelper(t, "sleep")
	pid := cmd.Process.Pid
	wrong := hex.EncodeToString(make([]byte, 32))
	cases := []struct{ name, extra, field string }{
		{"name", `,"name":"sshd"`, "target.process.name"},
		{"executable path", `,"executable":{"path":"/usr/sbin/sshd"}`, "target.process.executable.path"},
		{"executable hash", `,"executable":{"hashes":{"sha256":"` + wrong + `"}}`, "target.process.executable.hashes.sha256"},
		{"command line", `,"command_line":"sshd -D"`, "target.process.command_line"},
		{"cwd", `,"cwd":"/nonexistent"`, "target.process.cwd"},
		{"parent", `,"parent":{"pid":1}`, "target.process.parent.pid"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := handle(t, h, stopCmd(pid, tc.extra))
			expect(t, out, 404, tc.field, "nothing signalled")
			if h.gone(pid, mustStat(t, h, pid).StartTime) {
				t.Fatal("process was killed despite the mismatch")
			}
		})
	}
}

func mustStat(t *testing.T, h *Host, pid int) procStat {
	t.Helper()
	st, err := h.readStat(pid)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestKillMatchesExecutableHash(t *testing.T) {
	h := newHost(t, nil)
	cmd := startHelper(t, "sleep")
	exe, _ := os.Executable()
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	out := handle(t, h, stopCmd(cmd.Process.Pid, `,"parent":{"pid":`+fmt.Sprint(os.Getpid())+`},"executable":{"path":"`+exe+`","hashes":{"sha256":"`+strings.ToUpper(hex.EncodeToString(sum[:]))+`"}}`))
	expect(t, out, 200, "verified gone")
	waitSignal(t, cmd)
}

func TestKillRefusals(t *testing.T) {
	h := newHost(t, nil)
	cases := []struct {
		name   string
		pid    int
		status int
		want   string
	}{
		{"init", 1, 403, "init"},
		{"the agent", os.Getpid(), 403, "the agent"},
		{"no such process", pidMaxLimit, 404, "no process"},
	}
	// kthreadd is pid 2 on a host (not in every container).
	if st, err := h.readStat(2); err == nil && st.Flags&pfKthread != 0 {
		cases = append(cases, struct {
			name   string
			pid    int
			status int
			want   string
		}{"kernel thread", 2, 403, "kernel thread"})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, handle(t, h, stopCmd(tc.pid, "")), tc.status, tc.want)
		})
	}
	expect(t, handle(t, h, `{"action":"stop","target":{"process":{"name":"sleep"}}}`), 400, "target.process.pid: required")
}

func TestParseStat(t *testing.T) {
	line := func(comm string) string {
		return "4242 (" + comm + ") S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 100 18446744073709551615"
	}
	cases := []struct {
		name, in string
		comm     string
		ok       bool
	}{
		{"plain", line("sleep"), "sleep", true},
		{"spaces and parens in comm", line("a) b (c"), "a) b (c", true},
		{"empty comm", line(""), "", true},
		{"truncated", "4242 (sleep) S 1 2", "", false},
		{"no comm", "4242 sleep S", "", false},
		{"bad pid", "x (sleep) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654", "", false},
		{"bad starttime", strings.Replace(line("s"), "987654", "-5", 1), "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st, err := parseStat([]byte(tc.in))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && (st.Comm != tc.comm || st.PID != 4242 || st.PPID != 1 || st.StartTime != 987654 || st.State != 'S' || st.Flags != 4194560) {
				t.Fatalf("parsed %+v", st)
			}
		})
	}
	// The real one for this process.
	st, err := newHost(t, nil).readStat(os.Getpid())
	if err != nil || st.PID != os.Getpid() || st.PPID != os.Getppid() || st.StartTime == 0 {
		t.Fatalf("own stat %+v %v", st, err)
	}
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("4242 (sleep) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000"))
	f.Add([]byte("1 ()) R 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0"))
	f.Add([]byte("(("))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := parseStat(b)
		if err == nil && (st.PID < 0 || len(st.Comm) > len(b)) {
			t.Fatalf("accepted nonsense %+v", st)
		}
	})
}
