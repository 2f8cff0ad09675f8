package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/internal/testenv"
	"github.com/riposte-soar/riposte/server"
)

// lockedBuffer is written by the command and polled by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runUser runs riposte with args and stdin, returning stdout, stderr and
// the exit code main would use.
func runUser(t *testing.T, stdin any, args ...string) (string, string, int) {
	t.Helper()
	root := newRoot()
	var out, errb lockedBuffer
	root.SetOut(&out)
	root.SetErr(&errb)
	switch in := stdin.(type) {
	case string:
		root.SetIn(strings.NewReader(in))
	case *os.File:
		root.SetIn(in)
	}
	root.SetArgs(args)
	err := root.Execute()
	code := 0
	if err != nil {
		code = 2
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(&errb, err)
	}
	return out.String(), errb.String(), code
}

func TestUserCommands(t *testing.T) {
	data := t.TempDir()
	d := "--data=" + data
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		says  string
	}{
		{"correct horse battery\n", []string{"user", "add", "alice", "--role", "analyst", "--password-stdin", d}, 0, "added alice (analyst)"},
		{"another long password", []string{"user", "add", "admin", "--role", "admin", "--password-stdin", d}, 0, "added admin (admin)"},
		{"correct horse battery\n", []string{"user", "add", "ALICE", "--role", "viewer", "--password-stdin", d}, 1, "exists"},
		{"short\n", []string{"user", "add", "bob", "--role", "viewer", "--password-stdin", d}, 1, "at least 12"},
		{"bob's long password\n", []string{"user", "add", "bob", "--role", "ingest", "--password-stdin", d}, 2, "log shippers"},
		{"", []string{"user", "role", "alice", "ingest", d}, 2, "log shippers"},
		{"bob's long password\n", []string{"user", "add", "bob", "--role", "root", "--password-stdin", d}, 2, "unknown role"},
		{"bob's long password\n", []string{"user", "add", "bob", "--password-stdin", d}, 2, "role"},
		{"bob's long password\n", []string{"user", "add", "bob smith", "--role", "viewer", "--password-stdin", d}, 2, "user name"},
		// Not a terminal and no --password-stdin: refused, never read silently.
		{"bob's long password\n", []string{"user", "add", "bob", "--role", "viewer", d}, 2, "--password-stdin"},
		{"", []string{"user", "add", "bob", "--role", "viewer", "--password", "x", d}, 2, "unknown flag"},
		{"a brand new password\n", []string{"user", "passwd", "alice", "--password-stdin", d}, 0, "password of alice changed"},
		{"a brand new password\n", []string{"user", "passwd", "ghost", "--password-stdin", d}, 1, "no such user"},
		{"", []string{"user", "role", "alice", "responder", d}, 0, "alice is now responder"},
		{"", []string{"user", "role", "alice", "superuser", d}, 2, "unknown role"},
		{"", []string{"user", "role", "ghost", "viewer", d}, 1, "no such user"},
		{"", []string{"user", "disable", "alice", d}, 0, "disabled alice"},
		{"", []string{"user", "disable", "ghost", d}, 1, "no such user"},
		{"", []string{"user", "list", "--data=" + data + "/nope"}, 2, "data directory"},
		{"", []string{"user", "list", "--output", "yaml", d}, 2, "--output"},
	} {
		out, errs, code := runUser(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.says) {
			t.Errorf("riposte %s: exit %d, stdout %q, stderr %q; want exit %d saying %q", strings.Join(c.args, " "), code, out, errs, c.code, c.says)
		}
	}

	out, errs, code := runUser(t, "", "user", "list", d)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[0], "NAME") ||
		!strings.Contains(lines[1], "admin") || !strings.Contains(lines[2], "alice") ||
		!strings.Contains(lines[2], "responder") || !strings.Contains(lines[2], "disabled") {
		t.Fatalf("user list: exit %d\n%s%s", code, out, errs)
	}
	out, _, code = runUser(t, "", "user", "list", "--output", "json", d)
	var us []auth.User
	if err := json.Unmarshal([]byte(out), &us); err != nil || code != 0 || len(us) != 2 {
		t.Fatalf("user list --output json: %v, exit %d\n%s", err, code, out)
	}
	if us[1].Name != "alice" || us[1].Role != auth.Responder || !us[1].Disabled || us[1].Source != "local" || us[1].CreatedBy != "cli" {
		t.Fatalf("alice in JSON: %+v", us[1])
	}
	if strings.Contains(out, "argon2") || strings.Contains(out, "password") {
		t.Fatalf("user list shows password material:\n%s", out)
	}

	// What the commands did is what the server sees.
	db, err := server.OpenControl(data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	users := auth.NewUsers(db, auth.UserOptions{})
	ctx := t.Context()
	if _, err := users.Authenticate(ctx, "alice", "a brand new password"); !errors.Is(err, auth.ErrBadCredentials) {
		t.Fatalf("disabled alice signed in: %v", err)
	}
	if _, _, code := runUser(t, "", "user", "enable", "alice", d); code != 0 {
		t.Fatal("enable failed")
	}
	x, err := users.Authenticate(ctx, "alice", "a brand new password")
	if err != nil || x.Role != auth.Responder {
		t.Fatalf("alice after enable: %+v, %v", x, err)
	}
	if _, err := users.Authenticate(ctx, "admin", "another long password"); err != nil {
		t.Fatalf("a password piped without a newline: %v", err)
	}
	es, _ := audit.New(db).List(ctx, 0, 100)
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := "cli user.create user:alice|cli user.create user:admin|cli user.password user:alice|cli user.role user:alice|cli user.disable user:alice|cli user.enable user:alice"
	if strings.Join(got, "|") != want {
		t.Fatalf("audit:\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

// openPTY returns the two ends of a new pseudo-terminal.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	testenv.Need(t, err == nil, "a pseudo-terminal (/dev/ptmx): %v", err)
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// At a terminal the password is asked twice and never echoed.
func TestUserPasswordPrompt(t *testing.T) {
	data := t.TempDir()
	for _, c := range []struct {
		what    string
		answers []string
		code    int
		says    string
	}{
		{"matching", []string{"correct horse battery", "correct horse battery"}, 0, "added alice"},
		{"different", []string{"correct horse battery", "correct horse batterx"}, 1, "differ"},
		{"too short", []string{"short"}, 1, "at least 12"},
	} {
		t.Run(c.what, func(t *testing.T) {
			master, slave := openPTY(t)
			echoed := &lockedBuffer{}
			go func() {
				b := make([]byte, 256)
				for {
					n, err := master.Read(b)
					echoed.Write(b[:n])
					if err != nil {
						return
					}
				}
			}()
			root := newRoot()
			var out, errb lockedBuffer
			root.SetOut(&out)
			root.SetErr(&errb)
			root.SetIn(slave)
			root.SetArgs([]string{"user", "add", "alice", "--role", "viewer", "--data=" + data})
			done := make(chan error, 1)
			go func() { done <- root.Execute() }()
			for i, a := range c.answers {
				// Type only once the prompt is up (and echo is off).
				deadline := time.Now().Add(10 * time.Second)
				for strings.Count(errb.String(), ": ") <= i && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(20 * time.Millisecond)
				if _, err := master.Write([]byte(a + "\n")); err != nil {
					t.Fatal(err)
				}
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(30 * time.Second):
				t.Fatalf("the command did not finish; stderr %q", errb.String())
			}
			code := 0
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			} else if err != nil {
				code = 2
			}
			if code != c.code || !strings.Contains(out.String()+errb.String()+fmt.Sprint(err), c.says) {
				t.Fatalf("exit %d (%v), stdout %q, stderr %q; want exit %d saying %q", code, err, out.String(), errb.String(), c.code, c.says)
			}
			if !strings.Contains(errb.String(), "Password for alice: ") {
				t.Errorf("no prompt on stderr: %q", errb.String())
			}
			time.Sleep(50 * time.Millisecond)
			for _, a := range c.answers {
				if strings.Contains(echoed.String(), a) {
					t.Errorf("the terminal echoed the password: %q", echoed.String())
				}
			}
		})
	}
}
