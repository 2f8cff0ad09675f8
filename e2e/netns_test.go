package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"

	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// lab is a small network of namespaces on one bridge: the Riposte server
// in the test's own namespace (the bridge address), and hosts each in a
// namespace of its own with one address on the bridge.
type lab struct {
	t      *testing.T
	id     string
	bridge string
	server string // the bridge's address
	hosts  map[string]*labHost
}

type labHost struct {
	ns   string
	h    netns.NsHandle
	addr string
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

var labCount int

// needLab skips unless this process may create network namespaces and
// nftables tables; under CI (which runs as root) their absence fails.
func needLab(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("network namespaces: not in -short")
	}
	testenv.Root(t, "network namespaces and nftables")
	testenv.Command(t, "ip", "iproute2")
}

// newLab makes the bridge 10.<n>.0.1/24 and one namespace per host name,
// with addresses .2, .3, … in the order given.
func newLab(t *testing.T, names ...string) *lab {
	t.Helper()
	needLab(t)
	// Unique per lab: a namespace can outlive its test for a moment (a
	// process still exiting in it), and the next lab must not collide.
	labCount++
	n := (os.Getpid()+labCount*37)%200 + 20
	l := &lab{t: t, id: fmt.Sprintf("%d%d", os.Getpid()%1000, labCount), hosts: map[string]*labHost{}}
	l.bridge = "rpbr" + l.id
	l.server = fmt.Sprintf("10.%d.0.1", n)
	t.Cleanup(l.close)
	sh(t, "ip", "link", "add", l.bridge, "type", "bridge")
	sh(t, "ip", "addr", "add", l.server+"/24", "dev", l.bridge)
	sh(t, "ip", "link", "set", l.bridge, "up")
	for i, name := range names {
		h := &labHost{ns: fmt.Sprintf("rp%s-%s", l.id, name), addr: fmt.Sprintf("10.%d.0.%d", n, i+2)}
		outer, inner := fmt.Sprintf("rp%s%dh", l.id, i), fmt.Sprintf("rp%s%dn", l.id, i)
		sh(t, "ip", "netns", "add", h.ns)
		l.hosts[name] = h
		sh(t, "ip", "link", "add", outer, "type", "veth", "peer", "name", inner)
		sh(t, "ip", "link", "set", inner, "netns", h.ns)
		sh(t, "ip", "link", "set", outer, "master", l.bridge, "up")
		sh(t, "ip", "netns", "exec", h.ns, "ip", "addr", "add", h.addr+"/24", "dev", inner)
		sh(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", inner, "up")
		sh(t, "ip", "netns", "exec", h.ns, "ip", "link", "set", "lo", "up")
		hd, err := netns.GetFromName(h.ns)
		if err != nil {
			t.Fatal(err)
		}
		h.h = hd
	}
	return l
}

func (l *lab) close() {
	for _, h := range l.hosts {
		h.h.Close()
		_ = exec.Command("ip", "netns", "del", h.ns).Run()
	}
	_ = exec.Command("ip", "link", "del", l.bridge).Run()
}

// addAddrs gives a host more addresses on its link (attackers with many
// source addresses).
func (l *lab) addAddrs(name string, addrs []string) {
	h := l.hosts[name]
	link := ""
	for i, n := range l.order() {
		if n == name {
			link = fmt.Sprintf("rp%s%dn", l.id, i)
		}
	}
	for _, a := range addrs {
		sh(l.t, "ip", "netns", "exec", h.ns, "ip", "addr", "add", a+"/24", "dev", link)
	}
}

func (l *lab) order() []string {
	out := make([]string, len(l.hosts))
	for name, h := range l.hosts {
		var i int
		fmt.Sscanf(h.addr[strings.LastIndex(h.addr, ".")+1:], "%d", &i)
		out[i-2] = name
	}
	return out
}

// in runs fn on a thread inside host's namespace; sockets made there stay
// in that namespace afterwards.
func (l *lab) in(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	if err := netns.Set(l.hosts[name].h); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

// dial opens a TCP connection from host (from source address src, if
// given) and reports whether it was established within the timeout.
func (l *lab) dial(name, src, addr string, timeout time.Duration) error {
	return l.in(name, func() error {
		d := net.Dialer{Timeout: timeout}
		if src != "" {
			d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
		}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// loginService is a tiny login service on the victim: every connection is
// a failed login, logged the way sshd logs it and shipped to Riposte by
// syslog over TCP.
type loginService struct {
	ln     net.Listener
	redial func() (net.Conn, error)
	mu     sync.Mutex
	logc   net.Conn
	writes map[string][]time.Time // by peer address: when each log line was written
}

func startLoginService(t *testing.T, l *lab, host, listen, syslogAddr string) *loginService {
	t.Helper()
	s := &loginService{writes: map[string][]time.Time{}}
	s.redial = func() (c net.Conn, err error) {
		err = l.in(host, func() error {
			c, err = net.Dial("tcp", syslogAddr)
			return err
		})
		return c, err
	}
	err := l.in(host, func() error {
		var err error
		if s.ln, err = net.Listen("tcp", listen); err != nil {
			return err
		}
		s.logc, err = net.Dial("tcp", syslogAddr)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close(); s.logc.Close() })
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			peer := c.RemoteAddr().(*net.TCPAddr)
			c.Write([]byte("login: denied\n"))
			c.Close()
			s.log(peer.IP.String(), peer.Port)
		}
	}()
	return s
}

func (s *loginService) log(ip string, port int) {
	msg := fmt.Sprintf("<38>%s victim sshd[4242]: Failed password for invalid user admin from %s port %d ssh2",
		time.Now().UTC().Format("Jan _2 15:04:05"), ip, port)
	s.mu.Lock()
	defer s.mu.Unlock()
	fmt.Fprintf(s.logc, "%d %s", len(msg), msg)
	s.writes[ip] = append(s.writes[ip], time.Now())
}

// reconnect opens a new syslog connection (after a server restart).
func (s *loginService) reconnect(t *testing.T) {
	t.Helper()
	c, err := s.redial()
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.logc.Close()
	s.logc = c
	s.mu.Unlock()
}

func (s *loginService) written(ip string) []time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Time(nil), s.writes[ip]...)
}

// agentProc is `riposte agent` running in a namespace.
type agentProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	log  *syncBuffer
	args []string
	done chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func startAgent(t *testing.T, ns string, args ...string) *agentProc {
	t.Helper()
	a := &agentProc{t: t, log: &syncBuffer{}, args: append([]string{"netns", "exec", ns, binary, "agent"}, args...)}
	a.start()
	t.Cleanup(func() { a.stop() })
	return a
}

func (a *agentProc) start() {
	a.cmd = exec.Command("ip", a.args...)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
	a.done = make(chan struct{})
	go func(c *exec.Cmd, d chan struct{}) { c.Wait(); close(d) }(a.cmd, a.done)
}

func (a *agentProc) stop() {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(10 * time.Second):
		a.cmd.Process.Kill()
		<-a.done
	}
	a.cmd = nil
}

// kernel reads the victim's Riposte table directly from nftables.
type kernel struct {
	fw *firewall.Firewall
	ns netns.NsHandle
}

func openKernel(t *testing.T, l *lab, host string) *kernel {
	t.Helper()
	k := &kernel{ns: l.hosts[host].h}
	if err := l.in(host, func() error {
		var err error
		k.fw, err = firewall.Open("riposte")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.fw.Close() })
	return k
}

// denies reports whether a deny of p is in the kernel.
func (k *kernel) denies(p netip.Prefix) bool {
	st, err := k.fw.State()
	if err != nil {
		return false
	}
	for _, d := range st {
		if d.Action == "deny" && d.Net == p {
			return true
		}
	}
	return false
}

// flush removes every table of the namespace, as `nft flush ruleset` or a
// restart of the nftables service does.
func (k *kernel) flush(t *testing.T) {
	t.Helper()
	c, err := nftables.New(nftables.WithNetNSFd(int(k.ns)))
	if err != nil {
		t.Fatal(err)
	}
	c.FlushRuleset()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
}

func readLines(s string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// enrollVictim creates an enrollment token on node n, starts `riposte
// agent` for host "victim" in its namespace with it (data under dir, and
// any extra flags), and waits for its first heartbeat.
func enrollVictim(t *testing.T, l *lab, n *node, dir string, extra ...string) *agentProc {
	t.Helper()
	srv := []string{"--server", n.url(), "--token", n.token}
	tok, errs, code := run(append([]string{"agent", "token", "create"}, srv...)...)
	if code != 0 {
		t.Fatalf("agent token: %s", errs)
	}
	args := append([]string{"--server", n.url(), "--data", dir + "/agent", "--enroll-token", strings.TrimSpace(tok), "--hostname", "victim"}, extra...)
	agent := startAgent(t, l.hosts["victim"].ns, args...)
	waitFor(t, "the agent to report", 20*time.Second, func() bool {
		out, _, _ := run(append([]string{"agent", "list", "--output", "json"}, srv...)...)
		return strings.Contains(out, `"hostname": "victim"`) && strings.Contains(out, `"last_seen"`)
	})
	return agent
}

// serveTCP accepts and closes connections on addr inside host's
// namespace until the test ends: a service whose reachability the tests
// check.
func (l *lab) serveTCP(t *testing.T, host, addr string) {
	t.Helper()
	var ln net.Listener
	if err := l.in(host, func() (err error) { ln, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
