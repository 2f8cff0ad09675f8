package dnssink

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/internal/testenv"
	"golang.org/x/net/dns/dnsmessage"
)

// freePort returns a loopback port nothing listens on (for a moment).
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lab is a real Unbound of the test's own, on loopback ports, with a
// control channel whose certificates unbound-control-setup made.
type lab struct {
	dir      string
	ctl      string // unbound-control
	resolver string // 127.0.0.1:port
	server   string // 127.0.0.1@port
	secrets  map[string]string
}

func (l *lab) resolve(_ context.Context, ref string) (string, error) {
	v, ok := l.secrets[strings.TrimPrefix(ref, "secret://")]
	if !ok {
		return "", fmt.Errorf("secret %s: no such secret", strings.TrimPrefix(ref, "secret://"))
	}
	return v, nil
}

// startUnbound starts an Unbound that knows two names of its own: the
// zone test. answers NXDOMAIN for anything it does not list, and
// bad.example.test. answers 198.51.100.7 (a name with an answer before it
// is sinkholed).
func startUnbound(t *testing.T) *lab {
	t.Helper()
	unbound := testenv.Command(t, "unbound", "unbound")
	setup := testenv.Command(t, "unbound-control-setup", "unbound")
	ctl := testenv.Command(t, "unbound-control", "unbound")
	dir := t.TempDir()
	if out, err := exec.Command(setup, "-d", dir).CombinedOutput(); err != nil {
		t.Fatalf("unbound-control-setup: %v\n%s", err, out)
	}
	dnsPort, ctlPort := freePort(t, "udp"), freePort(t, "tcp")
	conf := fmt.Sprintf(`server:
  interface: 127.0.0.1
  port: %d
  do-daemonize: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: ""
  use-syslog: no
  do-ip6: no
  module-config: "iterator"
  local-zone: "test." static
  local-data: "bad.example.test. 300 IN A 198.51.100.7"
remote-control:
  control-enable: yes
  control-interface: 127.0.0.1
  control-port: %d
  server-key-file: %q
  server-cert-file: %q
  control-key-file: %q
  control-cert-file: %q
`, dnsPort, dir, ctlPort, filepath.Join(dir, "unbound_server.key"), filepath.Join(dir, "unbound_server.pem"),
		filepath.Join(dir, "unbound_control.key"), filepath.Join(dir, "unbound_control.pem"))
	cf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unbound, "-d", "-c", cf)
	logf, _ := os.Create(filepath.Join(dir, "unbound.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); logf.Close() })
	l := &lab{dir: dir, ctl: ctl, resolver: fmt.Sprintf("127.0.0.1:%d", dnsPort), server: fmt.Sprintf("127.0.0.1@%d", ctlPort), secrets: map[string]string{}}
	for _, f := range []struct{ name, file string }{{"ub-key", "unbound_control.key"}, {"ub-cert", "unbound_control.pem"}} {
		b, err := os.ReadFile(filepath.Join(dir, f.file))
		if err != nil {
			t.Fatal(err)
		}
		l.secrets[f.name] = string(b)
	}
	// Ready when it answers and its control channel does.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := resolve(ctx, l.resolver, "bad.example.test.", dnsmessage.TypeA)
		cancel()
		if err == nil && exec.Command(ctl, "-c", cf, "-s", l.server, "status").Run() == nil {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "unbound.log"))
			t.Fatalf("unbound did not start: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return l
}

func (l *lab) config() Config {
	return Config{
		Control: l.ctl, Server: l.server, Resolver: l.resolver, Sinkhole: "192.0.2.53", TTL: 30,
		ControlKey: "secret://ub-key", ControlCert: "secret://ub-cert", ServerCert: filepath.Join(l.dir, "unbound_server.pem"),
		Protect: []string{"corp.test"}, Secrets: l.resolve,
	}
}

func mustNew(t *testing.T, cfg Config) *Connector {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func lookup(t *testing.T, l *lab, name string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a, err := resolve(ctx, l.resolver, name, dnsmessage.TypeA)
	if err != nil {
		t.Fatalf("resolving %s: %v", name, err)
	}
	return a
}

func (a answer) String() string { return fmt.Sprintf("%s %v", a.RCode, addrStrings(a.Addrs)) }

// A sinkholed name, and every name under it, resolves to the sinkhole; the
// undo the call returns brings back what it resolved to before: its own
// answer, or NXDOMAIN.
func TestSinkholeResolvesToTheSinkholeAndUndoRestores(t *testing.T) {
	l := startUnbound(t)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp) // where the control key is written for a call
	c := mustNew(t, l.config())
	ctx := context.Background()
	for _, tc := range []struct {
		domain, before string
	}{
		{"bad.example.test", "NOERROR [198.51.100.7]"},
		{"Evil.Test.", "NXDOMAIN []"},
	} {
		t.Run(tc.domain, func(t *testing.T) {
			fq, _ := CheckDomain(tc.domain)
			if got := lookup(t, l, fq).String(); got != tc.before {
				t.Fatalf("before: %s answers %s, want %s", fq, got, tc.before)
			}
			call := connector.Call{Operation: "sinkhole_domain", Args: map[string]any{"domain": tc.domain}}
			res, err := c.Execute(ctx, call)
			if err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{fq, "www." + fq, "a.b." + fq} {
				if got := lookup(t, l, name).String(); got != "NOERROR [192.0.2.53]" {
					t.Errorf("sinkholed: %s answers %s, want the sinkhole", name, got)
				}
			}
			if res.Outputs["rcode"] != "NOERROR" || !slices.Equal(res.Outputs["answers"].([]string), []string{"192.0.2.53"}) {
				t.Errorf("outputs %v do not report the check", res.Outputs)
			}
			// Twice is once: still one sinkhole record.
			if _, err := c.Execute(ctx, call); err != nil {
				t.Fatalf("second sinkhole: %v", err)
			}
			out, err := exec.Command(l.ctl, "-c", filepath.Join(l.dir, "unbound.conf"), "-s", l.server, "list_local_data").CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			if n := strings.Count(string(out), fq+"\t30\tIN\tA\t192.0.2.53"); n != 1 {
				t.Errorf("%d sinkhole records for %s after two calls, want 1:\n%s", n, fq, out)
			}
			if res.Undo == nil || res.Undo.Connector != Name || res.Undo.Operation != "unsinkhole_domain" {
				t.Fatalf("undo %+v", res.Undo)
			}
			ures, err := c.Execute(ctx, connector.Call{Operation: res.Undo.Operation, Args: res.Undo.Args})
			if err != nil {
				t.Fatal(err)
			}
			if got := lookup(t, l, fq).String(); got != tc.before {
				t.Errorf("after undo: %s answers %s, want %s again", fq, got, tc.before)
			}
			if ures.Outputs["rcode"] != strings.Fields(tc.before)[0] {
				t.Errorf("undo outputs %v", ures.Outputs)
			}
			// Undoing again is harmless.
			if _, err := c.Execute(ctx, connector.Call{Operation: res.Undo.Operation, Args: res.Undo.Args}); err != nil {
				t.Errorf("second undo: %v", err)
			}
			all, _ := json.Marshal([]any{res, ures})
			if strings.Contains(string(all), "PRIVATE KEY") || strings.Contains(string(all), l.secrets["ub-key"][40:80]) {
				t.Errorf("the control key is in a result: %s", all)
			}
		})
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("the control key's temporary directory is left behind: %v", left)
	}
}

// A sinkhole in an IPv6 address answers AAAA.
func TestSinkholeIPv6(t *testing.T) {
	l := startUnbound(t)
	cfg := l.config()
	cfg.Sinkhole = "2001:db8::53"
	c := mustNew(t, cfg)
	res, err := c.Execute(context.Background(), connector.Call{Operation: "sinkhole_domain", Args: map[string]any{"domain": "six.test"}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Outputs["answers"].([]string), []string{"2001:db8::53"}) {
		t.Fatalf("answers %v", res.Outputs["answers"])
	}
	if _, err := c.Execute(context.Background(), connector.Call{Operation: "unsinkhole_domain", Args: res.Undo.Args}); err != nil {
		t.Fatal(err)
	}
}

// Without the control credentials, or with Unbound down, nothing is
// changed and the error says why, classed so the engine retries only what
// can succeed.
func TestControlFailures(t *testing.T) {
	l := startUnbound(t)
	call := connector.Call{Operation: "sinkhole_domain", Args: map[string]any{"domain": "evil.test"}}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		class connector.Class
		want  string
	}{
		{"missing secret", func(c *Config) { c.ControlKey = "secret://absent" }, connector.Permanent, "no such secret"},
		{"wrong client key", func(c *Config) { l.secrets["other-key"] = l.secrets["ub-cert"]; c.ControlKey = "secret://other-key" }, connector.Permanent, "unbound-control local_zone"},
		{"unbound down", func(c *Config) { c.Server = fmt.Sprintf("127.0.0.1@%d", freePort(t, "tcp")) }, connector.Transient, "Connection refused"},
		{"no unbound-control", func(c *Config) { c.Control = filepath.Join(t.TempDir(), "unbound-control") }, connector.Transient, "unbound-control local_zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := l.config()
			tc.edit(&cfg)
			_, err := mustNew(t, cfg).Execute(context.Background(), call)
			if err == nil || connector.ClassOf(err) != tc.class || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v (class %v), want %v naming %q", err, connector.ClassOf(err), tc.class, tc.want)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") {
				t.Fatalf("the key is in the error: %v", err)
			}
			if got := lookup(t, l, "evil.test.").String(); got != "NXDOMAIN []" {
				t.Fatalf("evil.test answers %s after a failed call", got)
			}
		})
	}
}

// Names that are not one plain domain, or that are protected, are refused
// before anything runs (the program here does not exist: running it would
// be a transient error, not these).
func TestRefusedDomains(t *testing.T) {
	c := mustNew(t, Config{Control: "/nonexistent/unbound-control", Resolver: "127.0.0.1:1", Sinkhole: "192.0.2.53", Protect: []string{"Corp.Example."}})
	for _, d := range []string{"", "com", "com.", "-s.example", "a b.example", "a;reboot.example", "$(id).example", "x..example",
		"203.0.113.7", "[2001:db8::1]", "ex\x00ample.com", "bücher.example", "*.example.com", "corp.example", "vpn.corp.example",
		strings.Repeat("a", 64) + ".example", strings.Repeat("abcdefghi.", 26) + "example"} {
		for _, op := range []string{"sinkhole_domain", "unsinkhole_domain"} {
			if op == "unsinkhole_domain" && strings.Contains(d, "corp.example") {
				continue // lifting a sinkhole of a protected name is allowed
			}
			_, err := c.Execute(context.Background(), connector.Call{Operation: op, Args: map[string]any{"domain": d}})
			if err == nil || connector.ClassOf(err) != connector.Permanent {
				t.Errorf("%s(%q): err = %v, want a permanent refusal", op, d, err)
			}
		}
	}
	for _, args := range []map[string]any{{}, {"domain": 7}, {"domain": "evil.example", "address": "1.2.3.4"}} {
		if _, err := c.Simulate(context.Background(), connector.Call{Operation: "sinkhole_domain", Args: args}); err == nil {
			t.Errorf("args %v accepted", args)
		}
	}
}

// The dry run shows the exact commands without running them or reading a
// secret.
func TestSimulate(t *testing.T) {
	read := 0
	c := mustNew(t, Config{Control: "/nonexistent/unbound-control", Server: "127.0.0.1@8953", Resolver: "127.0.0.1:53", Sinkhole: "192.0.2.53",
		ControlKey: "secret://k", ControlCert: "secret://c", ServerCert: "/etc/unbound/unbound_server.pem",
		Secrets: func(context.Context, string) (string, error) { read++; return "", nil }})
	res, err := c.Simulate(context.Background(), connector.Call{Operation: "sinkhole_domain", Args: map[string]any{"domain": "Evil.Example"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/nonexistent/unbound-control -c <temporary config with the control key> -s 127.0.0.1@8953 local_zone evil.example. redirect",
		"/nonexistent/unbound-control -c <temporary config with the control key> -s 127.0.0.1@8953 local_data evil.example. 60 IN A 192.0.2.53",
	}
	if !slices.Equal(res.Commands, want) || read != 0 {
		t.Fatalf("commands %q (secrets read %d), want %q", res.Commands, read, want)
	}
	if res.Undo == nil || res.Undo.Args["domain"] != "evil.example" {
		t.Fatalf("undo %+v", res.Undo)
	}
}

func TestConfigErrors(t *testing.T) {
	ok := Config{Resolver: "127.0.0.1:53", Sinkhole: "192.0.2.53"}
	if _, err := New(ok); err != nil {
		t.Fatalf("minimal config refused: %v", err)
	}
	sec := func(context.Context, string) (string, error) { return "", nil }
	for _, tc := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) { c.Resolver = "" }, "resolver"},
		{func(c *Config) { c.Resolver = "127.0.0.1" }, "resolver"},
		{func(c *Config) { c.Sinkhole = "sinkhole.example" }, "sinkhole"},
		{func(c *Config) { c.TTL = 100000 }, "ttl"},
		{func(c *Config) { c.Server = "-c/etc/passwd" }, "server"},
		{func(c *Config) {
			c.ControlKey, c.ControlCert, c.ServerCert, c.Server, c.Secrets = "-----BEGIN PRIVATE KEY-----", "/c.pem", "/s.pem", "127.0.0.1@8953", sec
		}, "control_key must be a secret://NAME"},
		{func(c *Config) { c.ControlKey, c.Secrets = "secret://k", sec }, "control_cert and server_cert"},
		{func(c *Config) {
			c.ControlKey, c.ControlCert, c.ServerCert, c.Server = "secret://k", "/c", "/s", "127.0.0.1@8953"
		}, "needs the node's secret store"},
		{func(c *Config) { c.ControlCert = "/c.pem" }, "need control_key"},
		{func(c *Config) { c.Protect = []string{"com"} }, "protect[0]"},
	} {
		cfg := ok
		tc.edit(&cfg)
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err = %v, want it to name %q", cfg, err, tc.want)
		}
	}
	refs := Config{ControlKey: "secret://ub-key", ControlCert: "/etc/c.pem", ServerCert: "secret://ub-server"}.References()
	if len(refs) != 2 || refs["connectors.dnssink.control_key"] != "ub-key" || refs["connectors.dnssink.server_cert"] != "ub-server" {
		t.Errorf("References() = %v", refs)
	}
}

// Whatever CheckDomain accepts is one inert argument: no option, no
// space, no shell or zone-file syntax.
func FuzzCheckDomain(f *testing.F) {
	for _, s := range []string{"evil.example", "-s.example", "a b.c", "x.y.", "xn--bcher-kva.example", "$(id).x", "a\nb.c", "_dmarc.example.com"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := CheckDomain(s)
		if err != nil {
			return
		}
		if strings.HasPrefix(d, "-") || strings.ContainsAny(d, " \t\r\n\x00;\"'$`\\()*@/") || !strings.HasSuffix(d, ".") || len(d) > 254 || strings.ToLower(d) != d {
			t.Fatalf("CheckDomain(%q) = %q", s, d)
		}
		if again, err := CheckDomain(d); err != nil || again != d {
			t.Fatalf("not stable: %q → %q → %q, %v", s, d, again, err)
		}
	})
}
