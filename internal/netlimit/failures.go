package netlimit

import (
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Failures limits how often one client address may fail to authenticate:
// each address has a bucket of Burst failures that refills at PerMinute.
// An empty bucket refuses the address's requests, valid credentials or
// not, until it refills, so guessing costs the guesser time and never
// reaches the token store.
type Failures struct {
	perMinute float64
	burst     int
	max       int

	mu       sync.Mutex
	buckets  map[netip.Prefix]*rate.Limiter
	overflow *rate.Limiter
}

// maxTracked bounds the addresses remembered; past it, untracked
// addresses share one bucket, so a flood of addresses costs memory only up
// to here and, beyond, locks out only other untracked addresses.
const maxTracked = 1 << 16

// NewFailures makes a limiter; perMinute <= 0 disables it.
func NewFailures(perMinute float64, burst int) *Failures {
	if burst < 1 {
		burst = 1
	}
	return &Failures{perMinute: perMinute, burst: burst, max: maxTracked,
		buckets: map[netip.Prefix]*rate.Limiter{}, overflow: rate.NewLimiter(rate.Limit(perMinute/60), burst)}
}

// Blocked reports whether addr ("host:port") has used up its failures,
// and when it may try again.
func (f *Failures) Blocked(addr string, now time.Time) (time.Duration, bool) {
	if f == nil || f.perMinute <= 0 {
		return 0, false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buckets[AddrKey(addr)]
	if b == nil {
		if len(f.buckets) < f.max {
			return 0, false
		}
		b = f.overflow
	}
	if b.TokensAt(now) >= 1 {
		return 0, false
	}
	r := b.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return max(wait, time.Second), true
}

// Fail records one failed authentication from addr.
func (f *Failures) Fail(addr string, now time.Time) {
	if f == nil || f.perMinute <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := AddrKey(addr)
	b := f.buckets[key]
	if b == nil {
		if len(f.buckets) >= f.max {
			f.sweep(now)
		}
		if len(f.buckets) >= f.max {
			b = f.overflow
		} else {
			b = rate.NewLimiter(rate.Limit(f.perMinute/60), f.burst)
			f.buckets[key] = b
		}
	}
	b.AllowN(now, 1)
}

// sweep forgets addresses whose bucket has refilled: they hold nothing a
// new bucket would not.
func (f *Failures) sweep(now time.Time) {
	for k, b := range f.buckets {
		if b.TokensAt(now) >= float64(f.burst) {
			delete(f.buckets, k)
		}
	}
}

// Tracked is how many addresses have a bucket (for tests and metrics).
func (f *Failures) Tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.buckets)
}
