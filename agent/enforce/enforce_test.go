package enforce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/internal/testenv"
	"github.com/vishvananda/netns"
)

const table = "riposte"

// nsEnv is a fresh named network namespace entered by the test goroutine on a
// locked OS thread (same approach as agent/firewall tests).
type nsEnv struct {
	name string
	orig netns.NsHandle
}

func enter(t *testing.T) *nsEnv {
	t.Helper()
	testenv.Root(t, "network namespaces and nf_tables")
	testenv.Command(t, "ip", "iproute2")
	b := make([]byte, 4)
	rand.Read(b)
	name := "rptenf-" + hex.EncodeToString(b)
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	testenv.Need(t, err == nil, "network namespaces (ip netns add: %v: %s)", err, out)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	e := &nsEnv{name: name, orig: orig}
	t.Cleanup(e.close)
	h, err := netns.GetFromName(name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		t.Fatal(err)
	}
	fw, err := firewall.Open(table)
	testenv.Need(t, err == nil, "nf_tables over netlink in a network namespace (modprobe nf_tables): %v", err)
	fw.Close()
	return e
}

func (e *nsEnv) close() {
	netns.Set(e.orig)
	e.orig.Close()
	runtime.UnlockOSThread()
}

// clock is real time plus an offset the test can advance.
type clock struct{ off time.Duration }

func (c *clock) now() time.Time { return time.Now().Add(c.off) }

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustOpen(t *testing.T, path string, c *clock) *Enforcer {
	t.Helper()
	e, err := Open(path, table, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// inSync asserts the kernel (firewall.State) equals Active(): the same
// decisions, each expiry within the tolerance. Decisions within the
// tolerance of expiring may be on one side only (as for Diff). A kernel
// expiry is read back only to within the read's duration (see reading), so
// this fails when the kernel is surely out of tolerance. Reconcile repairs
// unless the kernel is surely within it, so after a Reconcile this holds
// however the test is scheduled.
func inSync(t *testing.T, e *Enforcer, ctx string) {
	t.Helper()
	r, err := e.kernel()
	if err != nil {
		t.Fatal(err)
	}
	e.mu.Lock()
	act, tol := e.active(r.now), e.tolerance
	e.mu.Unlock()
	if d := diff(act, r.st, r.now, r.possible(tol)); len(d) != 0 {
		t.Fatalf("%s: kernel differs from Active (%d active, %d in kernel, read in %v):\n%s",
			ctx, len(act), len(r.st), r.slack, strings.Join(d, "\n"))
	}
	// Diff tolerates decisions about to expire; outside that, counts match.
	n := 0
	for _, d := range act {
		if d.Expires.IsZero() || d.Expires.Sub(r.now) > tol {
			n++
		}
	}
	if len(r.st) < n {
		t.Fatalf("%s: kernel has %d decisions, want at least %d", ctx, len(r.st), n)
	}
}

// possible returns the margins under which the kernel read in r may be
// within tol of the wanted decisions: some expiry it allows for each kernel
// decision is within tol (the counterpart of sure).
func (r reading) possible(tol time.Duration) margins {
	late := r.slack + kernelGrain
	return margins{lo: -tol - late, hi: tol + kernelGrain, wantEnd: tol, gotEnd: tol + kernelGrain}
}

func TestUpsertRevertActivePersistence(t *testing.T) {
	enter(t)
	c := &clock{}
	path := filepath.Join(t.TempDir(), "decisions.json")
	e := mustOpen(t, path, c)
	now := c.now()
	ds := []firewall.Decision{
		{ID: "1", Action: "deny", Direction: "in", Net: pfx("203.0.113.5/32"), Expires: now.Add(time.Hour)},
		{ID: "2", Action: "deny", Net: pfx("198.51.100.0/24")},
		{ID: "3", Action: "allow", Direction: "out", Net: pfx("2001:db8::1/128"), Expires: now.Add(10 * time.Minute)},
		{ID: "4", Action: "deny", Direction: "in", Net: pfx("10.0.0.0/8"), Proto: "tcp", Port: 22, Expires: now.Add(time.Hour)},
	}
	for _, d := range ds {
		if err := e.Upsert(d); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(e.Active()); n != 4 {
		t.Fatalf("active: %d, want 4", n)
	}
	inSync(t, e, "after upserts")

	// Re-ban by net+direction with a later expiry extends; with an earlier one keeps.
	if err := e.Upsert(firewall.Decision{ID: "1b", Action: "deny", Direction: "in", Net: pfx("203.0.113.5/32"), Expires: now.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := e.Upsert(firewall.Decision{ID: "3", Action: "allow", Direction: "out", Net: pfx("2001:db8::1/128"), Expires: now.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	act := e.Active()
	if len(act) != 4 {
		t.Fatalf("active after re-bans: %+v", act)
	}
	for _, d := range act {
		switch d.Net {
		case pfx("203.0.113.5/32"):
			if d.ID != "1b" || !d.Expires.Equal(now.Add(3*time.Hour).Round(0)) {
				t.Fatalf("re-ban not extended: %+v", d)
			}
		case pfx("2001:db8::1/128"):
			if !d.Expires.Equal(now.Add(10 * time.Minute).Round(0)) {
				t.Fatalf("re-ban with earlier expiry shortened the decision: %+v", d)
			}
		}
	}
	inSync(t, e, "after re-bans")
	if r, err := e.Reconcile(); err != nil || r {
		t.Fatalf("reconcile right after upserts: repaired=%v err=%v", r, err)
	}

	if err := e.Revert("2"); err != nil {
		t.Fatal(err)
	}
	if err := e.Revert("nope"); err != nil {
		t.Fatal(err)
	}
	if n := len(e.Active()); n != 3 {
		t.Fatalf("active after revert: %d", n)
	}
	inSync(t, e, "after revert")
	want := e.Active()
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}

	// "Restart": the kernel table is gone too (e.g. reboot); a new Enforcer
	// on the same file restores and re-applies the same set.
	fw, _ := firewall.Open(table)
	fw.Remove()
	fw.Close()
	e2 := mustOpen(t, path, c)
	defer e2.Close()
	got := e2.Active()
	if d := Diff(want, got, c.now(), 0); len(d) != 0 || len(got) != len(want) {
		t.Fatalf("restored set differs: %v\n got %+v\nwant %+v", d, got, want)
	}
	if r, err := e2.Reconcile(); err != nil || !r {
		t.Fatalf("reconcile after restart: repaired=%v err=%v", r, err)
	}
	inSync(t, e2, "after restart")

	// Expiry via the injected clock: Reconcile drops it from the state file.
	c.off += 11 * time.Minute
	if _, err := e2.Reconcile(); err != nil {
		t.Fatal(err)
	}
	if n := len(e2.Active()); n != 2 {
		t.Fatalf("active after expiry: %d", n)
	}
	inSync(t, e2, "after expiry")
	persisted, err := load(path)
	if err != nil || len(persisted) != 2 {
		t.Fatalf("persisted after expiry: %+v %v", persisted, err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(m) != 0 {
		t.Fatalf("temp files left: %v", m)
	}
}

func TestFlushRepair(t *testing.T) {
	enter(t)
	c := &clock{}
	e := mustOpen(t, filepath.Join(t.TempDir(), "d.json"), c)
	defer e.Close()
	now := c.now()
	for i, n := range []string{"192.0.2.1/32", "192.0.2.0/24", "2001:db8::/32"} {
		if err := e.Upsert(firewall.Decision{ID: fmt.Sprint(i), Action: "deny", Net: pfx(n), Expires: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	other, err := firewall.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Remove(); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Reconcile(); err != nil || !r {
		t.Fatalf("after Remove: repaired=%v err=%v", r, err)
	}
	inSync(t, e, "after Remove")

	// Whole-ruleset flush (nftables service restart).
	nc, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	nc.FlushRuleset()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if r, err := e.Reconcile(); err != nil || !r {
		t.Fatalf("after flush ruleset: repaired=%v err=%v", r, err)
	}
	inSync(t, e, "after flush ruleset")
	if r, err := e.Reconcile(); err != nil || r {
		t.Fatalf("second reconcile: repaired=%v err=%v", r, err)
	}

	// Run repairs in the background.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx, 20*time.Millisecond); close(done) }()
	other.Remove()
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := other.State()
		if err != nil {
			t.Fatal(err)
		}
		if len(st) == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Run did not repair: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if _, rep, lastErr := e.Stats(); rep < 3 || lastErr != nil {
		t.Fatalf("stats: repairs=%d err=%v", rep, lastErr)
	}
}

// TestDrift runs a seeded random sequence of bans, waves of bans, re-bans,
// CIDR bans, reverts, expiries (injected clock), agent restarts and
// table/ruleset flushes, reconciling after each and asserting the kernel
// equals Active().
func TestDrift(t *testing.T) {
	// A netlink call that never returns would otherwise hold the whole test
	// run until go test's own timeout; fail fast and say why instead.
	watchdog := time.AfterFunc(4*time.Minute, func() {
		panic("TestDrift: still running after 4 minutes: a firewall netlink call did not return")
	})
	defer watchdog.Stop()
	enter(t)
	const ops = 800
	// Waves of bans keep a few hundred decisions active (hundreds of set
	// elements and, from CIDRs and ports, of rules); the bound only keeps
	// the run time down.
	const maxSet = 600
	seed := uint64(20240611)
	rng := mrand.New(mrand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	c := &clock{}
	path := filepath.Join(t.TempDir(), "d.json")
	e := mustOpen(t, path, c)
	defer func() { e.Close() }()
	other, err := firewall.Open(table)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()

	dirs := []string{"in", "out", "both"}
	expiry := func() time.Time {
		if rng.IntN(10) == 0 {
			return time.Time{}
		}
		return c.now().Add(time.Minute + time.Duration(rng.Int64N(int64(2*time.Hour))))
	}
	addr := func() netip.Prefix {
		if rng.IntN(5) == 0 {
			return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 15: byte(rng.IntN(64))}), 128)
		}
		return netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(4)), byte(rng.IntN(64))}), 32)
	}
	nextID := 0
	ban := func() firewall.Decision {
		nextID++
		d := firewall.Decision{ID: fmt.Sprint(nextID), Action: "deny", Direction: dirs[rng.IntN(3)], Net: addr(), Expires: expiry()}
		if rng.IntN(8) == 0 {
			d.Action = "allow"
		}
		if rng.IntN(8) == 0 {
			d.Proto, d.Port = []string{"tcp", "udp"}[rng.IntN(2)], uint16(1+rng.IntN(1024))
		}
		return d
	}
	counts := map[string]int{}
	var repairs, unexpected, maxActive int
	start := time.Now()
	for i := 0; i < ops; i++ {
		act := e.Active()
		var op string
		r := rng.IntN(100)
		if len(act) > maxSet && r < 53 {
			r = 60
		}
		switch {
		case r < 4:
			op = "wave" // e.g. a scan detected from many sources at once
			for range 10 + rng.IntN(40) {
				if err := e.Upsert(ban()); err != nil {
					t.Fatalf("op %d wave (%d active): %v", i, len(e.Active()), err)
				}
			}
		case r < 28:
			op = "ban"
			if err := e.Upsert(ban()); err != nil {
				t.Fatalf("op %d ban (%d active): %v", i, len(act), err)
			}
		case r < 43:
			op = "reban"
			if len(act) == 0 {
				op = "reban-none"
				break
			}
			d := act[rng.IntN(len(act))]
			old := d.Expires
			d.Expires = expiry()
			if rng.IntN(2) == 0 {
				nextID++
				d.ID = fmt.Sprint(nextID) // same target, new decision id
			}
			if err := e.Upsert(d); err != nil {
				t.Fatalf("op %d reban: %v", i, err)
			}
			for _, a := range e.Active() {
				if keyOf(a) == keyOf(d) && later(old, a.Expires) {
					t.Fatalf("op %d: re-ban shortened %v -> %v", i, old, a.Expires)
				}
			}
		case r < 53:
			op = "cidr"
			nextID++
			var n netip.Prefix
			if rng.IntN(4) == 0 {
				n = netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(rng.IntN(4))}), 120)
			} else {
				n = netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(rng.IntN(4)), byte(rng.IntN(4)), 0}), 24-rng.IntN(3)*4).Masked()
			}
			d := firewall.Decision{ID: fmt.Sprint(nextID), Action: "deny", Direction: dirs[rng.IntN(3)], Net: n, Expires: expiry()}
			if err := e.Upsert(d); err != nil {
				t.Fatalf("op %d cidr: %v", i, err)
			}
		case r < 73:
			op = "revert"
			if len(act) == 0 {
				op = "revert-none"
				break
			}
			id := act[rng.IntN(len(act))].ID
			if err := e.Revert(id); err != nil {
				t.Fatalf("op %d revert: %v", i, err)
			}
			for _, a := range e.Active() {
				if a.ID == id {
					t.Fatalf("op %d: %s still active after revert", i, id)
				}
			}
		case r < 83:
			op = "expire"
			var exp []firewall.Decision
			for _, d := range act {
				if !d.Expires.IsZero() {
					exp = append(exp, d)
				}
			}
			if len(exp) == 0 {
				op = "expire-none"
				break
			}
			d := exp[0] // let one expire: jump just past the earliest expiry
			for _, x := range exp[1:] {
				if x.Expires.Before(d.Expires) {
					d = x
				}
			}
			c.off += d.Expires.Sub(c.now()) + time.Millisecond
			for _, a := range e.Active() {
				if a.ID == d.ID {
					t.Fatalf("op %d: %s active after its expiry", i, d.ID)
				}
			}
		case r < 92:
			op = "restart"
			if err := e.Close(); err != nil {
				t.Fatal(err)
			}
			e = mustOpen(t, path, c)
			// The clock runs on during the restart: with hundreds of
			// decisions, one may expire in the meantime.
			now := c.now()
			after := e.Active()
			live := slices.DeleteFunc(slices.Clone(act), func(d firewall.Decision) bool {
				return !d.Expires.IsZero() && !d.Expires.After(now)
			})
			if d := Diff(act, after, now, 0); len(d) != 0 || len(after) < len(live) || len(after) > len(act) {
				t.Fatalf("op %d: restart changed the set (%d active before, %d after): %v", i, len(act), len(after), d)
			}
		default:
			op = "flush"
			if rng.IntN(2) == 0 {
				if err := other.Remove(); err != nil {
					t.Fatal(err)
				}
			} else {
				op = "flush-ruleset"
				nc, err := nftables.New()
				if err != nil {
					t.Fatal(err)
				}
				nc.FlushRuleset()
				if err := nc.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		counts[op]++
		maxActive = max(maxActive, len(e.Active()))
		repaired, err := e.Reconcile()
		if err != nil {
			t.Fatalf("op %d (%s): reconcile: %v", i, op, err)
		}
		if repaired {
			repairs++
		}
		// Upsert/Revert apply immediately and Close keeps the kernel state,
		// so only flushes and clock jumps may need a repair.
		switch op {
		case "flush", "flush-ruleset":
			if !repaired && len(e.Active()) > 0 {
				t.Fatalf("op %d (%s): flush of %d decisions not repaired", i, op, len(e.Active()))
			}
		case "expire", "expire-none":
		default:
			if repaired {
				unexpected++
				t.Errorf("op %d (%s): unexpected repair", i, op)
			}
		}
		inSync(t, e, fmt.Sprintf("op %d (%s)", i, op))
	}
	el := time.Since(start)
	t.Logf("drift: seed %d, %d operations %v, %d repairs (%d unexpected), max active %d, final active %d, elapsed %v",
		seed, ops, counts, repairs, unexpected, maxActive, len(e.Active()), el.Round(time.Millisecond))
	fmt.Printf("drift: %d operations, %d repairs, elapsed %v\n", ops, repairs, el.Round(time.Millisecond))
}

// TestMargins checks sure and possible against what a read tells: a kernel
// expiry shown as k is somewhere in [k-kernelGrain, k+slack+kernelGrain].
func TestMargins(t *testing.T) {
	const ms = time.Millisecond
	tol, slack := 2*time.Second, 300*ms
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := reading{now: now, slack: slack}
	w := firewall.Decision{ID: "1", Action: "deny", Direction: "both", Net: pfx("192.0.2.1/32"), Expires: now.Add(time.Hour)}
	late := slack + kernelGrain
	for _, c := range []struct {
		shift          time.Duration // kernel expiry shown minus wanted
		sure, possible bool
	}{
		{0, true, true},
		{-tol + kernelGrain, true, true},
		{-tol + kernelGrain - ms, false, true},
		{tol - late, true, true},
		{tol - late + ms, false, true},
		{tol + kernelGrain, false, true},
		{tol + kernelGrain + ms, false, false},
		{-tol - late, false, true},
		{-tol - late - ms, false, false},
	} {
		k := w
		k.Expires = w.Expires.Add(c.shift)
		want, got := []firewall.Decision{w}, []firewall.Decision{k}
		if d := diff(want, got, now, r.sure(tol)); (len(d) == 0) != c.sure {
			t.Errorf("shift %v: sure: %v", c.shift, d)
		}
		if d := diff(want, got, now, r.possible(tol)); (len(d) == 0) != c.possible {
			t.Errorf("shift %v: possible: %v", c.shift, d)
		}
	}
	// A kernel decision not wanted is allowed if it expires within tol.
	for _, c := range []struct {
		left           time.Duration // shown expiry minus now
		sure, possible bool
	}{
		{tol - late, true, true},
		{tol - late + ms, false, true},
		{tol + kernelGrain, false, true},
		{tol + kernelGrain + ms, false, false},
	} {
		k := w
		k.Expires = now.Add(c.left)
		got := []firewall.Decision{k}
		if d := diff(nil, got, now, r.sure(tol)); (len(d) == 0) != c.sure {
			t.Errorf("unexpected, %v left: sure: %v", c.left, d)
		}
		if d := diff(nil, got, now, r.possible(tol)); (len(d) == 0) != c.possible {
			t.Errorf("unexpected, %v left: possible: %v", c.left, d)
		}
	}
	// A read too slow to tell anything within tol never shows it in sync.
	slow := reading{now: now, slack: 2 * tol}
	if d := diff([]firewall.Decision{w}, []firewall.Decision{w}, now, slow.sure(tol)); len(d) == 0 {
		t.Error("slow read: in sync")
	}
}

// TestStaleClock: time passes between reading the decision clock and using
// the value read (a state-file fsync, a kernel read, the scheduler); here
// the clock returns each reading late. The kernel must still get the wanted
// expiries on its own clock, and Reconcile must still see and repair a
// kernel off by more than the tolerance.
func TestStaleClock(t *testing.T) {
	enter(t)
	const lag = 500 * time.Millisecond
	c := &clock{off: 3 * time.Hour}
	slow := func() time.Time {
		n := c.now()
		time.Sleep(lag)
		return n
	}
	e, err := Open(filepath.Join(t.TempDir(), "d.json"), table, slow)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetTolerance(300 * time.Millisecond)
	fw, err := firewall.Open(table) // the kernel, on the real clock
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	exp := c.now().Add(time.Hour).Round(0)
	d := firewall.Decision{ID: "1", Action: "deny", Direction: "both", Net: pfx("192.0.2.1/32"), Expires: exp}
	// kernelOff returns how much later than d's expiry the kernel has it.
	kernelOff := func(ctx string) time.Duration {
		t.Helper()
		st, err := fw.State()
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 1 || keyOf(st[0]) != keyOf(d) {
			t.Fatalf("%s: kernel holds %+v", ctx, st)
		}
		return st[0].Expires.Add(c.off).Sub(exp)
	}
	if err := e.Upsert(d); err != nil {
		t.Fatal(err)
	}
	if off := kernelOff("after Upsert"); off.Abs() > 200*time.Millisecond {
		t.Fatalf("after Upsert: kernel expiry off by %v", off)
	}

	// The kernel 400 ms late (tolerance 300 ms): drift, repaired.
	k := d
	k.Expires = exp.Add(-c.off + 400*time.Millisecond)
	if err := fw.Apply([]firewall.Decision{k}); err != nil {
		t.Fatal(err)
	}
	if drift, err := e.Drift(); err != nil || len(drift) == 0 {
		t.Fatalf("Drift with the kernel 400 ms late: %v %v", drift, err)
	}
	if r, err := e.Reconcile(); err != nil || !r {
		t.Fatalf("Reconcile with the kernel 400 ms late: repaired=%v err=%v", r, err)
	}
	if off := kernelOff("after Reconcile"); off.Abs() > 200*time.Millisecond {
		t.Fatalf("after Reconcile: kernel expiry off by %v", off)
	}
}
