package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// runEnv runs the binary with extra environment variables.
func runEnv(env []string, args ...string) (string, string, int) {
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	return runCmd(cmd)
}

// commandTree lists every command path of the binary ("incident list",
// ...) by reading each command's --help, and the paths that have
// subcommands of their own.
func commandTree(t *testing.T) (all, parents [][]string) {
	t.Helper()
	var walk func(path []string)
	walk = func(path []string) {
		out, errs, code := run(append(append([]string{}, path...), "--help")...)
		if code != 0 {
			t.Fatalf("riposte %s --help: exit %d: %s", strings.Join(path, " "), code, errs)
		}
		subs := subcommands(out)
		if len(subs) > 0 {
			parents = append(parents, path)
		}
		for _, s := range subs {
			p := append(append([]string{}, path...), s)
			all = append(all, p)
			walk(p)
		}
	}
	walk(nil)
	return all, parents
}

// subcommands reads the "Available Commands:" section of a help text.
func subcommands(help string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(l, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(l) == "":
			in = false
		case in:
			if f := strings.Fields(l); len(f) > 0 && f[0] != "help" {
				out = append(out, f[0])
			}
		}
	}
	return out
}

// A typo in a subcommand is a usage error that names the closest
// commands, for every command that has subcommands; it used to print the
// parent's help and exit 0, which a script takes for success.
func TestUnknownSubcommandIsAUsageError(t *testing.T) {
	_, parents := commandTree(t)
	if len(parents) < 10 {
		t.Fatalf("only %d parent commands found: %v", len(parents), parents)
	}
	for _, p := range parents {
		name := "riposte"
		if len(p) > 0 {
			name += " " + strings.Join(p, " ")
		}
		t.Run(name, func(t *testing.T) {
			out, errs, code := run(append(append([]string{}, p...), "zzzbogus")...)
			want := `unknown command "zzzbogus" for "` + name + `"`
			if code != 2 || !strings.Contains(errs, want) || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2, nothing on stdout and %q", code, out, errs, want)
			}
		})
	}
	cases := []struct{ args, want string }{
		{"incident lst", `unknown command "lst" for "riposte incident"; did you mean list?`},
		{"agent tokn", `did you mean token?`},
		{"decison list", `unknown command "decison" for "riposte"; did you mean decision?`},
	}
	for _, c := range cases {
		_, errs, code := run(strings.Fields(c.args)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("riposte %s: exit %d, stderr %q; want exit 2 and %q", c.args, code, errs, c.want)
		}
	}
	// A parent alone still shows its commands.
	if out, _, code := run("incident"); code != 0 || !strings.Contains(out, "Available Commands:") {
		t.Errorf("riposte incident: exit %d, %q", code, out)
	}
}

// No command's help shows the token from RIPOSTE_TOKEN.
func TestHelpNeverPrintsTheToken(t *testing.T) {
	const secret = "rpt_helpmustnotshowthis"
	all, _ := commandTree(t)
	withToken := 0
	for _, p := range all {
		out, errs, code := runEnv([]string{"RIPOSTE_TOKEN=" + secret}, append(p, "--help")...)
		if code != 0 {
			t.Fatalf("riposte %s --help: exit %d %s", strings.Join(p, " "), code, errs)
		}
		if strings.Contains(out+errs, secret) {
			t.Errorf("riposte %s --help prints the token", strings.Join(p, " "))
		}
		if strings.Contains(out, "--token") {
			withToken++
			if !strings.Contains(out, "(from RIPOSTE_TOKEN)") {
				t.Errorf("riposte %s --help does not say the token comes from RIPOSTE_TOKEN:\n%s", strings.Join(p, " "), out)
			}
		}
	}
	if withToken < 20 {
		t.Fatalf("only %d commands take --token", withToken)
	}
}

// riposte version and --version name the build: the module version and
// the revision the go tool stamped (what `go version -m` reads), never
// "dev".
func TestVersionNamesTheBuild(t *testing.T) {
	v, errs, code := run("version")
	if code != 0 {
		t.Fatalf("version: exit %d %s", code, errs)
	}
	flag, _, code := run("--version")
	if code != 0 || flag != v {
		t.Fatalf("--version %q (exit %d), version %q: want the same", flag, code, v)
	}
	m, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	modVersion, revision := "", "unknown"
	for _, l := range strings.Split(string(m), "\n") {
		f := strings.Fields(l)
		if len(f) >= 3 && f[0] == "mod" {
			modVersion = f[2]
		}
		if len(f) >= 2 && f[0] == "build" && strings.HasPrefix(f[1], "vcs.revision=") {
			revision = strings.TrimPrefix(f[1], "vcs.revision=")
		}
	}
	if strings.Contains(string(m), "vcs.modified=true") {
		revision += "-dirty"
	}
	want := "riposte " + modVersion + " (revision " + revision
	if !strings.HasPrefix(v, want) || !strings.Contains(v, "go1.") {
		t.Fatalf("version %q; want it to start with %q and name the Go version", v, want)
	}
	t.Logf("%s", strings.TrimSpace(v))
}

// A client that cannot reach the server says so and how to point it at
// one; a URL without a scheme is named as such.
func TestClientCannotReachServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	cases := []struct {
		name string
		env  []string
		args []string
		want []string
	}{
		{"flag", nil, []string{"incident", "list", "--server", closed, "--token", "x"},
			[]string{"cannot reach " + closed, "connection refused", "is riposte serve running? use --server or RIPOSTE_SERVER"}},
		{"environment", []string{"RIPOSTE_SERVER=" + closed, "RIPOSTE_TOKEN=x"}, []string{"decision", "list"},
			[]string{"cannot reach " + closed, "is riposte serve running?"}},
		{"no scheme", nil, []string{"incident", "list", "--server", l.Addr().String(), "--token", "x"},
			[]string{"want a URL such as http://127.0.0.1:8080"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs, code := runEnv(c.env, c.args...)
			if code != 2 || out != "" {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit 2", code, out, errs)
			}
			for _, w := range c.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr %q lacks %q", errs, w)
				}
			}
		})
	}
}

// A second serve on a taken port fails at once, naming the address, and
// creates nothing in its new data directory; the first node's /metrics
// names its build.
func TestSecondServeOnATakenPort(t *testing.T) {
	n := newNode(t, "")
	n.start()
	ports := freePorts(t, 2)
	data := filepath.Join(t.TempDir(), "second-data")
	start := time.Now()
	cmd := exec.Command(binary, "serve", "--data", data, "--http", n.http, "--nats-listen", ports[0], "--syslog", ports[1])
	done := make(chan struct{})
	var out, errs string
	var code int
	go func() { out, errs, code = runCmd(cmd); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("a second serve on %s still ran after 10 s", n.http)
	}
	if code != 2 || !strings.Contains(errs, "cannot listen on tcp "+n.http+" (http.listen)") || !strings.Contains(errs, "the port is taken") {
		t.Fatalf("exit %d after %v, stdout %q, stderr %q; want exit 2 naming %s", code, time.Since(start), out, errs, n.http)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Fatalf("the refused serve left %s behind (%v)", data, err)
	}
	t.Logf("refused in %v", time.Since(start).Round(time.Millisecond))

	_, body, err := n.do("GET", "/metrics", "", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := run("version")
	version := strings.Fields(v)[1]
	re := regexp.MustCompile(`(?m)^riposte_build_info\{goversion="go[^"]+",revision="[^"]+",version="` + regexp.QuoteMeta(version) + `"\} 1$`)
	if !re.Match(body) {
		t.Fatalf("/metrics has no riposte_build_info for version %s:\n%s", version, grepLines(string(body), "build_info"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
