package agent

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/agent/enforce"
	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/agent/hostops"
	"github.com/riposte-soar/riposte/agent/protocol"
)

// Config is the agent's configuration.
type Config struct {
	// Server is the Riposte server's HTTP address (enrollment, uploads).
	Server string `yaml:"server"`
	// Data holds the identity, the decisions and the quarantine.
	Data string `yaml:"data"`
	// Hostname is how the host is known (default: the kernel's).
	Hostname string `yaml:"hostname"`
	// Table is the nftables table the agent owns.
	Table string `yaml:"table"`
	// Heartbeat and Reconcile are the intervals of the inventory report
	// and of the firewall comparison.
	Heartbeat time.Duration `yaml:"heartbeat"`
	Reconcile time.Duration `yaml:"reconcile"`
	// CA is a PEM file of the certificate authority that signed the
	// server's HTTPS and bus certificates (default: the system's roots).
	CA string `yaml:"ca"`
	// HostOps names what host operations may touch (processes, files,
	// accounts, services, remediations, configuration lines, evidence).
	HostOps hostops.Config `yaml:"host_ops"`
	// Mode is "host" (default) or "gateway": an agent on a Linux router
	// or firewall whose denies also apply to the traffic it routes, and
	// which quarantines the segments behind it (see gateway.go).
	Mode string `yaml:"mode"`
	// Segments are the networks behind a gateway (CIDRs): segment
	// quarantines for them are sent to it.
	Segments []string `yaml:"segments"`
	// Version is reported in heartbeats.
	Version string `yaml:"-"`
}

func (c *Config) defaults() {
	if c.Table == "" {
		c.Table = "riposte"
	}
	if c.Heartbeat == 0 {
		c.Heartbeat = 5 * time.Second
	}
	if c.Reconcile == 0 {
		c.Reconcile = 2 * time.Second
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
}

// Agent is a running agent.
type Agent struct {
	cfg    Config
	id     *Identity
	enf    *enforce.Enforcer
	nonces *protocol.MemoryNonceCache
	log    *slog.Logger
	nc     *nats.Conn
	subj   protocol.Subjects
	// serverNet is the address of the bus the agent talks to: isolation
	// keeps it reachable.
	serverNet []netip.Prefix

	http *http.Client
	tls  *tls.Config

	mu      sync.Mutex
	cont    containState
	segs    []segEntry // segment quarantines held (gateway)
	segNets []netip.Prefix
	results *resultCache
	host    HostOps
	slow    chan job
	saveMu  sync.Mutex
	// poke asks the command loop for a reconcile now (a kernel event).
	poke     chan struct{}
	local    chan localReq
	inflight map[string]bool // command ids running now
	stop     chan struct{}
}

// Open loads (or, with a token, creates) the agent's identity and its
// held decisions, and re-applies them to the firewall at once, before any
// connection to the server: a restarted agent protects its host even
// while the server is unreachable.
func Open(ctx context.Context, cfg Config, enrollToken string, host HostOps, log *slog.Logger) (*Agent, error) {
	cfg.defaults()
	if cfg.Data == "" {
		return nil, errors.New("agent: a data directory is required")
	}
	segNets, err := cfg.checkMode()
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	// Before anything else, and above all before enrolling: a start
	// without the privilege must not spend the one-time token and leave on
	// the server an agent that never reports.
	if err := CheckPrivilege(cfg.Table); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, err
	}
	tc, err := tlsConfig(cfg.CA)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: 10 * time.Minute, Transport: &http.Transport{TLSClientConfig: tc, Proxy: http.ProxyFromEnvironment}}
	id, err := loadIdentity(cfg.Data)
	if errors.Is(err, os.ErrNotExist) {
		id, err = Enroll(ctx, hc, cfg.Server, enrollToken, cfg.Hostname, cfg.Data)
		if err == nil {
			log.Info("enrolled", "agent", id.AgentID, "hostname", id.Hostname)
		}
	}
	if err != nil {
		return nil, err
	}
	if host == nil {
		if cfg.HostOps.DataDir == "" {
			cfg.HostOps.DataDir = filepath.Join(cfg.Data, "host")
		}
		if host, err = NewHostOps(cfg.HostOps); err != nil {
			return nil, fmt.Errorf("host_ops: %w", err)
		}
	}
	subj, err := protocol.SubjectFor(id.AgentID)
	if err != nil {
		return nil, err
	}
	enf, err := enforce.Open(filepath.Join(cfg.Data, "decisions.json"), cfg.Table, nil)
	if err != nil {
		return nil, fmt.Errorf("firewall: %w", err)
	}
	a := &Agent{cfg: cfg, id: id, enf: enf, log: log, http: hc, tls: tc, subj: subj, nonces: protocol.NewMemoryNonceCache(1 << 16), results: newResultCache(1024), host: host}
	a.serverNet = serverPrefixes(append(busURLs(id.NATSURL), id.Server)...)
	a.segNets = segNets
	a.poke, a.stop, a.local = make(chan struct{}, 1), make(chan struct{}), make(chan localReq)
	a.inflight = map[string]bool{}
	if err := a.loadNonces(); err != nil {
		log.Warn("replay record unreadable; starting empty", "err", err)
	}
	if err := a.loadContain(); err != nil {
		enf.Close()
		return nil, err
	}
	if err := a.loadSegments(); err != nil {
		enf.Close()
		return nil, fmt.Errorf("segment quarantines: %w", err)
	}
	if _, err := enf.Reconcile(); err != nil {
		log.Error("firewall not restored", "err", err)
	}
	a.reconcileContain()
	a.reconcileSegments()
	// The monitor socket must be made here, on the caller's thread, in the
	// namespace the firewall was opened in.
	a.watchKernel()
	return a, nil
}

// CheckPrivilege reports whether this process may manage nftables in its
// network namespace, naming the privilege when it may not: every
// nf_tables request takes CAP_NET_ADMIN, and binding the firewall's
// sockets to the namespace (setns) takes CAP_SYS_ADMIN, so in practice
// root.
func CheckPrivilege(table string) error {
	fw, err := firewall.Open(table)
	if err != nil {
		if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
			return fmt.Errorf("the agent needs root to manage nftables (CAP_NET_ADMIN, and CAP_SYS_ADMIN for its network namespace): %w; nothing was changed and no enrollment token was used", err)
		}
		return err
	}
	return fw.Close()
}

// ID is the agent's enrolled id.
func (a *Agent) ID() string { return a.id.AgentID }

// Close releases the firewall connection (the rules stay in place).
func (a *Agent) Close() error {
	close(a.stop)
	if a.nc != nil {
		a.nc.Close()
	}
	return a.enf.Close()
}

// tlsConfig trusts the given CA file, or the system's roots.
func tlsConfig(caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return tc, nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("ca: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca %s: no PEM certificate in it", caFile)
	}
	tc.RootCAs = pool
	return tc, nil
}

// serverPrefixes resolves the hosts of the server URLs to addresses, which
// isolation must keep reachable.
func serverPrefixes(urls ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			continue
		}
		h := u.Hostname()
		addrs := []string{h}
		if _, err := netip.ParseAddr(h); err != nil {
			addrs, _ = net.LookupHost(h)
		}
		for _, s := range addrs {
			if ad, err := netip.ParseAddr(s); err == nil {
				ad = ad.Unmap()
				out = append(out, netip.PrefixFrom(ad, ad.BitLen()))
			}
		}
	}
	return out
}

// busURLs splits the enrolled bus address: one server, or the servers of
// a NATS cluster separated by commas.
func busURLs(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// Run connects to the bus and serves commands until ctx ends. Given a
// NATS cluster, it connects to any of its servers and, when that one
// fails, to another; between the two it keeps enforcing what it holds.
func (a *Agent) Run(ctx context.Context) error {
	connected := make(chan struct{}, 1)
	// Only the enrolled servers: they are the ones isolation keeps
	// reachable (serverNet), so a server the cluster advertises would be
	// one the agent may not reach when it matters.
	opts := []nats.Option{nats.Name("riposte-agent " + a.id.Hostname), nats.IgnoreDiscoveredServers()}
	if strings.HasPrefix(a.id.NATSURL, "tls://") {
		opts = append(opts, nats.Secure(a.tls.Clone()))
	}
	if a.id.NATSJWT != "" {
		opts = append(opts, nats.UserJWTAndSeed(a.id.NATSJWT, a.id.NATSSeed))
	} else {
		opts = append(opts, nats.UserInfo("agent-"+a.id.AgentID, a.id.Credential))
	}
	nc, err := nats.Connect(strings.Join(busURLs(a.id.NATSURL), ","), append(opts,
		nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond), nats.RetryOnFailedConnect(true),
		nats.ConnectHandler(func(*nats.Conn) { signal(connected) }),
		nats.ReconnectHandler(func(c *nats.Conn) {
			a.log.Info("reconnected to the bus", "server", c.ConnectedUrl())
			signal(connected)
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				a.log.Warn("disconnected from the server", "err", err)
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { a.log.Warn("bus", "err", err) }),
	)...)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", a.id.NATSURL, err)
	}
	a.nc = nc
	defer nc.Close()
	a.slow = make(chan job, 256)
	go a.hostWorker(ctx)
	go a.listenLocal(ctx)
	cmds := make(chan *nats.Msg, 1024)
	sub, err := nc.ChanSubscribe(a.subj.Command, cmds)
	if err != nil {
		return err
	}
	defer sub.Unsubscribe()
	if nc.IsConnected() {
		signal(connected)
	}
	a.log.Info("agent running", "agent", a.id.AgentID, "hostname", a.id.Hostname, "server", a.id.NATSURL)
	hb := time.NewTicker(a.cfg.Heartbeat)
	defer hb.Stop()
	rc := time.NewTicker(a.cfg.Reconcile)
	defer rc.Stop()
	for {
		select {
		case <-ctx.Done():
			a.saveNonces()
			return nil
		case m := <-cmds:
			a.handle(ctx, m.Data)
		case <-connected:
			a.heartbeat()
		case <-hb.C:
			a.heartbeat()
		case <-a.poke:
			a.reconcile()
		case r := <-a.local:
			r.out <- a.handleLocal(ctx, r.data)
		case <-rc.C:
			a.reconcile()
		}
	}
}

// reconcile makes the kernel equal to the held decisions and isolation.
func (a *Agent) reconcile() {
	if repaired, err := a.enf.Reconcile(); err != nil {
		a.log.Error("firewall reconcile", "err", err)
	} else if repaired {
		a.log.Warn("firewall drifted from the held decisions: repaired")
	}
	a.reconcileContain()
	a.reconcileSegments()
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

func (a *Agent) heartbeat() {
	if a.nc == nil || !a.nc.IsConnected() {
		return
	}
	var rules []int64
	for _, d := range a.enf.Active() {
		if n, err := strconv.ParseInt(d.ID, 10, 64); err == nil {
			rules = append(rules, n)
		}
	}
	sort.Slice(rules, func(i, j int) bool { return rules[i] < rules[j] })
	a.mu.Lock()
	contained := int64(0)
	if a.cont.active(time.Now()) {
		contained = a.cont.Rule
		if contained == 0 {
			contained = -1 // isolated by a command that named no rule
		}
	}
	a.mu.Unlock()
	hb := protocol.Heartbeat{AgentID: a.id.AgentID, Time: time.Now().UTC(), Hostname: a.id.Hostname,
		Addresses: localAddresses(), OS: runtime.GOOS + "/" + runtime.GOARCH + " " + osRelease(), Version: a.cfg.Version,
		Rules: rules, Contained: contained}
	if a.cfg.Mode == ModeGateway {
		hb.Mode = ModeGateway
		for _, p := range a.segNets {
			hb.Segments = append(hb.Segments, p.String())
		}
		hb.Quarantined = a.quarantinedRules(time.Now())
	}
	h := protocol.SignHeartbeat(a.id.Key, hb)
	b, _ := json.Marshal(h)
	if err := a.nc.Publish(a.subj.Heartbeat, b); err != nil {
		a.log.Warn("heartbeat", "err", err)
	}
}

func localAddresses() []string {
	var out []string
	ifs, _ := net.InterfaceAddrs()
	for _, ad := range ifs {
		if p, err := netip.ParsePrefix(ad.String()); err == nil && !p.Addr().IsLoopback() && !p.Addr().IsLinkLocalUnicast() {
			out = append(out, p.Addr().String())
		}
		if len(out) == 64 {
			break
		}
	}
	sort.Strings(out)
	return out
}

func osRelease() string {
	b, err := os.ReadFile("/etc/os-release")
	if err != nil {
		return ""
	}
	for _, l := range splitLines(string(b)) {
		if v, ok := cutPrefix(l, "PRETTY_NAME="); ok {
			v = trimQuotes(v)
			if len(v) > 100 {
				v = v[:100]
			}
			return v
		}
	}
	return ""
}
