package firewall

import (
	"net"
	"net/netip"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netns"
)

// inNS runs fn on a fresh OS thread inside the named namespace; sockets
// made there stay in it. The thread is discarded afterwards.
func inNS(t *testing.T, name string, fn func() error) error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		h, err := netns.GetFromName(name)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// gatewayLab is a router namespace between an outside link (an attacker
// at .2, the SOC at .9) and an inside segment of two hosts (.2, .3).
type gatewayLab struct {
	gw, out, in  string
	hostA, hostB netip.AddrPort // services on the two inside hosts
	e            *nsEnv
}

func newGatewayLab(t *testing.T) *gatewayLab {
	t.Helper()
	requireRoot(t)
	l := &gatewayLab{gw: addNS(t), out: addNS(t), in: addNS(t)}
	run(t, "-n", l.gw, "link", "add", "go0", "type", "veth", "peer", "name", "go1", "netns", l.out)
	run(t, "-n", l.gw, "link", "add", "gi0", "type", "veth", "peer", "name", "gi1", "netns", l.in)
	run(t, "-n", l.gw, "addr", "add", "10.96.1.1/24", "dev", "go0")
	run(t, "-n", l.gw, "addr", "add", "10.96.2.1/24", "dev", "gi0")
	run(t, "-n", l.out, "addr", "add", "10.96.1.2/24", "dev", "go1")
	run(t, "-n", l.out, "addr", "add", "10.96.1.9/24", "dev", "go1")
	run(t, "-n", l.in, "addr", "add", "10.96.2.2/24", "dev", "gi1")
	run(t, "-n", l.in, "addr", "add", "10.96.2.3/24", "dev", "gi1")
	for _, x := range [][2]string{{l.gw, "go0"}, {l.gw, "gi0"}, {l.out, "go1"}, {l.in, "gi1"}} {
		run(t, "-n", x[0], "link", "set", x[1], "up")
	}
	run(t, "-n", l.out, "route", "add", "10.96.2.0/24", "via", "10.96.1.1")
	run(t, "-n", l.in, "route", "add", "default", "via", "10.96.2.1")
	if err := inNS(t, l.gw, func() error {
		return writeSysctl("/proc/sys/net/ipv4/ip_forward", "1")
	}); err != nil {
		t.Fatal(err)
	}
	l.hostA, l.hostB = serve(t, l.in, "10.96.2.2"), serve(t, l.in, "10.96.2.3")
	l.e = enterNamed(t, l.gw)
	t.Cleanup(l.e.close)
	return l
}

func writeSysctl(path, v string) error {
	// /proc/sys/net is per network namespace: written from the thread
	// that entered it.
	return os.WriteFile(path, []byte(v), 0o644)
}

// expect checks that src (in namespace ns) connects to dst, or that its
// connection is dropped (a timeout, not a refusal). A connection that
// must succeed gets a few tries: fresh links resolve neighbours first.
func (l *gatewayLab) expect(t *testing.T, ns, src string, dst netip.AddrPort, reachable bool) {
	t.Helper()
	var err error
	for i := 0; i < 5; i++ {
		if err = inNS(t, ns, func() error { return dial(src, dst) }); err == nil {
			break
		}
		if !reachable {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if reachable && err != nil {
		t.Fatalf("%s -> %s: expected to connect: %v", src, dst, err)
	}
	if !reachable {
		ne, ok := err.(net.Error)
		if err == nil || !ok || !ne.Timeout() {
			t.Fatalf("%s -> %s: expected to be dropped, got %v", src, dst, err)
		}
	}
}

// serve accepts and closes connections on addr (port 0: any) inside
// namespace ns until the test ends.
func serve(t *testing.T, ns, addr string) netip.AddrPort {
	t.Helper()
	var ap netip.AddrPort
	if err := inNS(t, ns, func() error {
		ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
		if err != nil {
			return err
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
		ap = ln.Addr().(*net.TCPAddr).AddrPort()
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return ap
}

// TestGatewayDenyForward: a deny on the gateway applies to traffic it
// routes, so one decision protects every host of the segment behind it.
func TestGatewayDenyForward(t *testing.T) {
	l := newGatewayLab(t)
	attacker, soc := "10.96.1.2", "10.96.1.9"
	for _, dst := range []netip.AddrPort{l.hostA, l.hostB} {
		l.expect(t, l.out, attacker, dst, true)
	}
	if err := l.e.fw.Apply([]Decision{{ID: "7", Action: "deny", Direction: "both", Net: pfx(attacker + "/32")}}); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []netip.AddrPort{l.hostA, l.hostB} {
		l.expect(t, l.out, attacker, dst, false)
		l.expect(t, l.out, soc, dst, true)
	}
	if err := l.e.fw.Apply(nil); err != nil {
		t.Fatal(err)
	}
	l.expect(t, l.out, attacker, l.hostA, true)
}

// TestQuarantineSegment: a quarantined segment is cut off in both
// directions except from/to the allowed prefixes; one host quarantined
// by address leaves its neighbours reachable; the read-back equals what
// was applied, a flush is seen as absence and a re-apply repairs it.
func TestQuarantineSegment(t *testing.T) {
	l := newGatewayLab(t)
	attacker, soc := "10.96.1.2", "10.96.1.9"
	allow := []netip.Prefix{pfx(soc + "/32")}
	gwSvc := serve(t, l.gw, "10.96.2.1")
	l.expect(t, l.in, "10.96.2.2", gwSvc, true)
	exp := time.Now().Add(time.Hour)
	segs := []Segment{{ID: "41", Net: pfx("10.96.2.0/24"), Expires: exp}}
	if err := l.e.fw.Quarantine(segs, allow); err != nil {
		t.Fatal(err)
	}
	got, gotAllow, err := l.e.fw.Quarantined()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != "41" || got[0].Net != segs[0].Net || got[0].Expires.UnixMilli() != exp.UnixMilli() || !slices.Equal(gotAllow, allow) {
		t.Fatalf("read back %+v allow %v, want %+v allow %v", got, gotAllow, segs, allow)
	}
	for _, dst := range []netip.AddrPort{l.hostA, l.hostB} {
		l.expect(t, l.out, attacker, dst, false)
		l.expect(t, l.out, soc, dst, true)
	}
	// Outbound from the segment is cut too, but not to the SOC.
	outSvc := serve(t, l.out, "0.0.0.0")
	port := outSvc.Port()
	l.expect(t, l.in, "10.96.2.2", netip.AddrPortFrom(netip.MustParseAddr(attacker), port), false)
	l.expect(t, l.in, "10.96.2.2", netip.AddrPortFrom(netip.MustParseAddr(soc), port), true)
	// The gateway itself is cut off from the segment but not from the SOC.
	l.expect(t, l.in, "10.96.2.2", gwSvc, false)
	l.expect(t, l.out, soc, gwSvc, true)

	// A flushed ruleset reads back as no quarantine; re-applying repairs.
	c, err := nftables.New(nftables.WithNetNSFd(int(l.e.fw.ns)))
	if err != nil {
		t.Fatal(err)
	}
	c.FlushRuleset()
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := l.e.fw.Quarantined(); err != nil || len(got) != 0 {
		t.Fatalf("after a flush: %+v, %v", got, err)
	}
	l.expect(t, l.out, attacker, l.hostA, true)
	if err := l.e.fw.Quarantine(segs, allow); err != nil {
		t.Fatal(err)
	}
	l.expect(t, l.out, attacker, l.hostA, false)

	// A chain deleted by hand: the segment no longer reads back as held.
	tbl := &nftables.Table{Name: "riposte" + segSuffix, Family: nftables.TableFamilyINet}
	c.DelChain(&nftables.Chain{Name: chainIn, Table: tbl})
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	if got, _, err := l.e.fw.Quarantined(); err != nil || len(got) != 0 {
		t.Fatalf("with the input chain gone: %+v, %v (want the segment reported missing)", got, err)
	}

	// One host by address: its neighbour stays reachable.
	if err := l.e.fw.Quarantine([]Segment{{ID: "42", Net: pfx("10.96.2.3/32")}}, allow); err != nil {
		t.Fatal(err)
	}
	l.expect(t, l.out, attacker, l.hostA, true)
	l.expect(t, l.out, attacker, l.hostB, false)
	l.expect(t, l.out, soc, l.hostB, true)

	// Lifted: the table is gone and traffic flows.
	if err := l.e.fw.Quarantine(nil, allow); err != nil {
		t.Fatal(err)
	}
	if err := l.e.fw.Quarantine(nil, nil); err != nil { // idempotent
		t.Fatal(err)
	}
	if got, _, err := l.e.fw.Quarantined(); err != nil || len(got) != 0 {
		t.Fatalf("after lifting: %+v, %v", got, err)
	}
	l.expect(t, l.out, attacker, l.hostB, true)
}

func TestQuarantineValidation(t *testing.T) {
	if _, _, err := normSegments([]Segment{{ID: "1"}}, nil); err == nil {
		t.Fatal("a segment without a prefix was accepted")
	}
	segs, allow, err := normSegments([]Segment{{ID: "1", Net: pfx("::ffff:10.1.2.3/120")}}, []netip.Prefix{pfx("192.0.2.1/32"), pfx("192.0.2.1/32")})
	if err != nil {
		t.Fatal(err)
	}
	if segs[0].Net != pfx("10.1.2.0/24") || len(allow) != 1 {
		t.Fatalf("normalised to %v, allow %v", segs[0].Net, allow)
	}
}
