package ssh

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
)

func argvCall(host, port string, argv ...string) connector.Call {
	a := make([]any, len(argv))
	for i, v := range argv {
		a[i] = v
	}
	args := map[string]any{"host": host, "argv": a}
	if port != "" {
		args["port"] = port
	}
	return connector.Call{Operation: "run_argv", Args: args, RunID: "r", StepID: "s"}
}

// run_argv (how CACAO ssh commands run) executes only an allowlisted
// command, with values that match its parameter patterns, and sends each
// value quoted as one word whatever it holds.
func TestRunArgvMatchesTheAllowlist(t *testing.T) {
	srv, cfg := setup(t)
	c := newConn(t, cfg)
	port := strconv.Itoa(srv.port)
	for _, tc := range []struct {
		argv []string
		port string
		want []string // remote argv; nil = refused
		err  string
	}{
		{argv: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx"}, want: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx"}},
		{argv: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx"}, port: port, want: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx"}},
		// A value within an element: --label={b}.
		{argv: []string{"/bin/echo", "; rm -rf /", "--label=$(id)"}, want: []string{"/bin/echo", "; rm -rf /", "--label=$(id)"}},
		// A hostile value for a parameter with a pattern: refused.
		{argv: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx; reboot"}, err: "matches no allowlisted command"},
		// One more word, or a whole command line as one word: no match.
		{argv: []string{"sudo", "-n", "systemctl", "restart", "--", "nginx", "sshd"}, err: "matches no allowlisted command"},
		{argv: []string{"sudo -n systemctl restart -- nginx"}, err: "matches no allowlisted command"},
		{argv: []string{"rm", "-rf", "/"}, err: "matches no allowlisted command"},
		{argv: []string{"/bin/echo", "a", "--label=b"}, port: "2222", err: "the target's port 2222 is not the connector's port"},
		{argv: []string{}, err: "argv has 0 words"},
	} {
		res, err := c.Execute(context.Background(), argvCall("127.0.0.1", tc.port, tc.argv...))
		if tc.want == nil {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: want error %q, got %v", tc.argv, tc.err, err)
			}
			if connector.ClassOf(err) != connector.Permanent {
				t.Errorf("%q: want a permanent error, got %v", tc.argv, connector.ClassOf(err))
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.argv, err)
			continue
		}
		_, cmds := srv.seen()
		if got := unquote(t, cmds[len(cmds)-1]); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: remote argv %q, want %q", tc.argv, got, tc.want)
		}
		if !reflect.DeepEqual(res.Outputs["argv"], tc.want) {
			t.Errorf("%q: argv output %q", tc.argv, res.Outputs["argv"])
		}
	}
	n, _ := srv.seen()
	if n != 3 {
		t.Errorf("%d commands reached the server, want 3 (the refused ones must not connect)", n)
	}
}

// A parameter pattern with groups of its own still captures the right
// value.
func TestRunArgvPatternWithGroups(t *testing.T) {
	_, cfg := setup(t)
	cfg.Commands["block"] = Command{
		Argv:   []string{"nft", "add", "element", "inet", "t", "s", "{ {ip} }"},
		Params: map[string]Param{"ip": {Pattern: `(\d{1,3})(\.\d{1,3}){3}`}},
	}
	c := newConn(t, cfg)
	res, err := c.Simulate(context.Background(), argvCall("127.0.0.1", "", "nft", "add", "element", "inet", "t", "s", "{ 192.0.2.7 }"))
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Outputs["argv"].([]string); got[6] != "{ 192.0.2.7 }" {
		t.Fatalf("argv %q", got)
	}
	if _, err := c.Simulate(context.Background(), argvCall("127.0.0.1", "", "nft", "add", "element", "inet", "t", "s", "{ 192.0.2.7 } ; x")); err == nil {
		t.Fatal("a value that does not match the pattern ran")
	}
}
