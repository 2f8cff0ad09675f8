package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// server is an in-process SSH server that records exec requests and
// answers them with a configured exit status.
type server struct {
	t       *testing.T
	ln      net.Listener
	hostKey xssh.Signer
	port    int

	mu       sync.Mutex
	conns    int
	commands []string
	exit     uint32
	stdout   string
	delay    time.Duration
}

func newServer(t *testing.T, clientKey xssh.PublicKey) *server {
	t.Helper()
	_, hk, _ := ed25519.GenerateKey(rand.Reader)
	hostKey, err := xssh.NewSignerFromKey(hk)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, ln: ln, hostKey: hostKey, port: ln.Addr().(*net.TCPAddr).Port}
	cfg := &xssh.ServerConfig{
		PublicKeyCallback: func(_ xssh.ConnMetadata, k xssh.PublicKey) (*xssh.Permissions, error) {
			if bytes.Equal(k.Marshal(), clientKey.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostKey)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns++
			s.mu.Unlock()
			go s.serve(c, cfg)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *server) serve(c net.Conn, cfg *xssh.ServerConfig) {
	defer c.Close()
	_, chans, reqs, err := xssh.NewServerConn(c, cfg)
	if err != nil {
		return
	}
	go xssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "session" {
			nc.Reject(xssh.UnknownChannelType, "no")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			return
		}
		go func() {
			defer ch.Close()
			for r := range creqs {
				if r.Type != "exec" {
					r.Reply(false, nil)
					continue
				}
				var msg struct{ Command string }
				if err := xssh.Unmarshal(r.Payload, &msg); err != nil {
					r.Reply(false, nil)
					return
				}
				s.mu.Lock()
				s.commands = append(s.commands, msg.Command)
				exit, out, delay := s.exit, s.stdout, s.delay
				s.mu.Unlock()
				r.Reply(true, nil)
				time.Sleep(delay)
				ch.Write([]byte(out))
				ch.Stderr().Write([]byte("err\n"))
				st := make([]byte, 4)
				binary.BigEndian.PutUint32(st, exit)
				ch.SendRequest("exit-status", false, st)
				return
			}
		}()
	}
}

func (s *server) seen() (int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns, append([]string(nil), s.commands...)
}

// setup starts a server and returns a config that trusts it.
func setup(t *testing.T) (*server, Config) {
	t.Helper()
	_, ck, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := xssh.NewSignerFromKey(ck)
	if err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, signer.PublicKey())
	dir := t.TempDir()
	block, err := xssh.MarshalPrivateKey(ck, "")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "id")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	kh := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(srv.port))}, srv.hostKey.PublicKey())
	if err := os.WriteFile(kh, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		KnownHosts: kh,
		User:       "riposte",
		KeyFile:    keyFile,
		Port:       srv.port,
		Timeout:    5 * time.Second,
		Commands: map[string]Command{
			"restart_service": {
				Argv:   []string{"sudo", "-n", "systemctl", "restart", "--", "{service}"},
				Params: map[string]Param{"service": {Pattern: "^[a-z0-9@._-]{1,64}$"}},
			},
			"echo": {
				Argv:   []string{"/bin/echo", "{a}", "--label={b}"},
				Params: map[string]Param{"a": {Pattern: `(?s).*`}, "b": {Pattern: `(?s).*`}},
			},
		},
	}
	return srv, cfg
}

func newConn(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runCall(host, command string, args ...string) connector.Call {
	a := map[string]any{"host": host, "command": command}
	if args != nil {
		vals := make([]any, len(args))
		for i, v := range args {
			vals[i] = v
		}
		a["args"] = vals
	}
	return connector.Call{Operation: "run", Args: a, RunID: "r", StepID: "s"}
}

// unquote parses a command line made only of single-quoted words, \'
// and spaces between words: anything else (unquoted shell syntax) fails.
func unquote(t *testing.T, s string) []string {
	t.Helper()
	var out []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); {
		switch {
		case s[i] == '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				t.Fatalf("unterminated quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 2
			inWord = true
		case strings.HasPrefix(s[i:], `\'`):
			cur.WriteByte('\'')
			i += 2
			inWord = true
		case s[i] == ' ':
			if !inWord {
				t.Fatalf("empty word or double space in %q", s)
			}
			out = append(out, cur.String())
			cur.Reset()
			inWord = false
			i++
		default:
			t.Fatalf("unquoted %q at %d in %q", s[i], i, s)
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

func TestRunSendsQuotedArgv(t *testing.T) {
	srv, cfg := setup(t)
	srv.stdout = "done\n"
	c := newConn(t, cfg)
	hostile := []string{
		"; rm -rf /", "$(id)", "`id`", "a\nrm -rf /\n", "--flag", "it's", `'\''`, "a b\tc", "|| true &", "$HOME ${IFS}", "", "\\", `"`,
	}
	for _, v := range hostile {
		res, err := c.Execute(context.Background(), runCall("127.0.0.1", "echo", v, v))
		if err != nil {
			t.Fatalf("%q: %v", v, err)
		}
		if res.Outputs["exit_status"] != 0 || res.Outputs["stdout"] != "done\n" || res.Outputs["stderr"] != "err\n" {
			t.Fatalf("%q: outputs %v", v, res.Outputs)
		}
		_, cmds := srv.seen()
		got := unquote(t, cmds[len(cmds)-1])
		want := []string{"/bin/echo", v, "--label=" + v}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: remote argv %q, want %q", v, got, want)
		}
		if !reflect.DeepEqual(res.Outputs["argv"], want) {
			t.Fatalf("argv output %q", res.Outputs["argv"])
		}
	}
	res, err := c.Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx@1.service"))
	if err != nil {
		t.Fatal(err)
	}
	_, cmds := srv.seen()
	if last := cmds[len(cmds)-1]; last != `'sudo' '-n' 'systemctl' 'restart' '--' 'nginx@1.service'` {
		t.Fatalf("command line %q", last)
	}
	if len(res.Commands) != 1 || !strings.Contains(res.Commands[0], "'nginx@1.service'") {
		t.Fatalf("commands %q", res.Commands)
	}
}

func TestRefusedBeforeConnecting(t *testing.T) {
	srv, cfg := setup(t)
	c := newConn(t, cfg)
	for name, call := range map[string]connector.Call{
		"pattern":         runCall("127.0.0.1", "restart_service", "nginx; reboot"),
		"pattern newline": runCall("127.0.0.1", "restart_service", "nginx\n"),
		"uppercase":       runCall("127.0.0.1", "restart_service", "NGINX"),
		"unknown command": runCall("127.0.0.1", "rm", "-rf", "/"),
		"too many args":   runCall("127.0.0.1", "restart_service", "a", "b"),
		"too few args":    runCall("127.0.0.1", "restart_service"),
		"host with user":  runCall("root@127.0.0.1", "restart_service", "nginx"),
		"host option":     runCall("-oProxyCommand=id", "restart_service", "nginx"),
		"host with port":  runCall("127.0.0.1:22", "restart_service", "nginx"),
		"unknown host":    runCall("127.0.0.2", "restart_service", "nginx"),
		"missing host":    {Operation: "run", Args: map[string]any{"command": "restart_service", "args": []any{"x"}}},
		"extra arg":       {Operation: "run", Args: map[string]any{"host": "127.0.0.1", "command": "restart_service", "args": []any{"x"}, "shell": "id"}},
		"bad op":          {Operation: "exec", Args: map[string]any{"host": "127.0.0.1", "command": "restart_service"}},
	} {
		for _, f := range []func(context.Context, connector.Call) (connector.Result, error){c.Execute, c.Simulate} {
			_, err := f(context.Background(), call)
			if err == nil || connector.ClassOf(err) != connector.Permanent {
				t.Fatalf("%s: err %v, want permanent", name, err)
			}
		}
	}
	if n, cmds := srv.seen(); n != 0 || len(cmds) != 0 {
		t.Fatalf("server saw %d connections, %q", n, cmds)
	}
}

func TestUnknownHostKeyRefused(t *testing.T) {
	srv, cfg := setup(t)
	// known_hosts with no entry for the server: refused without connecting.
	empty := filepath.Join(t.TempDir(), "empty")
	os.WriteFile(empty, nil, 0o600)
	cfg.KnownHosts = empty
	c := newConn(t, cfg)
	_, err := c.Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "not in known_hosts") {
		t.Fatalf("err %v", err)
	}
	if n, _ := srv.seen(); n != 0 {
		t.Fatalf("server saw %d connections", n)
	}
	// known_hosts with another key for the server: refused at the handshake.
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	os2, _ := xssh.NewSignerFromKey(other)
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte(knownhosts.Line([]string{knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(srv.port))}, os2.PublicKey())+"\n"), 0o600)
	cfg.KnownHosts = wrong
	c = newConn(t, cfg)
	_, err = c.Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err %v", err)
	}
	if _, cmds := srv.seen(); len(cmds) != 0 {
		t.Fatalf("command ran: %q", cmds)
	}
}

func TestNonZeroExitIsPermanent(t *testing.T) {
	srv, cfg := setup(t)
	srv.exit = 3
	c := newConn(t, cfg)
	res, err := c.Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if err == nil || connector.ClassOf(err) != connector.Permanent || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err %v", err)
	}
	if res.Outputs["exit_status"] != 3 || res.Outputs["stderr"] != "err\n" {
		t.Fatalf("outputs %v", res.Outputs)
	}
}

func TestSimulateSendsNothing(t *testing.T) {
	srv, cfg := setup(t)
	c := newConn(t, cfg)
	res, err := c.Simulate(context.Background(), runCall("127.0.0.1", "echo", "$(id)", "x'y"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"/bin/echo", "$(id)", "--label=x'y"}
	if !reflect.DeepEqual(res.Outputs["argv"], want) {
		t.Fatalf("argv %q", res.Outputs["argv"])
	}
	if got := unquote(t, res.Outputs["command_line"].(string)); !reflect.DeepEqual(got, want) {
		t.Fatalf("command line %q", got)
	}
	if n, cmds := srv.seen(); n != 0 || len(cmds) != 0 {
		t.Fatalf("server saw %d connections, %q", n, cmds)
	}
}

func TestTransientAndUnknown(t *testing.T) {
	srv, cfg := setup(t)
	// Nothing listens: transient.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	kh := filepath.Join(t.TempDir(), "kh")
	os.WriteFile(kh, []byte(knownhosts.Line([]string{knownhosts.Normalize("127.0.0.1:" + strconv.Itoa(closedPort))}, srv.hostKey.PublicKey())+"\n"), 0o600)
	cfg2 := cfg
	cfg2.KnownHosts, cfg2.Port = kh, closedPort
	_, err := newConn(t, cfg2).Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if connector.ClassOf(err) != connector.Transient {
		t.Fatalf("refused connection: err %v", err)
	}
	// The command was sent, then the call timed out: unknown outcome.
	srv.delay = 2 * time.Second
	cfg.Timeout = 300 * time.Millisecond
	_, err = newConn(t, cfg).Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if connector.ClassOf(err) != connector.Unknown {
		t.Fatalf("timeout after sending: err %v", err)
	}
}

func TestOutputIsBounded(t *testing.T) {
	srv, cfg := setup(t)
	srv.stdout = strings.Repeat("é", 100)
	cfg.MaxOutputBytes = 11
	res, err := newConn(t, cfg).Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Outputs["stdout"] != strings.Repeat("é", 5) || res.Outputs["stdout_truncated"] != true {
		t.Fatalf("outputs %v", res.Outputs)
	}
}

func TestConfigValidation(t *testing.T) {
	_, good := setup(t)
	for name, mut := range map[string]func(*Config){
		"no known_hosts": func(c *Config) { c.KnownHosts = "" },
		"no user":        func(c *Config) { c.User = "" },
		"no key":         func(c *Config) { c.KeyFile = "" },
		"two keys":       func(c *Config) { c.KeyEnv = "X" },
		"program param": func(c *Config) {
			c.Commands = map[string]Command{"x": {Argv: []string{"{p}"}, Params: map[string]Param{"p": {Pattern: "a"}}}}
		},
		"undeclared": func(c *Config) { c.Commands = map[string]Command{"x": {Argv: []string{"ls", "{p}"}}} },
		"unused param": func(c *Config) {
			c.Commands = map[string]Command{"x": {Argv: []string{"ls"}, Params: map[string]Param{"p": {Pattern: "a"}}}}
		},
		"no pattern": func(c *Config) {
			c.Commands = map[string]Command{"x": {Argv: []string{"ls", "{p}"}, Params: map[string]Param{"p": {}}}}
		},
		"bad pattern": func(c *Config) {
			c.Commands = map[string]Command{"x": {Argv: []string{"ls", "{p}"}, Params: map[string]Param{"p": {Pattern: "("}}}}
		},
		"empty argv":        func(c *Config) { c.Commands = map[string]Command{"x": {}} },
		"bad command name":  func(c *Config) { c.Commands = map[string]Command{"a b": {Argv: []string{"ls"}}} },
		"missing key file":  func(c *Config) { c.KeyFile = "/nonexistent" },
		"missing knownhost": func(c *Config) { c.KnownHosts = "/nonexistent" },
	} {
		cfg := good
		mut(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if !strings.Contains(SampleConfig, "known_hosts") {
		t.Fatal("sample config")
	}
	if op := newConn(t, good).Spec().Operations["run"]; op.Idempotent || op.Reversible != "" {
		t.Fatal("run must be declared non-idempotent and irreversible")
	}
}

func TestKeyEnv(t *testing.T) {
	srv, cfg := setup(t)
	b, _ := os.ReadFile(cfg.KeyFile)
	cfg.KeyFile, cfg.KeyEnv = "", "RIPOSTE_TEST_SSH_KEY"
	c := newConn(t, cfg)
	t.Setenv("RIPOSTE_TEST_SSH_KEY", "")
	if _, err := c.Simulate(context.Background(), runCall("127.0.0.1", "restart_service", "nginx")); err == nil || strings.Contains(err.Error(), "PRIVATE") {
		t.Fatalf("unset key: %v", err)
	}
	t.Setenv("RIPOSTE_TEST_SSH_KEY", string(b))
	if _, err := c.Execute(context.Background(), runCall("127.0.0.1", "restart_service", "nginx")); err != nil {
		t.Fatal(err)
	}
	if _, cmds := srv.seen(); len(cmds) != 1 {
		t.Fatalf("commands %q", cmds)
	}
}
