package hostops

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// accountRoot builds a real copy of this machine's account files plus test
// accounts, so the real usermod runs against it (--prefix) and never
// against /etc.
func accountRoot(t *testing.T) string {
	t.Helper()
	requireRoot(t, "usermod --prefix writes root-owned shadow files")
	_, err := findTool("usermod")
	testenv.Need(t, err == nil, "usermod (install passwd): %v", err)
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	os.Mkdir(etc, 0o755)
	for _, f := range []string{"passwd", "shadow", "group", "gshadow", "login.defs"} {
		b, err := os.ReadFile(filepath.Join("/etc", f))
		if err != nil {
			if f == "gshadow" || f == "login.defs" {
				continue
			}
			testenv.Need(t, false, "/etc/%s to copy: %v", f, err)
		}
		mode := os.FileMode(0o644)
		if strings.Contains(f, "shadow") {
			mode = 0o640
		}
		extra := ""
		switch f {
		case "passwd":
			extra = "alice:x:54321:54321::/home/alice:/bin/bash\nbob:x:54322:54322::/home/bob:/bin/sh\ncarol:x:54323:54323::/home/carol:/bin/bash\n"
		case "shadow":
			extra = "alice:$6$salt$hash:19000:0:99999:7:::\nbob:!:19000:0:99999:7::20000:\ncarol:!$6$x$y:19000:0:99999:7:::\n"
		case "group":
			extra = "alice:x:54321:\nbob:x:54322:\ncarol:x:54323:\n"
		}
		if err := os.WriteFile(filepath.Join(etc, f), append(b, extra...), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func shadowLine(t *testing.T, root, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc/shadow"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	t.Fatalf("%s not in shadow", name)
	return ""
}

func accountCmd(target, status, extra string) string {
	return `{"action":"set","target":{"er:account":` + target + `},"args":{"er":{"account_status":"` + status + `"}` + extra + `}}`
}

func TestAccountDisableEnable(t *testing.T) {
	root := accountRoot(t)
	realShadow, _ := os.ReadFile("/etc/shadow")
	h := newHost(t, func(c *Config) { c.AccountRoot = root })
	cases := []struct {
		name, disabled string
	}{
		{"alice", "alice:!$6$salt$hash:19000:0:99999:7::1:"},
		{"bob", "bob:!:19000:0:99999:7::1:"},           // no password, expiry set before
		{"carol", "carol:!$6$x$y:19000:0:99999:7::1:"}, // locked before
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			original := shadowLine(t, root, tc.name)
			out := handle(t, h, accountCmd(`{"account_name":"`+tc.name+`"}`, "disabled", ""))
			expect(t, out, 200, "disabled", "verified in shadow")
			if got := shadowLine(t, root, tc.name); got != tc.disabled {
				t.Fatalf("disabled shadow line %q, want %q", got, tc.disabled)
			}
			// A second disable changes nothing and keeps the saved state.
			again := handle(t, h, accountCmd(`{"account_name":"`+tc.name+`"}`, "disabled", ""))
			expect(t, again, 200, "already disabled")
			if again.Undo == nil {
				t.Fatal("a retried disable lost its undo")
			}
			back := undo(t, h, out)
			expect(t, back, 200, "enabled", "verified in shadow")
			if got := shadowLine(t, root, tc.name); got != original {
				t.Fatalf("after enable %q, want the original %q", got, original)
			}
			if _, err := os.Stat(h.accountStatePath(tc.name)); !os.IsNotExist(err) {
				t.Fatalf("saved state kept after enable: %v", err)
			}
		})
	}
	if now, _ := os.ReadFile("/etc/shadow"); string(now) != string(realShadow) {
		t.Fatal("the machine's /etc/shadow changed")
	}
}

func TestAccountByUIDAndRefusals(t *testing.T) {
	root := accountRoot(t)
	h := newHost(t, func(c *Config) { c.AccountRoot = root; c.ProtectedAccounts = []string{"root", "carol"} })
	out := handle(t, h, accountCmd(`{"uid":"54321"}`, "disabled", ""))
	expect(t, out, 200, "account alice disabled")
	expect(t, undo(t, h, out), 200)
	cases := []struct {
		name, cmd string
		status    int
		want      string
	}{
		{"uid and name disagree", accountCmd(`{"uid":"54322","account_name":"alice"}`, "disabled", ""), 404, "target.er:account"},
		{"unknown", accountCmd(`{"account_name":"mallory"}`, "disabled", ""), 404, "target.er:account.account_name"},
		{"protected", accountCmd(`{"account_name":"carol"}`, "disabled", ""), 403, "protected"},
		{"directory", accountCmd(`{"account_name":"alice","directory":"ldap://corp"}`, "disabled", ""), 501, "only local accounts"},
		{"no status", `{"action":"set","target":{"er:account":{"account_name":"alice"}},"args":{"x-riposte":{"end_sessions":false}}}`, 400, "args.er.account_status"},
		{"end sessions on enable", accountCmd(`{"account_name":"alice"}`, "enabled", `,"x-riposte":{"end_sessions":true}`), 400, "args.x-riposte.end_sessions"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, handle(t, h, tc.cmd), tc.status, tc.want)
		})
	}
	if got := shadowLine(t, root, "alice"); got != "alice:$6$salt$hash:19000:0:99999:7:::" {
		t.Fatalf("alice changed by refused commands: %q", got)
	}
}

// end_sessions stops the processes already running as the account.
func TestAccountEndSessions(t *testing.T) {
	root := accountRoot(t)
	h := newHost(t, func(c *Config) { c.AccountRoot = root })
	sleep := testenv.Command(t, "sleep", "coreutils")
	var cmds []*exec.Cmd
	for i := 0; i < 3; i++ {
		cmd := exec.Command(sleep, "300")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 54321, Gid: 54321}}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() })
		cmds = append(cmds, cmd)
	}
	out := handle(t, h, accountCmd(`{"account_name":"alice"}`, "disabled", `,"x-riposte":{"end_sessions":true}`))
	expect(t, out, 200, "disabled")
	for _, cmd := range cmds {
		if sig := waitSignal(t, cmd); sig != syscall.SIGTERM {
			t.Fatalf("session ended by %v", sig)
		}
	}
	if killed, _ := out.Details["sessions_ended"].([]int); len(killed) != len(cmds) {
		t.Fatalf("sessions_ended %v, want the %d sleeps", out.Details["sessions_ended"], len(cmds))
	}
	expect(t, undo(t, h, out), 200)
}
