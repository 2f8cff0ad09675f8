// Package bus connects Riposte's stages through NATS JetStream. By default it
// runs a NATS server with JetStream inside the process, listening on
// 127.0.0.1 with credentials so local shippers can publish; with an external
// URL the same streams live on a NATS cluster and several nodes share them.
package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Config says where the bus lives.
type Config struct {
	// URL of an external NATS JetStream server; empty runs one embedded.
	URL string
	// Listen is the embedded server's client address (host:port).
	Listen string
	// StoreDir holds the embedded server's JetStream files.
	StoreDir string
	// User and Password protect the embedded server, and are used to
	// connect to an external one when set.
	User, Password string
	// SyncAlways makes the embedded server fsync every stored message
	// before acknowledging it, so an acknowledged event also survives
	// power loss, not just a process crash.
	SyncAlways bool
	// MaxPayload is the largest message in bytes.
	MaxPayload int32
	// TLSCert and TLSKey make the embedded server require TLS of clients
	// connecting over the network.
	TLSCert, TLSKey string
	// Auth, when set, decides who may connect to the embedded server
	// (host agents, each with its own permissions); it must admit User.
	Auth server.Authentication
	// Options are added to every connection of the node (a user JWT
	// for a NATS cluster that trusts Riposte, TLS).
	Options []nats.Option
	// Creds is a NATS credentials file (user JWT and nkey seed) to connect
	// to an external server with; CA a PEM file of the authorities that
	// sign an external server's certificate (tls:// URLs).
	Creds, CA string
	// Replicas is how many copies of each stream and bucket the node
	// creates; 0 picks 1 on a lone server and 3 on a cluster.
	Replicas int
}

// Bus is a connection to JetStream, and the embedded server if there is one.
type Bus struct {
	Conn *nats.Conn
	JS   jetstream.JetStream
	srv  *server.Server
	// ClientURL is what shippers connect to.
	ClientURL string
	// Replicas is the replication of every stream and bucket the node
	// creates (Config.Replicas, or what the server it reached calls for).
	Replicas int
	// opts and connectURL open further connections (Connect).
	opts       []nats.Option
	connectURL string
	mu         sync.Mutex
	stages     []*nats.Conn
}

// Start starts the embedded server (unless cfg.URL is set) and connects.
func Start(cfg Config, log *slog.Logger) (*Bus, error) {
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = 8 << 20
	}
	b := &Bus{}
	var opts []nats.Option
	opts = append(opts, nats.Name("riposte"), nats.MaxReconnects(-1), nats.ReconnectBufSize(64<<20))
	if cfg.User != "" {
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	}
	opts = append(opts, cfg.Options...)
	if cfg.URL != "" && cfg.Creds != "" {
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.URL != "" && cfg.CA != "" {
		opts = append(opts, nats.RootCAs(cfg.CA))
	}
	if cfg.URL == "" {
		host, portS, err := net.SplitHostPort(cfg.Listen)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: %w", cfg.Listen, err)
		}
		port, err := strconv.Atoi(portS)
		if err != nil {
			return nil, fmt.Errorf("nats listen address %q: bad port", cfg.Listen)
		}
		sopts := &server.Options{
			ServerName:         "riposte",
			Host:               host,
			Port:               port,
			JetStream:          true,
			StoreDir:           cfg.StoreDir,
			Username:           cfg.User,
			Password:           cfg.Password,
			MaxPayload:         cfg.MaxPayload,
			MaxPending:         int64(cfg.MaxPayload) * 8,
			SyncAlways:         cfg.SyncAlways,
			NoSigs:             true,
			NoLog:              true,
			JetStreamMaxMemory: 256 << 20,
		}
		if cfg.TLSCert != "" {
			tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: cfg.TLSCert, KeyFile: cfg.TLSKey})
			if err != nil {
				return nil, fmt.Errorf("nats tls: %w", err)
			}
			sopts.TLSConfig, sopts.TLS, sopts.TLSTimeout = tc, true, 5
		}
		if cfg.Auth != nil {
			sopts.Username, sopts.Password = "", ""
			sopts.CustomClientAuthentication = cfg.Auth
		}
		srv, err := server.NewServer(sopts)
		if err != nil {
			return nil, fmt.Errorf("embedded nats: %w", err)
		}
		go srv.Start()
		if !srv.ReadyForConnections(30 * time.Second) {
			srv.Shutdown()
			return nil, fmt.Errorf("embedded nats did not start on %s (is the port taken?)", cfg.Listen)
		}
		b.srv = srv
		b.ClientURL = srv.ClientURL()
		// In-process connection: no loopback TCP between stages of one node.
		opts = append(opts, nats.InProcessServer(srv))
		log.Info("embedded nats started", "listen", b.ClientURL, "store", cfg.StoreDir)
	} else {
		b.ClientURL = cfg.URL
	}
	connectURL := b.ClientURL
	if b.srv != nil {
		// In process there is no network to protect: the server exempts
		// in-process clients from TLS, and the client must not ask for it.
		connectURL = "nats://" + strings.TrimPrefix(strings.TrimPrefix(b.ClientURL, "tls://"), "nats://")
	}
	b.opts, b.connectURL = opts, connectURL
	nc, err := nats.Connect(connectURL, opts...)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("connect to nats %s: %w", b.ClientURL, err)
	}
	b.Conn = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishAsyncMaxPending))
	if err != nil {
		b.Close()
		return nil, err
	}
	b.JS = js
	b.Replicas = cfg.Replicas
	if b.Replicas <= 0 {
		// A lone server cannot hold a replicated stream; a cluster keeps
		// three copies so any one server can go.
		b.Replicas = 1
		if b.srv == nil && nc.ConnectedClusterName() != "" {
			b.Replicas = 3
		}
	}
	return b, nil
}

// Embedded reports whether the node runs its own NATS server (single-node
// mode) rather than connecting to an external one.
func (b *Bus) Embedded() bool { return b.srv != nil }

// KeyValue creates or updates a key-value bucket with the node's
// replication.
func (b *Bus) KeyValue(ctx context.Context, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	cfg.Replicas = b.Replicas
	cfg.Storage = jetstream.FileStorage
	kv, err := b.JS.CreateOrUpdateKeyValue(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", cfg.Bucket, err)
	}
	return kv, nil
}

// ObjectStore creates or updates an object store bucket with the node's
// replication.
func (b *Bus) ObjectStore(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = b.Replicas
	cfg.Storage = jetstream.FileStorage
	obs, err := b.JS.CreateOrUpdateObjectStore(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", cfg.Bucket, err)
	}
	return obs, nil
}

// publishAsyncMaxPending bounds the unacknowledged publishes of one
// connection: a publisher past it waits instead of buffering more.
const publishAsyncMaxPending = 256

// Connect opens a connection of a stage's own. The server cuts off a client
// whose outbound buffer overflows (a slow consumer), and everything on that
// connection goes with it: stages on one shared connection would all stop
// when one of them fell behind, so each stage that reads or writes in bulk
// has its own. Close closes these too.
func (b *Bus) Connect(stage string) (*nats.Conn, jetstream.JetStream, error) {
	opts := append(append([]nats.Option(nil), b.opts...), nats.Name("riposte-"+stage))
	nc, err := nats.Connect(b.connectURL, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect %s to nats %s: %w", stage, b.ClientURL, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(publishAsyncMaxPending))
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	b.mu.Lock()
	b.stages = append(b.stages, nc)
	b.mu.Unlock()
	return nc, js, nil
}

// Connected reports whether the node's connections to the bus are up.
func (b *Bus) Connected() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.Conn == nil || !b.Conn.IsConnected() {
		return false
	}
	for _, nc := range b.stages {
		if !nc.IsConnected() && !nc.IsClosed() {
			return false
		}
	}
	return true
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	b.mu.Lock()
	conns := append([]*nats.Conn(nil), b.stages...)
	b.mu.Unlock()
	if b.Conn != nil {
		conns = append(conns, b.Conn)
	}
	for _, nc := range conns {
		_ = nc.Drain()
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, nc := range conns {
		for !nc.IsClosed() && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		nc.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// Stream names and subjects. Subjects carry the source so a consumer can
// pick some sources only; partitioned subjects come with scale-out.
const (
	EventsStream  = "EVENTS"
	EventsSubject = "events"
)

// StreamLimits bound the events stream. Messages leave it once every
// consumer acknowledged them (interest retention); when consumers fall
// behind and the stream is full, publishing fails, and sources answer with
// back-pressure instead of dropping what is already stored.
type StreamLimits struct {
	MaxBytes int64
	MaxAge   time.Duration
	// Dedup is how long a batch key is remembered against resubmission.
	Dedup time.Duration
}

// EnsureEvents creates or updates the events stream.
func (b *Bus) EnsureEvents(ctx context.Context, l StreamLimits) (jetstream.Stream, error) {
	cfg := jetstream.StreamConfig{
		Name:       EventsStream,
		Subjects:   []string{EventsSubject + ".>"},
		Retention:  jetstream.InterestPolicy,
		Discard:    jetstream.DiscardNew,
		Storage:    jetstream.FileStorage,
		MaxBytes:   l.MaxBytes,
		MaxAge:     l.MaxAge,
		Duplicates: l.Dedup,
		Replicas:   b.Replicas,
	}
	s, err := b.ensureStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("events stream: %w", err)
	}
	return s, nil
}

// ensureStream creates or updates a stream. On a cluster that is still
// electing its leaders, or while other nodes create the same replicated
// stream at the same moment (a whole cluster's first start), the request
// times out: it is tried again for a minute before the node gives up.
func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	deadline := time.Now().Add(time.Minute)
	for {
		s, err := b.JS.CreateOrUpdateStream(ctx, cfg)
		if err == nil || b.srv != nil || time.Now().After(deadline) || ctx.Err() != nil ||
			!(errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)) {
			return s, err
		}
		time.Sleep(time.Second)
	}
}

// ErrFull is returned when the bus refuses a message because a stream is at
// its limit; the caller should push back on its sender.
var ErrFull = errors.New("event stream is full: consumers are behind")

// Classify maps JetStream publish errors to ErrFull where that is the cause.
func Classify(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case 10077, // store failed: maximum bytes or messages reached
			10047, 10023, 10028, 10002: // storage, memory or account resources exhausted
		default:
			return err
		}
		return fmt.Errorf("%w (%v)", ErrFull, err)
	}
	return err
}

// Alerts stream: detection publishes here; the alarm stage and the alert
// store read it. Limits retention keeps history for consumers added later
// (a new alarm node replays what it missed), bounded by age and size.
const (
	AlertsStream  = "ALERTS"
	AlertsSubject = "alerts"
)

// EnsureAlerts creates or updates the alerts stream.
func (b *Bus) EnsureAlerts(ctx context.Context, maxAge time.Duration, maxBytes int64) (jetstream.Stream, error) {
	s, err := b.ensureStream(ctx, jetstream.StreamConfig{
		Name:       AlertsStream,
		Subjects:   []string{AlertsSubject + ".>"},
		Retention:  jetstream.LimitsPolicy,
		Discard:    jetstream.DiscardOld,
		Storage:    jetstream.FileStorage,
		MaxAge:     maxAge,
		MaxBytes:   maxBytes,
		Duplicates: 10 * time.Minute,
		Replicas:   b.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("alerts stream: %w", err)
	}
	return s, nil
}

// FetchBytes bounds what one fetch may bring into memory. The server
// queues a fetch's messages on the connection at once, and cuts the
// connection off when that queue passes its limit (MaxPending): a fetch of
// 32 messages of 8 MiB each did exactly that under a syslog burst, over and
// over, so every fetch is bounded in bytes as well as in messages. 4 MiB
// still fills a batch of small events (32 messages of a few hundred KiB)
// and, against 16 MiB, took a quarter off the peak memory of a burst of
// large frames with no loss of throughput. A message larger than this is
// still fetched, alone.
const FetchBytes = 4 << 20

// Fetch returns the next messages of a pull consumer: at once what is
// already waiting (up to max messages and maxBytes), else the first message
// to arrive within wait together with whatever came with it. A plain
// Fetch(max) waits for a full batch or the whole wait, which puts the wait
// on every message of a quiet stream; here a lone event passes straight
// through, and a busy stream still gets full batches.
func Fetch(cons jetstream.Consumer, max, maxBytes int, wait time.Duration) ([]jetstream.Msg, error) {
	if maxBytes <= 0 {
		maxBytes = FetchBytes
	}
	drain := func(b jetstream.MessageBatch, out []jetstream.Msg) ([]jetstream.Msg, error) {
		for m := range b.Messages() {
			out = append(out, m)
		}
		return out, b.Error()
	}
	// What is waiting: FetchNoWait takes no byte limit, so this is a fetch
	// that expires almost at once; a message larger than the budget stays
	// for the single-message fetch below.
	available := func(n, budget int, out []jetstream.Msg) ([]jetstream.Msg, error) {
		b, err := cons.Fetch(n, jetstream.FetchMaxBytes(budget), jetstream.FetchMaxWait(availableWait))
		if err != nil {
			return out, err
		}
		return drain(b, out)
	}
	msgs, err := available(max, maxBytes, nil)
	if len(msgs) > 0 || (err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages)) {
		return msgs, ignoreEmpty(err)
	}
	b, err := cons.Fetch(1, jetstream.FetchMaxWait(wait))
	if err != nil {
		return nil, err
	}
	msgs, err = drain(b, nil)
	if len(msgs) == 0 || max == 1 {
		return msgs, ignoreEmpty(err)
	}
	if left := maxBytes - len(msgs[0].Data()); left > 0 {
		msgs, _ = available(max-1, left, msgs)
	}
	return msgs, nil
}

// availableWait is how long a fetch of what is already waiting stays open:
// long enough for the server to hand over what it has, short enough to add
// nothing a person would notice.
const availableWait = 2 * time.Millisecond

func ignoreEmpty(err error) error {
	if errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) {
		return nil
	}
	return err
}

// Disconnect closes every connection of a user to the embedded server (a
// revoked agent): its credential is already refused, and this ends the
// session it opened before. Without an embedded server it does nothing.
func (b *Bus) Disconnect(user string) int {
	if b.srv == nil {
		return 0
	}
	cz, err := b.srv.Connz(&server.ConnzOptions{Username: true, Limit: 1 << 20})
	if err != nil {
		return 0
	}
	n := 0
	for _, c := range cz.Conns {
		if c.AuthorizedUser == user && b.srv.DisconnectClientByID(c.Cid) == nil {
			n++
		}
	}
	return n
}
