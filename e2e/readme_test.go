package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// readmeBlock is one ```sh block of README.md.
type readmeBlock struct {
	line int    // of the opening fence
	skip string // why the test does not run it ("" runs it)
	cmds []shellCmd
}

// shellCmd is one command of a block and the JSON lines the README shows
// it printing (comment lines right after it that start with "{"), where
// "..." stands for text left out.
type shellCmd struct {
	text   string
	expect []string
}

var readmeSkip = regexp.MustCompile(`^<!--\s*readme-test:\s*skip\s*\((.+)\)\s*-->$`)

// readmeBlocks reads the sh blocks of a Markdown text, in order, with the
// reason of a `<!-- readme-test: skip (why) -->` comment right before one.
func readmeBlocks(md string) ([]readmeBlock, error) {
	var out []readmeBlock
	lines := strings.Split(md, "\n")
	skip := ""
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSpace(lines[i])
		if m := readmeSkip.FindStringSubmatch(l); m != nil {
			skip = m[1]
			continue
		}
		if strings.HasPrefix(l, "<!--") && strings.Contains(l, "readme-test") {
			return nil, fmt.Errorf("README.md:%d: unknown readme-test comment %q", i+1, l)
		}
		if l != "```sh" {
			if l != "" {
				skip = ""
			}
			continue
		}
		b := readmeBlock{line: i + 1, skip: skip}
		skip = ""
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			return nil, fmt.Errorf("README.md:%d: unclosed sh block", b.line)
		}
		b.cmds = shellCommands(body)
		out = append(out, b)
	}
	return out, nil
}

var heredoc = regexp.MustCompile(`<<-?\s*'?"?([A-Za-z_]+)'?"?`)

// shellCommands splits a block into commands: one a line, except a here
// document (to its terminator) and a for loop (to its done). Lines that
// are only a comment are sample output.
func shellCommands(lines []string) []shellCmd {
	var out []shellCmd
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "# {") && len(out) > 0 {
			out[len(out)-1].expect = append(out[len(out)-1].expect, strings.TrimPrefix(t, "# "))
		}
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		cmd := []string{l}
		if m := heredoc.FindStringSubmatch(l); m != nil {
			for i++; i < len(lines); i++ {
				cmd = append(cmd, lines[i])
				if strings.TrimSpace(lines[i]) == m[1] {
					break
				}
			}
		} else if strings.HasPrefix(t, "for ") {
			for i++; i < len(lines); i++ {
				cmd = append(cmd, lines[i])
				if strings.TrimSpace(lines[i]) == "done" {
					break
				}
			}
		}
		out = append(out, shellCmd{text: strings.Join(cmd, "\n")})
	}
	return out
}

// shows reports whether some line of out matches the README's sample
// line want, whose "..." stand for any text.
func shows(out, want string) bool {
	parts := strings.Split(want, "...")
	for _, l := range strings.Split(out, "\n") {
		rest, ok := l, strings.HasPrefix(l, parts[0])
		for _, p := range parts {
			if !ok {
				break
			}
			var i int
			if i = strings.Index(rest, p); i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(p):]
		}
		if ok && (parts[len(parts)-1] == "" || rest == "") {
			return true
		}
	}
	return false
}

// readmeRun is the state of one reading of the README: the shell the
// commands run in, the server and agent it started, what earlier commands
// printed.
type readmeRun struct {
	t       *testing.T
	dir     string // the reader's working directory
	env     []string
	sh      *exec.Cmd
	shIn    *bufio.Writer
	shDone  chan struct{}
	seq     int
	http    string // port the README's 8080 stands for
	syslog  string // 5514
	nats    string // 4223
	lab     *lab
	serve   *exec.Cmd
	serveIn string // its API address
	serveLg *syncBuffer
	served  chan struct{}
	agent   *agentProc
	last    map[string]string // stdout of the last command of a kind ("agent token create")
}

// TestReadme runs every sh block of README.md, in order, as a reader
// would: the commands of a block one after the other in one shell (so
// exports carry on), `serve` and `sudo ./riposte agent` as the long-running
// processes of other terminals (a new serve replaces the running one, as
// the README says to stop it first), the agent on a host of its own (a
// network namespace). Addresses are the test's free ports and the lab's
// bridge; placeholders (01M8..., ID, TOKEN) are what the commands before
// produced. Blocks marked `<!-- readme-test: skip (why) -->` are not run:
// the SigmaHQ clone is replaced by the copy in ../shared/corpus.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := readmeBlocks(string(b))
	if err != nil {
		t.Fatal(err)
	}
	testenv.Command(t, "logger", "bsdutils (util-linux)")
	testenv.Command(t, "curl", "curl")
	// The SigmaHQ rules that stand for the README's clone.
	sigma := filepath.Dir(corpus.Dir(t, "sigma/rules"))
	l := newLab(t, "host")
	r := newReadmeRun(t, l)
	repl := strings.NewReplacer("/opt/sigma", sigma)
	ran := 0
	for _, blk := range blocks {
		if blk.skip != "" {
			t.Logf("README.md:%d: not run (%s)", blk.line, blk.skip)
			continue
		}
		for _, c := range blk.cmds {
			out := r.do(blk.line, repl.Replace(c.text))
			for _, want := range c.expect {
				if !shows(out, want) {
					t.Errorf("README.md:%d: %s\nprints no line like the README's\n  %s\nbut:\n%s", blk.line, firstLine(c.text), want, indent(out))
				}
			}
			ran++
		}
	}
	if ran < 30 {
		t.Fatalf("only %d README commands ran", ran)
	}
	t.Logf("%d README commands ran", ran)
}

func newReadmeRun(t *testing.T, l *lab) *readmeRun {
	dir := t.TempDir()
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	// The reader is in a clone: what the README names, from this one.
	for _, name := range []string{"examples", "detect", "riposte.example.yaml"} {
		if err := os.Symlink(filepath.Join(repo, name), filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	ports := freePorts(t, 3)
	r := &readmeRun{t: t, dir: dir, lab: l, last: map[string]string{}}
	for i, p := range ports {
		_, port, _ := net.SplitHostPort(p)
		*[]*string{&r.http, &r.syslog, &r.nats}[i] = port
	}
	// A clean environment with the README's defaults moved to free ports.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RIPOSTE_") {
			r.env = append(r.env, kv)
		}
	}
	r.env = append(r.env, "RIPOSTE_HTTP=127.0.0.1:"+r.http, "RIPOSTE_SYSLOG=127.0.0.1:"+r.syslog,
		"RIPOSTE_NATS_LISTEN=127.0.0.1:"+r.nats, "RIPOSTE_SERVER=http://127.0.0.1:"+r.http)
	r.sh = exec.Command("bash", "--noprofile", "--norc")
	r.sh.Dir, r.sh.Env = dir, r.env
	in, err := r.sh.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	r.shIn = bufio.NewWriter(in)
	r.sh.Stdout, r.sh.Stderr = os.Stderr, os.Stderr
	if err := r.sh.Start(); err != nil {
		t.Fatal(err)
	}
	r.shDone = make(chan struct{})
	go func() { r.sh.Wait(); close(r.shDone) }()
	t.Cleanup(func() {
		in.Close()
		select {
		case <-r.shDone:
		case <-time.After(5 * time.Second):
			r.sh.Process.Kill()
		}
		if r.agent != nil {
			r.agent.stop()
		}
		r.stopServe()
	})
	return r
}

// rewrite turns a README command into the one this test runs: the built
// binary for `go run ./cmd/riposte`, the test's ports and lab addresses
// for the README's.
func (r *readmeRun) rewrite(c string) string {
	return strings.NewReplacer(
		"go build -o riposte ./cmd/riposte", "cp "+binary+" riposte",
		"go run ./cmd/riposte", binary,
		"127.0.0.1:8080", "127.0.0.1:"+r.http,
		"10.0.0.1:8080", r.lab.server+":"+r.http,
		"10.0.0.1:4223", r.lab.server+":"+r.nats,
		"-P 5514", "-P "+r.syslog,
		"127.0.0.1:5514", "127.0.0.1:"+r.syslog,
	).Replace(c)
}

// do runs one README command and returns its standard output.
func (r *readmeRun) do(line int, readme string) string {
	t := r.t
	t.Helper()
	c := r.rewrite(readme)
	where := fmt.Sprintf("README.md:%d: %s", line, firstLine(readme))
	switch {
	case strings.HasPrefix(c, binary+" serve"):
		r.startServe(where, c)
		return ""
	case strings.HasPrefix(c, "sudo ./riposte agent ") && !strings.Contains(c, "uninstall"):
		r.startAgent(where, c)
		return ""
	case strings.HasPrefix(c, "sudo "):
		c = "ip netns exec " + r.lab.hosts["host"].ns + " " + strings.TrimPrefix(c, "sudo ")
	}
	c = r.placeholders(where, c)
	out, errs, code := r.shell(c)
	t.Logf("%s\n  exit %d\n%s%s", where, code, indent(out), indent(errs))
	if code != 0 {
		t.Fatalf("%s: exit %d\nstdout:\n%s\nstderr:\n%s\nserver log:\n%s", where, code, out, errs, r.serveLog())
	}
	if strings.Contains(readme, "agent token create") {
		r.last["agent token"] = strings.TrimSpace(out)
	}
	return out
}

// placeholders puts in what the README leaves to the reader: an incident
// id, an approval, a decision, the enrollment token just printed. Each
// waits (as a reader would look again) for what it names to exist.
func (r *readmeRun) placeholders(where, c string) string {
	t := r.t
	t.Helper()
	if strings.Contains(c, "01M8...") {
		id := r.pollID(where, "a P1 incident", []string{"incident", "list", "--output", "json"}, func(m map[string]any) bool { return m["priority"] == "P1" })
		c = strings.ReplaceAll(c, "01M8...", id)
	}
	switch {
	case strings.Contains(c, "--enroll-token TOKEN"):
		c = strings.ReplaceAll(c, "TOKEN", r.last["agent token"])
	case strings.Contains(c, "approval approve ID"):
		id := r.pollID(where, "an open approval", []string{"approval", "list", "--output", "json"}, nil)
		c = strings.Replace(c, "approval approve ID", "approval approve "+id, 1)
	case strings.Contains(c, "decision revert ID"):
		// The README says the host blocks the new attacker: its agent
		// must hold the rule in nftables before it is reverted.
		var inc string
		id := r.pollID(where, "a decision blocking 198.51.100.23", []string{"decision", "list", "--output", "json"}, func(m map[string]any) bool {
			if strings.HasPrefix(fmt.Sprint(m["target"]), "198.51.100.23") {
				inc, _ = m["incident"].(string)
				return true
			}
			return false
		})
		k := openKernel(t, r.lab, "host")
		waitFor(t, where+": the host's nftables to deny 198.51.100.23", 20*time.Second, func() bool {
			return k.denies(netip.MustParsePrefix("198.51.100.23/32"))
		})
		r.last["incident"] = inc
		c = strings.Replace(c, "decision revert ID", "decision revert "+id, 1)
	case strings.Contains(c, "incident recover ID"):
		id := r.last["incident"]
		if id == "" {
			id = r.pollID(where, "an incident", []string{"incident", "list", "--output", "json"}, nil)
		}
		c = strings.Replace(c, "incident recover ID", "incident recover "+id, 1)
	}
	return c
}

// pollID waits until a listing command shows an item that ok accepts (any
// item when ok is nil) and returns its id.
func (r *readmeRun) pollID(where, what string, args []string, ok func(map[string]any) bool) string {
	t := r.t
	t.Helper()
	var id string
	waitFor(t, where+": "+what, 60*time.Second, func() bool {
		out, _, code := runCmd(r.command(binary, args...))
		var items []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &items) != nil {
			return false
		}
		for _, m := range items {
			if ok == nil || ok(m) {
				id, _ = m["id"].(string)
				return id != ""
			}
		}
		return false
	})
	return id
}

// command is a process in the reader's directory with the shell's
// environment as the README has set it so far.
func (r *readmeRun) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = r.dir
	cmd.Env = r.shellEnv()
	return cmd
}

// shellEnv reads the shell's exported variables (the README's exports).
func (r *readmeRun) shellEnv() []string {
	out, _, code := r.shell("env -0")
	if code != 0 {
		r.t.Fatal("env in the README's shell failed")
	}
	var env []string
	for _, kv := range strings.Split(out, "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env
}

// shell runs c in the README's shell and returns what it printed and its
// exit status.
func (r *readmeRun) shell(c string) (string, string, int) {
	t := r.t
	t.Helper()
	r.seq++
	base := filepath.Join(r.dir, fmt.Sprintf(".readme-%d", r.seq))
	script := base + ".sh"
	if err := os.WriteFile(script, []byte(c+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(r.shIn, "source %q >%q 2>%q </dev/null; echo $? >%q.tmp; mv %q.tmp %q\n", script, base+".out", base+".err", base+".rc", base+".rc", base+".rc")
	if err := r.shIn.Flush(); err != nil {
		t.Fatalf("the README's shell is gone: %v", err)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		if b, err := os.ReadFile(base + ".rc"); err == nil {
			var code int
			fmt.Sscan(string(b), &code)
			out, _ := os.ReadFile(base + ".out")
			errs, _ := os.ReadFile(base + ".err")
			return string(out), string(errs), code
		}
		select {
		case <-r.shDone:
			t.Fatalf("the README's shell exited running %q", c)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%q did not finish within 3 minutes", c)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startServe stops the running server (Ctrl-C, as the README says) and
// starts this one, waiting until it is ready.
func (r *readmeRun) startServe(where, c string) {
	t := r.t
	t.Helper()
	r.stopServe()
	args := strings.Fields(strings.TrimPrefix(c, binary+" "))
	r.serveIn = "127.0.0.1:" + r.http
	for i, a := range args {
		if a == "--http" && i+1 < len(args) {
			r.serveIn = args[i+1]
		}
	}
	r.serve = r.command(binary, args...)
	r.serveLg = &syncBuffer{}
	r.serve.Stdout, r.serve.Stderr = r.serveLg, r.serveLg
	if err := r.serve.Start(); err != nil {
		t.Fatal(err)
	}
	r.served = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(r.serve, r.served)
	ready := false
	deadline := time.Now().Add(60 * time.Second)
	for !ready && time.Now().Before(deadline) {
		select {
		case <-r.served:
			t.Fatalf("%s: the server exited:\n%s", where, r.serveLg)
		default:
		}
		if resp, err := http.Get("http://" + r.serveIn + "/readyz"); err == nil {
			resp.Body.Close()
			ready = resp.StatusCode == 200
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !ready {
		t.Fatalf("%s: not ready within 60 s:\n%s", where, r.serveLg)
	}
	t.Logf("%s\n  ready on %s", where, r.serveIn)
}

func (r *readmeRun) stopServe() {
	if r.serve == nil {
		return
	}
	r.serve.Process.Signal(syscall.SIGINT)
	select {
	case <-r.served:
	case <-time.After(30 * time.Second):
		r.serve.Process.Kill()
		<-r.served
		r.t.Errorf("the server did not stop on Ctrl-C within 30 s")
	}
	r.serve = nil
}

func (r *readmeRun) serveLog() string {
	if r.serveLg == nil {
		return ""
	}
	return tail(r.serveLg.String(), 20)
}

// startAgent starts the agent on the lab's host, in the reader's
// directory (where the binary was copied), with its data in the test's
// directory instead of /var/lib, and waits for its first heartbeat.
func (r *readmeRun) startAgent(where, c string) {
	t := r.t
	t.Helper()
	c = r.placeholders(where, c)
	args := strings.Fields(strings.TrimPrefix(c, "sudo ./riposte agent "))
	args = append(args, "--data", filepath.Join(t.TempDir(), "agent"))
	r.agent = &agentProc{t: t, log: &syncBuffer{}, args: append([]string{"netns", "exec", r.lab.hosts["host"].ns, filepath.Join(r.dir, "riposte"), "agent"}, args...)}
	r.agent.start()
	waitFor(t, where+": the agent's first heartbeat", 30*time.Second, func() bool {
		out, _, _ := runCmd(r.command(binary, "agent", "list", "--output", "json"))
		return strings.Contains(out, `"last_seen"`)
	})
	t.Logf("%s\n  enrolled", where)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

func indent(s string) string {
	if s == "" {
		return ""
	}
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

// The README's reader: blocks, skip comments, here documents, loops,
// sample output with "...".
func TestReadmeParsing(t *testing.T) {
	md := "text\n\n<!-- readme-test: skip (needs the Internet) -->\n```sh\ngit clone x\n```\n\n```sh\n" +
		"a --x 1   # note\n# {\"n\":1,...}\n# a table line\n" +
		"curl -d @- <<'EOF'\n{\"x\":1}\nEOF\n\nfor i in 1 2; do\n  echo $i\ndone\n```\n<!-- readme-test: skip (why) -->\n\nprose\n```sh\nb\n```\n"
	blocks, err := readmeBlocks(md)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 3 || blocks[0].skip != "needs the Internet" || blocks[1].skip != "" || blocks[2].skip != "" {
		t.Fatalf("blocks %+v", blocks)
	}
	want := []shellCmd{
		{text: "a --x 1   # note", expect: []string{`{"n":1,...}`}},
		{text: "curl -d @- <<'EOF'\n{\"x\":1}\nEOF"},
		{text: "for i in 1 2; do\n  echo $i\ndone"},
	}
	if fmt.Sprint(blocks[1].cmds) != fmt.Sprint(want) {
		t.Fatalf("commands %q, want %q", blocks[1].cmds, want)
	}
	if _, err := readmeBlocks("<!-- readme-test: skp -->\n"); err == nil {
		t.Error("a misspelt readme-test comment was ignored")
	}
	shown := []struct {
		out, want string
		ok        bool
	}{
		{`{"a":1,"b":"xyz"}`, `{"a":1,"b":"x..."}`, true},
		{`{"a":1,"b":"xyz"}`, `{"a":1,...,"b":"xyz"}`, false},
		{`{"a":1,"b":"xyz"}`, `{"a":...}`, true},
		{"other\n{\"a\":2}", `{"a":2}`, true},
		{`{"a":2}x`, `{"a":2}`, false},
		{`{"a":15}`, `{"a":14...}`, false},
	}
	for _, c := range shown {
		if shows(c.out, c.want) != c.ok {
			t.Errorf("shows(%q, %q) = %v", c.out, c.want, !c.ok)
		}
	}
}
