package hostops

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/testenv"
	"github.com/riposte-soar/riposte/openc2"
)

// The test binary doubles as the helper programs the tests run (a daemon,
// a process that ignores SIGTERM, a noisy remediation), so the tests need
// nothing but the Go toolchain and exercise real processes.
const helperArg = "hostops-helper"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == helperArg {
		os.Exit(helper(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

func helper(mode string, args []string) int {
	switch mode {
	case "sleep":
		time.Sleep(10 * time.Minute)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		time.Sleep(10 * time.Minute)
	case "daemon": // daemon PIDFILE: start a detached sleeper, write its pid, exit
		exe, _ := os.Executable()
		cmd := exec.Command(exe, helperArg, "sleep")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := cmd.Start(); err != nil {
			return 2
		}
		if err := os.WriteFile(args[0], []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
			return 2
		}
		return 0
	case "kill-pidfile": // kill-pidfile PIDFILE: a service's stop command
		b, err := os.ReadFile(args[0])
		if err != nil {
			return 2
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if syscall.Kill(pid, syscall.SIGTERM) != nil {
			return 3
		}
		_ = os.Remove(args[0])
		return 0
	case "output": // output N CODE: N bytes on stdout and stderr, exit CODE
		n, _ := strconv.Atoi(args[0])
		code, _ := strconv.Atoi(args[1])
		os.Stdout.WriteString(strings.Repeat("o", n))
		os.Stderr.WriteString(strings.Repeat("e", n))
		return code
	case "env":
		fmt.Print(strings.Join(os.Environ(), "\n"))
		return 0
	case "touch": // touch FILE
		return map[bool]int{true: 0, false: 2}[os.WriteFile(args[0], []byte("ran"), 0o644) == nil]
	case "hang-with-child": // hang-with-child PIDFILE: a grandchild, then hang
		exe, _ := os.Executable()
		cmd := exec.Command(exe, helperArg, "sleep")
		if err := cmd.Start(); err != nil {
			return 2
		}
		_ = os.WriteFile(args[0], []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
		time.Sleep(10 * time.Minute)
	}
	return 1
}

func helperArgv(t *testing.T, args ...string) []string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return append([]string{exe, helperArg}, args...)
}

// startHelper starts a helper process and reaps it at the end of the test.
func startHelper(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	argv := helperArgv(t, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

func newHost(t *testing.T, mutate func(*Config)) *Host {
	t.Helper()
	cfg := Config{DataDir: filepath.Join(t.TempDir(), "data"), KillGrace: 300 * time.Millisecond,
		ServiceSettle: 100 * time.Millisecond, ExecTimeout: 10 * time.Second, RemediationTimeout: 10 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// command decodes JSON into a Command without validating it: Handle
// validates, and some tests send what the validator refuses.
func command(t *testing.T, s string) *openc2.Command {
	t.Helper()
	var c openc2.Command
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		t.Fatalf("test command %s: %v", s, err)
	}
	return &c
}

func meta(id string) Meta {
	return Meta{CommandID: id, Requester: "alice@soc", Incident: "INC-1"}
}

func handle(t *testing.T, h *Host, s string) Outcome {
	t.Helper()
	return h.Handle(context.Background(), command(t, s), meta("cmd-"+strings.ReplaceAll(t.Name(), "/", "_")))
}

// expect checks status and that status_text mentions each want.
func expect(t *testing.T, out Outcome, status int, want ...string) {
	t.Helper()
	if out.Response.Status != status {
		t.Fatalf("status %d (%s), want %d; details %v", out.Response.Status, out.Response.StatusText, status, out.Details)
	}
	for _, w := range want {
		if !strings.Contains(out.Response.StatusText, w) {
			t.Fatalf("status_text %q does not mention %q", out.Response.StatusText, w)
		}
	}
	b, err := json.Marshal(out.Response)
	if err != nil {
		t.Fatal(err)
	}
	if err := openc2.ValidateResponse(b); err != nil {
		t.Fatalf("response %s is not a valid OpenC2 response: %v", b, err)
	}
	if status == 200 && !out.Verified {
		t.Fatalf("200 without verification: %v", out.Details)
	}
	if status != 200 && (out.Verified || out.Undo != nil) {
		t.Fatalf("failed outcome carries verified=%v undo=%s", out.Verified, out.Undo)
	}
}

// undo runs the outcome's undo command, which must be a valid command.
func undo(t *testing.T, h *Host, out Outcome) Outcome {
	t.Helper()
	if out.Undo == nil {
		t.Fatal("no undo command")
	}
	if err := openc2.ValidateCommand(out.Undo); err != nil {
		t.Fatalf("undo %s invalid: %v", out.Undo, err)
	}
	return handle(t, h, string(out.Undo))
}

// tree lists every file under dir with its size and mode, to prove a
// refused command wrote nothing.
func tree(t *testing.T, dir string) string {
	t.Helper()
	var lines []string
	_ = filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil {
			lines = append(lines, fmt.Sprintf("%s %v %d", p, fi.Mode(), fi.Size()))
		}
		return nil
	})
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

func requireRoot(t *testing.T, why string) {
	t.Helper()
	testenv.Root(t, why)
}
