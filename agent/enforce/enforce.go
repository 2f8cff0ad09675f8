package enforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/agent/firewall"
)

// DefaultTolerance is how far a kernel decision's expiry may be from the
// wanted one before Reconcile treats it as drift. A read of the kernel also
// takes some of it (Reconcile repairs unless the kernel surely is within).
const DefaultTolerance = 2 * time.Second

const stateVersion = 1

// Enforcer keeps one firewall table equal to the active decisions it holds
// and persists those decisions so an agent restart restores them.
type Enforcer struct {
	mu        sync.Mutex
	path      string
	fw        *firewall.Firewall
	now       func() time.Time // decision clock (may be injected)
	real      func() time.Time // clock of the kernel and of package firewall
	tolerance time.Duration
	ds        []firewall.Decision // persisted set (may hold expired entries until Reconcile)
	closed    bool

	// Counters, read with Stats.
	repairs, reconciles int
	lastErr             error
}

type stateFile struct {
	Version   int                 `json:"version"`
	Decisions []firewall.Decision `json:"decisions"`
}

// Open loads the decisions persisted in statePath (missing file: none) and
// opens the firewall table in the calling thread's network namespace. The
// kernel is not touched until Upsert, Revert or Reconcile; call Reconcile
// right after Open to re-apply the restored set. now may be nil (time.Now).
func Open(statePath, table string, now func() time.Time) (*Enforcer, error) {
	if now == nil {
		now = time.Now
	}
	ds, err := load(statePath)
	if err != nil {
		return nil, err
	}
	fw, err := firewall.Open(table)
	if err != nil {
		return nil, err
	}
	return &Enforcer{path: statePath, fw: fw, now: now, real: time.Now, tolerance: DefaultTolerance, ds: ds}, nil
}

// SetTolerance changes the expiry tolerance used by Reconcile.
func (e *Enforcer) SetTolerance(d time.Duration) {
	e.mu.Lock()
	e.tolerance = d
	e.mu.Unlock()
}

// Firewall returns the underlying firewall (for State or containment).
func (e *Enforcer) Firewall() *firewall.Firewall { return e.fw }

func load(path string) ([]firewall.Decision, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("enforce: read state: %w", err)
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return nil, fmt.Errorf("enforce: parse state %s: %w", path, err)
	}
	if sf.Version != stateVersion {
		return nil, fmt.Errorf("enforce: state %s: version %d (want %d)", path, sf.Version, stateVersion)
	}
	out := make([]firewall.Decision, 0, len(sf.Decisions))
	for _, d := range sf.Decisions {
		n, err := normalize(d)
		if err != nil {
			return nil, fmt.Errorf("enforce: state %s: %w", path, err)
		}
		out = append(out, n)
	}
	return out, nil
}

// persist writes the state atomically: temp file in the same directory,
// fsync, rename, fsync of the directory.
func (e *Enforcer) persist() error {
	b, err := json.MarshalIndent(stateFile{Version: stateVersion, Decisions: e.ds}, "", " ")
	if err != nil {
		return fmt.Errorf("enforce: encode state: %w", err)
	}
	dir := filepath.Dir(e.path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(e.path)+".tmp*")
	if err != nil {
		return fmt.Errorf("enforce: write state: %w", err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("enforce: write state: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("enforce: write state: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("enforce: fsync state: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("enforce: write state: %w", err)
	}
	if err := os.Rename(tmp, e.path); err != nil {
		return fmt.Errorf("enforce: rename state: %w", err)
	}
	ok = true
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

func normalize(d firewall.Decision) (firewall.Decision, error) {
	switch d.Action {
	case "deny", "allow":
	default:
		return d, fmt.Errorf("enforce: decision %q: action %q (want deny|allow)", d.ID, d.Action)
	}
	switch d.Direction {
	case "in", "out", "both":
	case "":
		d.Direction = "both"
	default:
		return d, fmt.Errorf("enforce: decision %q: direction %q (want in|out|both)", d.ID, d.Direction)
	}
	switch d.Proto {
	case "", "tcp", "udp":
	default:
		return d, fmt.Errorf("enforce: decision %q: proto %q (want tcp|udp or empty)", d.ID, d.Proto)
	}
	if d.ID == "" {
		return d, errors.New("enforce: decision without id")
	}
	if !d.Net.IsValid() {
		return d, fmt.Errorf("enforce: decision %q: invalid prefix", d.ID)
	}
	a, bits := d.Net.Addr(), d.Net.Bits()
	if a.Is4In6() && bits >= 96 {
		a, bits = a.Unmap(), bits-96
	}
	d.Net = netip.PrefixFrom(a.WithZone(""), bits).Masked()
	if !d.Expires.IsZero() {
		d.Expires = d.Expires.Round(0).UTC()
	}
	return d, nil
}

// key is what makes two decisions the same enforcement: equality between the
// held set and the kernel, and the re-ban identity, are on this tuple.
type key struct {
	action, direction, proto string
	net                      netip.Prefix
	port                     uint16
}

func keyOf(d firewall.Decision) key {
	return key{d.Action, d.Direction, d.Proto, d.Net, d.Port}
}

// later reports whether expiry a is later than b (zero: never expires).
func later(a, b time.Time) bool {
	if a.IsZero() {
		return !b.IsZero()
	}
	return !b.IsZero() && a.After(b)
}

func (e *Enforcer) active(now time.Time) []firewall.Decision {
	out := make([]firewall.Decision, 0, len(e.ds))
	for _, d := range e.ds {
		if d.Expires.IsZero() || d.Expires.After(now) {
			out = append(out, d)
		}
	}
	return out
}

// Active returns the decisions not expired at now().
func (e *Enforcer) Active() []firewall.Decision {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.active(e.now())
}

// Upsert adds d or extends a decision it re-bans. A held decision with the
// same ID, or with the same (action, direction, net, proto, port), is
// replaced by d, keeping the later of the expiries (zero = never). The set is
// persisted, then applied. An already expired d (not extended by a held
// decision) changes nothing.
func (e *Enforcer) Upsert(d firewall.Decision) error {
	d, err := normalize(d)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("enforce: closed")
	}
	now := e.now()
	k := keyOf(d)
	kept := e.ds[:0:0]
	for _, o := range e.ds {
		if o.ID == d.ID || keyOf(o) == k {
			if later(o.Expires, d.Expires) {
				d.Expires = o.Expires
			}
			continue
		}
		kept = append(kept, o)
	}
	if !d.Expires.IsZero() && !d.Expires.After(now) {
		return nil // already expired and nothing held extends it
	}
	e.ds = append(kept, d)
	return e.commit(now)
}

// Revert removes the decision with this ID (unknown ID: no-op), persists and
// applies.
func (e *Enforcer) Revert(id string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("enforce: closed")
	}
	n := len(e.ds)
	e.ds = slices.DeleteFunc(slices.Clone(e.ds), func(d firewall.Decision) bool { return d.ID == id })
	if len(e.ds) == n {
		return nil
	}
	return e.commit(e.now())
}

func (e *Enforcer) commit(now time.Time) error {
	if err := e.persist(); err != nil {
		return err
	}
	return e.apply(now)
}

// offset returns how far the decision clock is ahead of the real clock (the
// kernel's and package firewall's), reading the two together. Subtracting a
// decision time read earlier (before a state-file fsync or a kernel read)
// from a fresh real time would add the time spent in between to every
// expiry translated with it.
func (e *Enforcer) offset() time.Duration {
	r := e.real()
	return e.now().Sub(r)
}

// apply hands the decisions active at now to the firewall, translating
// expiries from the decision clock to the kernel's (real) clock.
func (e *Enforcer) apply(now time.Time) error {
	act := e.active(now)
	off := e.offset()
	for i := range act {
		if !act[i].Expires.IsZero() {
			act[i].Expires = act[i].Expires.Add(-off)
		}
	}
	return e.fw.Apply(act)
}

// kernelGrain bounds the error of a kernel expiry read back, beyond what the
// duration of the read adds (see reading): element timeouts are counted in jiffies (4 ms at HZ=250, 10 ms
// at HZ=100) and passed in whole milliseconds, rule expiries are kept in
// milliseconds.
const kernelGrain = 25 * time.Millisecond

// reading is the kernel's state (firewall.State) with expiries on the
// decision clock, as read at now. A kernel expiry shown as k really is in
// [k-kernelGrain, k+slack+kernelGrain]: firewall.State turns the kernel's
// remaining timeouts into expiries with the time it started reading, while
// each set is dumped, and its remaining timeouts counted, later in the read,
// which took slack.
type reading struct {
	st    []firewall.Decision
	now   time.Time
	slack time.Duration
}

// kernel reads the kernel's state (see reading).
func (e *Enforcer) kernel() (reading, error) {
	r := e.real()
	now := e.now()
	off := now.Sub(r)
	start := e.real()
	st, err := e.fw.State()
	if err != nil {
		return reading{}, err
	}
	slack := e.real().Sub(start)
	for i := range st {
		if !st[i].Expires.IsZero() {
			st[i].Expires = st[i].Expires.Add(off)
		}
	}
	return reading{st: st, now: now, slack: slack}, nil
}

// sure returns the margins under which the kernel read in r is within tol of
// the wanted decisions whatever the read could not tell: every expiry it
// allows for a kernel decision must be within tol.
func (r reading) sure(tol time.Duration) margins {
	late := r.slack + kernelGrain
	return margins{lo: -tol + kernelGrain, hi: tol - late, wantEnd: tol, gotEnd: tol - late}
}

// margins of a comparison between wanted and kernel decisions: a kernel
// expiry k matches a wanted expiry w when lo <= k-w <= hi; a decision on
// one side only is allowed when it expires at most wantEnd (wanted) or
// gotEnd (kernel) after now.
type margins struct{ lo, hi, wantEnd, gotEnd time.Duration }

// Diff compares the kernel state with the wanted decisions by (action,
// direction, net, proto, port); expiries match when both are zero or they
// differ by at most tol. Decisions within tol of expiring at now may be
// present or absent on either side. It returns human-readable differences.
func Diff(want, got []firewall.Decision, now time.Time, tol time.Duration) []string {
	return diff(want, got, now, margins{lo: -tol, hi: tol, wantEnd: tol, gotEnd: tol})
}

func diff(want, got []firewall.Decision, now time.Time, m margins) []string {
	closeToEnd := func(d firewall.Decision, end time.Duration) bool {
		return !d.Expires.IsZero() && d.Expires.Sub(now) <= end
	}
	g := map[key][]firewall.Decision{}
	for _, d := range got {
		g[keyOf(d)] = append(g[keyOf(d)], d)
	}
	var diffs []string
	for _, w := range want {
		k := keyOf(w)
		l := g[k]
		if len(l) == 0 {
			if !closeToEnd(w, m.wantEnd) {
				diffs = append(diffs, fmt.Sprintf("missing %s", fmtDecision(w)))
			}
			continue
		}
		idx := -1
		for i, d := range l {
			if d.Expires.IsZero() != w.Expires.IsZero() {
				continue
			}
			if dd := d.Expires.Sub(w.Expires); dd >= m.lo && dd <= m.hi {
				idx = i
				break
			}
		}
		if idx < 0 {
			diffs = append(diffs, fmt.Sprintf("expiry of %s: kernel %s", fmtDecision(w), fmtExp(l[0].Expires, now)))
			idx = 0
		}
		g[k] = slices.Delete(l, idx, idx+1)
	}
	for _, l := range g {
		for _, d := range l {
			if !closeToEnd(d, m.gotEnd) {
				diffs = append(diffs, fmt.Sprintf("unexpected %s", fmtDecision(d)))
			}
		}
	}
	slices.Sort(diffs)
	return diffs
}

func fmtExp(t, now time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Sub(now).Round(time.Millisecond).String()
}

func fmtDecision(d firewall.Decision) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s", d.Action, d.Direction, d.Net)
	if d.Proto != "" {
		fmt.Fprintf(&b, " %s", d.Proto)
	}
	if d.Port != 0 {
		fmt.Fprintf(&b, " port %d", d.Port)
	}
	fmt.Fprintf(&b, " (id %q, exp %s)", d.ID, d.Expires.Format(time.RFC3339Nano))
	return b.String()
}

// Reconcile drops expired decisions from the persisted state, compares the
// kernel (firewall.State) with the active set and re-applies when they
// differ (drift). It reports whether it had to repair. The kernel counts
// as in sync only if it surely is: expiries read back are known only to
// within the duration of the read (see reading), and all those they may be
// must be within the tolerance.
func (e *Enforcer) Reconcile() (repaired bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false, errors.New("enforce: closed")
	}
	e.reconciles++
	if act := e.active(e.now()); len(act) != len(e.ds) {
		e.ds = act
		if err := e.persist(); err != nil {
			e.lastErr = err
			return false, err
		}
	}
	r, err := e.kernel()
	// A read that fails (someone deleting the table while it is listed)
	// is repaired like drift: Apply replaces the whole table atomically,
	// so re-applying is always safe.
	if err == nil && len(diff(e.active(r.now), r.st, r.now, r.sure(e.tolerance))) == 0 {
		e.lastErr = nil
		return false, nil
	}
	e.repairs++
	if aerr := e.apply(e.now()); aerr != nil {
		e.lastErr = aerr
		return true, aerr
	}
	e.lastErr = nil
	return true, nil
}

// Drift returns the current differences between the kernel and the active
// set (empty: in sync), by the same rule as Reconcile, without repairing.
func (e *Enforcer) Drift() ([]string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	r, err := e.kernel()
	if err != nil {
		return nil, err
	}
	return diff(e.active(r.now), r.st, r.now, r.sure(e.tolerance)), nil
}

// Stats returns how many reconciles ran, how many repaired, and the error
// of the latest reconcile (nil when it succeeded).
func (e *Enforcer) Stats() (reconciles, repairs int, lastErr error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.reconciles, e.repairs, e.lastErr
}

// Run reconciles every interval until ctx ends. Errors are kept for Stats
// and retried at the next tick.
func (e *Enforcer) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		e.Reconcile()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close releases the firewall handle. Kernel state and the state file are
// kept, so a new Enforcer resumes enforcement.
func (e *Enforcer) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.fw.Close()
}
