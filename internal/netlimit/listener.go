// Package netlimit bounds what the clients of a listener may hold: open
// connections in total and per client address, how slowly a request body
// may arrive, and how often an address may fail to authenticate. Each bound
// turns an attack that would hold resources forever into one that costs the
// attacker as much as it costs us.
package netlimit

import (
	"net"
	"net/netip"
	"sync"
)

// Limits caps the connections one listener keeps open.
type Limits struct {
	// MaxConns bounds open connections in total (0: no bound).
	MaxConns int
	// MaxPerAddr bounds open connections from one client address; IPv6
	// addresses count per /64, since one host is given a whole /64.
	MaxPerAddr int
}

// Listener is a net.Listener that closes connections over its limits as
// soon as they are accepted. Closing at once, rather than leaving them in
// the kernel's queue, tells the client at once and keeps the queue free
// for the clients under their limits.
type Listener struct {
	net.Listener
	lim Limits
	// refused is told why a connection was closed: "total" or "per_address".
	refused func(reason string)

	mu      sync.Mutex
	open    int
	perAddr map[netip.Prefix]int
}

// Listen wraps ln; refused, when not nil, is called for every connection
// closed because of a limit (for metrics).
func Listen(ln net.Listener, lim Limits, refused func(reason string)) *Listener {
	return &Listener{Listener: ln, lim: lim, refused: refused, perAddr: map[netip.Prefix]int{}}
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := AddrKey(c.RemoteAddr().String())
		reason := l.admit(key)
		if reason == "" {
			return &conn{Conn: c, l: l, key: key}, nil
		}
		c.Close()
		if l.refused != nil {
			l.refused(reason)
		}
	}
}

func (l *Listener) admit(key netip.Prefix) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.lim.MaxConns > 0 && l.open >= l.lim.MaxConns:
		return "total"
	case l.lim.MaxPerAddr > 0 && l.perAddr[key] >= l.lim.MaxPerAddr:
		return "per_address"
	}
	l.open++
	l.perAddr[key]++
	return ""
}

func (l *Listener) release(key netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.perAddr[key]--; l.perAddr[key] <= 0 {
		delete(l.perAddr, key)
	}
}

// Open reports the connections open now, in total and from addr's key.
func (l *Listener) Open(addr string) (total, fromAddr int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open, l.perAddr[AddrKey(addr)]
}

type conn struct {
	net.Conn
	l    *Listener
	key  netip.Prefix
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.key) })
	return err
}

// AddrKey is what limits per client address count by: the address itself
// for IPv4, its /64 for IPv6 (a host is given a whole /64, so counting
// single addresses would give one attacker 2^64 budgets). addr is "host:port"
// or a bare address; anything else shares one key.
func AddrKey(addr string) netip.Prefix {
	ap, err := netip.ParseAddrPort(addr)
	var a netip.Addr
	if err == nil {
		a = ap.Addr()
	} else if a, err = netip.ParseAddr(addr); err != nil {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return netip.PrefixFrom(a, 32)
	}
	p, _ := a.Prefix(64)
	return p
}
