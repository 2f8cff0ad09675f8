// Package server assembles one Riposte node from a validated config: the
// stores, the bus, the ingest sources, the consumers and the HTTP API, and
// stops them in the order that loses nothing (sources first, then the
// consumers, then the bus and the stores).
package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/api"
	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/auth/oidc"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/cluster"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/console"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/ingest"
	"github.com/riposte-soar/riposte/ingest/sources/file"
	"github.com/riposte-soar/riposte/ingest/sources/httpin"
	"github.com/riposte-soar/riposte/ingest/sources/natsin"
	"github.com/riposte-soar/riposte/ingest/sources/syslogin"
	"github.com/riposte-soar/riposte/intake"
	"github.com/riposte-soar/riposte/internal/atomicfile"
	"github.com/riposte-soar/riposte/internal/buildinfo"
	"github.com/riposte-soar/riposte/normalize"
	"github.com/riposte-soar/riposte/slackapprove"
	"github.com/riposte-soar/riposte/store"
)

// Files in the data directory.
const (
	ControlDB    = "riposte.db"
	EventsDB     = "events.db"
	NATSDir      = "nats"
	NATSPassword = "nats.password"
	// EvidenceDir keeps evidence uploaded by agents, by SHA-256.
	EvidenceDir = "evidence"
	// AgentKey signs the commands sent to host agents.
	AgentKey   = "agent-signing.key"
	AdminToken = "admin.token"
	// AdminPassword holds the console password of the first user, "admin".
	AdminPassword = "admin.password"
	TailStateDir  = "tail"
	natsUser      = "riposte"
	adminTokenMsg = "first start: an admin token was created"
	adminUserMsg  = "first start: the console user admin was created"
)

// OpenControl opens the control database of a data directory; the CLI uses
// it to work on a data directory with or without a server running. Every
// commit is fsync'd (synchronous=full) whatever database.sync says: this
// database holds what the docs call durable (decisions, the audit chain,
// tokens, incidents, and the alerts whose stream messages are released once
// applied), and a commit reported done must survive a power loss.
func OpenControl(data string) (*store.DB, error) {
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	return store.Open(filepath.Join(data, ControlDB), "full", store.Control)
}

// DBTarget is where the database of file lives: that file in the data
// directory, or the PostgreSQL database of database.url (each database is
// a schema of it).
func DBTarget(cfg config.Config, file string) string {
	if cfg.Database.URL != "" {
		return cfg.Database.URL
	}
	return filepath.Join(cfg.Data, file)
}

// openControlConfig opens the control database cfg names.
func openControlConfig(cfg config.Config) (*store.DB, error) {
	if cfg.Database.URL == "" {
		return OpenControl(cfg.Data)
	}
	return store.OpenSchema(cfg.Database.URL, "full", store.ControlSchema)
}

// logSync tells the operator how each database commits, as the database
// reports it, so the durability the docs promise can be checked on a
// running node: the SQLite file, or the PostgreSQL schema that replaces it.
func logSync(ctx context.Context, log *slog.Logger, cfg config.Config, file string, db interface {
	Synchronous(context.Context) (string, error)
}) {
	where := []any{"file", file}
	if cfg.Database.URL != "" {
		where = []any{"postgres_schema", pgSchemaOf[file]}
	}
	mode, err := db.Synchronous(ctx)
	if err != nil {
		log.Warn("database: synchronous mode unknown", append(where, "err", err)...)
		return
	}
	log.Info("database", append(where, "synchronous", mode)...)
}

// pgSchemaOf names the PostgreSQL schema that holds what a SQLite file
// holds in single-node mode.
var pgSchemaOf = map[string]string{ControlDB: "control", EngineDB: "engine", EventsDB: "events", "correlation.db": "correlation"}

// Run runs a node until ctx ends.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, version string) error {
	if err := checkListeners(cfg); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	ctl, err := openControlConfig(cfg)
	if err != nil {
		return err
	}
	defer ctl.Close()
	logSync(ctx, log, cfg, ControlDB, ctl)
	tokens := auth.NewStore(ctl)
	auditLog := audit.New(ctl)
	users := auth.NewUsers(ctl, auth.UserOptions{Idle: cfg.Console.SessionIdle.D(), Absolute: cfg.Console.SessionAbsolute.D()})
	if err := firstRun(ctx, cfg.Data, ctl, users, tokens, auditLog, log); err != nil {
		return err
	}
	secrets, err := openSecrets(ctx, cfg, ctl)
	if err != nil {
		return err
	}
	events, err := eventstore.Open(DBTarget(cfg, EventsDB), cfg.Database.Sync)
	if err != nil {
		return err
	}
	defer events.Close()
	logSync(ctx, log, cfg, EventsDB, events)

	password, err := secretFile(filepath.Join(cfg.Data, NATSPassword))
	if err != nil {
		return err
	}
	decisions := decision.New(ctl, banSchedule(cfg.Agents))
	bouncers := &bouncer.Service{Store: bouncer.NewStore(ctl), Decisions: decisions, Log: log}
	blockFeeds := &feeds.Service{Store: feeds.NewStore(ctl), Decisions: decisions, Log: log}
	decisions.SetLimits(decisionLimits(cfg, log))
	agentKey, err := fleet.LoadOrCreateKey(filepath.Join(cfg.Data, AgentKey))
	if err != nil {
		return err
	}
	authority, issuer, nodeOpts, err := natsAuthority(cfg, log)
	if err != nil {
		return fmt.Errorf("nats.operator_keys: %w", err)
	}
	agents, err := fleet.New(ctx, fleet.Options{DB: ctl, Decisions: decisions, Key: agentKey, CommandTTL: cfg.Agents.CommandTTL.D(),
		ServerAddresses: cfg.Agents.Permitted, EvidenceDir: filepath.Join(cfg.Data, EvidenceDir), Issuer: issuer, Log: log})
	if err != nil {
		return fmt.Errorf("agents: %w", err)
	}
	bcfg := bus.Config{URL: cfg.NATS.URL, Listen: cfg.NATS.Listen, StoreDir: filepath.Join(cfg.Data, NATSDir),
		User: natsUser, Password: password, SyncAlways: cfg.NATS.SyncAlways, MaxPayload: int32(cfg.NATS.MaxPayload),
		Auth: agents.Authenticator(natsUser, password), TLSCert: cfg.NATS.TLSCert, TLSKey: cfg.NATS.TLSKey}
	if cfg.NATS.URL != "" {
		// With operator keys the node signs its own user JWT (nodeOpts);
		// otherwise it signs in with creds or user and password.
		bcfg.User, bcfg.Password, bcfg.Auth, bcfg.Options = cfg.NATS.User, cfg.NATS.Password, nil, nodeOpts
		bcfg.Creds, bcfg.CA, bcfg.Replicas = cfg.NATS.Creds, cfg.NATS.CA, cfg.NATS.Replicas
	}
	b, err := bus.Start(bcfg, log)
	if err != nil {
		return err
	}
	busClosed := false
	defer func() {
		if !busClosed {
			b.Close()
		}
	}()
	closeEvidence, err := useEvidenceStore(ctx, cfg, b, agents, log)
	if err != nil {
		return err
	}
	defer closeEvidence()
	if _, err := b.EnsureEvents(ctx, bus.StreamLimits{MaxBytes: int64(cfg.Ingest.Stream.MaxBytes),
		MaxAge: cfg.Ingest.Stream.MaxAge.D(), Dedup: cfg.Ingest.Stream.DedupWindow.D()}); err != nil {
		return err
	}
	// The event store, detection, the alarm stage and ingest each have a
	// connection of their own (bus.Connect says why).
	_, storeJS, err := b.Connect("eventstore")
	if err != nil {
		return err
	}
	cons, err := eventstore.EnsureConsumer(ctx, storeJS)
	if err != nil {
		return fmt.Errorf("event store consumer: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	build := buildinfo.Get()
	build.Version = version
	reg.MustRegister(build.Collector())
	rt, err := startCluster(ctx, cfg, b, reg, version, log)
	if err != nil {
		return err
	}
	det, err := setupDetect(ctx, cfg, b, ctl, reg, log)
	if err != nil {
		return err
	}
	partitions, err := partitionCorrelations(ctx, cfg, det, b, rt, log)
	if err != nil {
		return err
	}
	if err := startTAXIIFeeds(ctx, cfg.Detect.Intel, det.index, b, rt, log); err != nil {
		return fmt.Errorf("taxii feeds: %w", err)
	}
	pinCons, err := setupPins(ctx, b)
	if err != nil {
		return err
	}
	alarmSvc, incidentEvents, alarmCons, err := setupAlarm(ctx, cfg, b, ctl, reg, log)
	if err != nil {
		return err
	}
	notifications := incidentEvents.n
	responder, err := setupRespond(ctx, cfg, ctl, secrets, alarmSvc, notifications, agents, decisions, log)
	if err != nil {
		return err
	}
	defer responder.Engine.Close()
	// Approvals answered from Slack, when the slack section is set.
	var slackHook http.Handler
	if sc, err := slackapprove.ParseConfig(cfg.Slack.YAML, cfg.Slack.Line); err != nil {
		return err
	} else if sc.Enabled() {
		sa, err := slackapprove.New(sc, slackapprove.Deps{Engine: responder.Engine, Users: users, Store: slackapprove.NewStore(ctl),
			Secrets: secrets, PublicURL: cfg.PublicURL, Log: log})
		if err != nil {
			return err
		}
		go sa.Run(ctx)
		slackHook = sa
	}
	metrics := ingest.NewMetrics(reg)
	storedEvents := prometheus.NewCounter(prometheus.CounterOpts{Name: "riposte_eventstore_events_written_total", Help: "Events written to the event store."})
	reg.MustRegister(storedEvents)
	retained := newRetentionMetrics(reg)
	_, ingestJS, err := b.Connect("ingest")
	if err != nil {
		return err
	}
	pipe := ingest.NewPipeline(ingestJS, int(cfg.NATS.MaxPayload)-4096, metrics)

	// Consumers run on their own context: they stop after the sources so
	// that what the sources stored last is still written.
	consCtx, stopConsumers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopConsumers()
	var consWG sync.WaitGroup
	responder.AfterRecover = func(ctx context.Context, incident, actor string) error {
		ds, err := decisions.RevertIncident(ctx, incident, actor, time.Now().UTC())
		if len(ds) > 0 {
			log.Info("containment lifted on recovery", "incident", incident, "decisions", len(ds))
		}
		return err
	}
	responder.ClaimSlot = rt.ClaimSlot
	if det.manager.Changed, responder.Changed, err = followChanges(consCtx, b, rt, det.manager, responder, log); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	agents.SetDisconnect(b.Disconnect)
	seen := agentAssets(alarmSvc, log)
	agents.SetOnHeartbeat(seen)
	if err := agents.Start(consCtx, b.Conn); err != nil {
		return fmt.Errorf("agents: %w", err)
	}
	if authority != nil {
		defer authority.Close()
		go authority.Keep(consCtx, natsAuthoritySync, agents.Revocations)
	}
	incidentEvents.respond = func(ev string, inc *alarm.Incident, text string) {
		responder.OnIncident(consCtx, ev, inc, text)
		if ev == "resolved" {
			// Recovery undoes what playbooks did, newest first, then lifts
			// any containment recorded for the incident by other means.
			// Off the alarm's path: undos wait for agents.
			go func(id string) {
				if steps, err := responder.Recover(consCtx, id, "recovery"); err != nil {
					log.Error("recovery", "incident", id, "err", err)
				} else if len(steps) > 0 {
					log.Info("incident recovered", "incident", id, "undos", len(steps))
				}
			}(inc.ID)
		}
	}
	consWG.Add(10)
	go func() {
		defer consWG.Done()
		rt.Run(consCtx)
	}()
	if partitions != nil {
		consWG.Add(1)
		go func() {
			defer consWG.Done()
			partitions(consCtx)
		}()
	}
	go func() {
		defer consWG.Done()
		storeJob(consCtx, cfg, rt, cluster.JobDecisionExpiry, func(ctx context.Context) {
			decisions.RunExpiry(ctx, time.Second, func(err error) { log.Error("decision expiry", "err", err) })
		})
	}()
	go func() {
		defer consWG.Done()
		rt.Singleton(consCtx, cluster.JobSchedules, func(ctx context.Context, _ uint64) { responder.RunSchedules(ctx) })
	}()
	go func() {
		defer consWG.Done()
		if err := responder.Engine.Run(consCtx); err != nil && consCtx.Err() == nil {
			log.Error("playbook engine stopped", "err", err)
		}
	}()
	go func() {
		defer consWG.Done()
		det.run(consCtx, b, log)
	}()
	go func() {
		defer consWG.Done()
		runAlarm(consCtx, rt, func(ctx context.Context) { alarmSvc.Run(ctx, alarmCons, 10*time.Second) }, alarmSvc.Reload, log)
	}()
	go func() {
		defer consWG.Done()
		if err := events.Consume(consCtx, cons, func(n int) { storedEvents.Add(float64(n)) }, log); err != nil {
			log.Error("event store consumer", "err", err)
		}
	}()
	go func() {
		defer consWG.Done()
		storeJob(consCtx, cfg, rt, cluster.JobRetention, func(ctx context.Context) { retention(ctx, events, cfg.Retention, retained, log) })
	}()
	go func() {
		defer consWG.Done()
		events.ConsumePins(consCtx, pinCons, log)
	}()
	go func() {
		defer consWG.Done()
		watchAlerts(consCtx, b.JS, alarmCons, reg, 15*time.Second, log)
	}()

	// Sources.
	srcCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	var srcWG sync.WaitGroup
	httpIngest := httpin.New(pipe, metrics, httpin.Limits{
		MaxEventBytes: int(cfg.Ingest.MaxEventBytes), MaxBodyBytes: int64(cfg.Ingest.MaxBodyBytes),
		MaxBatchEvents: cfg.Ingest.MaxBatchEvents, MaxInflightBytes: int64(cfg.Ingest.MaxInflightBytes),
		MaxInflightPerSender: int64(cfg.Ingest.MaxInflightPerToken),
		EventsPerSecond:      cfg.Ingest.Rate.EventsPerSecond, Burst: cfg.Ingest.Rate.Burst,
	}, normalize.FromJSON, log)
	pace, apiLimits := httpLimits(cfg.HTTP)
	httpIngest.Pace = pace
	// Alerts from other detectors share event ingest's limits and
	// in-flight budget, and go on the alerts stream as detection's do.
	alertIngest := httpIngest.For("http_alerts", intake.Store(detect.Publisher{JS: b.JS}, cfg.Ingest.MaxBatchEvents))
	if sl := cfg.Ingest.Syslog; sl.Listen != "" && (sl.UDP || sl.TCP) {
		srv, err := syslogin.Listen(syslogin.Config{Listen: sl.Listen, UDP: sl.UDP, TCP: sl.TCP, MaxMessage: int(cfg.Ingest.MaxEventBytes),
			InflightBytes: int64(sl.InflightBytes), MaxConns: sl.MaxConnections, MaxConnsPerIP: sl.MaxConnectionsPerIP, IdleTimeout: sl.IdleTimeout.D()}, pipe, metrics, log)
		if err != nil {
			return fmt.Errorf("syslog listener on %s: %w", sl.Listen, err)
		}
		log.Info("syslog listening", "addr", sl.Listen, "udp", sl.UDP, "tcp", sl.TCP)
		srcWG.Add(1)
		go func() { defer srcWG.Done(); srv.Run(srcCtx) }()
	}
	for _, f := range cfg.Ingest.Files {
		state := filepath.Join(cfg.Data, TailStateDir, stateName(f.Path))
		if err := os.MkdirAll(filepath.Dir(state), 0o700); err != nil {
			return err
		}
		t, err := file.New(file.Config{Path: f.Path, StartAt: f.StartAt, MaxLineBytes: int(cfg.Ingest.MaxEventBytes)}, state, pipe,
			func(line []byte, ev *event.Event) { normalize.FromLine(line, nil, ev) }, log)
		if err != nil {
			return fmt.Errorf("file source %s: %w", f.Path, err)
		}
		log.Info("following file", "path", f.Path)
		srcWG.Add(1)
		go func() {
			defer srcWG.Done()
			if err := t.Run(srcCtx); err != nil {
				log.Error("file source stopped", "path", f.Path, "err", err)
			}
		}()
	}
	for _, sc := range cfg.Ingest.Subjects {
		var nc *nats.Conn
		if sc.URL != "" {
			if nc, err = connectExternal(sc.URL); err != nil {
				return fmt.Errorf("nats subject %s: %w", sc.Subject, err)
			}
			defer nc.Close()
		} else if nc, _, err = b.Connect("subject-" + sc.Subject); err != nil {
			// A burst on a subject must not crowd the agents' connection.
			return fmt.Errorf("nats subject %s: %w", sc.Subject, err)
		}
		src, err := natsin.Subscribe(nc, natsin.Config{Subject: sc.Subject, Queue: sc.Queue, MaxEventBytes: int(cfg.Ingest.MaxEventBytes)}, pipe, metrics, log)
		if err != nil {
			return fmt.Errorf("nats subject %s: %w", sc.Subject, err)
		}
		log.Info("subscribed", "subject", sc.Subject)
		srcWG.Add(1)
		go func() { defer srcWG.Done(); src.Run(srcCtx) }()
	}

	a := api.New(api.Deps{
		Tokens: tokens, Secrets: secrets, Audit: auditLog, Events: events, Ingest: httpIngest, IngestAlerts: alertIngest,
		Rules: det.manager, Alerts: detect.AlertReader{JS: b.JS}, Alarm: alarmSvc, Respond: responder, Decisions: decisions,
		Fleet: agents, AgentBusURL: agentBusURL(cfg, b.ClientURL),
		Metrics: promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
		Ready: func(ctx context.Context) error {
			if err := rt.Ready(ctx); err != nil {
				return fmt.Errorf("bus: %w", err)
			}
			if err := ctl.R.PingContext(ctx); err != nil {
				return fmt.Errorf("control database: %w", err)
			}
			return nil
		},
		Log: log, Version: version, Limits: apiLimits, Cluster: rt, Bouncers: bouncers, Feeds: blockFeeds, Slack: slackHook,
	})
	var sso *oidc.OIDC // single sign-on, when console.oidc names a provider
	if cfg.Console.OIDC.Issuer != "" {
		if sso, err = oidc.New(oidc.FromConfig(cfg.Console.OIDC, secrets)); err != nil {
			return fmt.Errorf("console.oidc: %w", err)
		}
	}
	con, err := console.New(console.Deps{
		Users: users, OIDC: sso, Audit: auditLog, Alarm: alarmSvc, Respond: responder,
		Decisions: decisions, Bouncers: bouncers.Store, Feeds: blockFeeds.Store, Fleet: agents, Events: events, Rules: det.manager, Log: log,
		SignInFailures: apiLimits.AuthFailures, Secure: cfg.HTTP.TLSCert != "", Version: version,
	})
	if err != nil {
		return err
	}
	go con.Run(ctx)
	ln, hs, err := listenHTTP(cfg.HTTP, con.Handler(a.Handler()), pace, reg, log)
	if err != nil {
		return err
	}
	httpDone := make(chan error, 1)
	scheme := "http"
	if cfg.HTTP.TLSCert != "" {
		scheme = "https"
		go func() { httpDone <- hs.ServeTLS(ln, cfg.HTTP.TLSCert, cfg.HTTP.TLSKey) }()
	} else {
		go func() { httpDone <- hs.Serve(ln) }()
	}
	log.Info("riposte ready", "http", scheme+"://"+ln.Addr().String(), "data", cfg.Data, "nats", b.ClientURL, "version", version)

	select {
	case <-ctx.Done():
	case err := <-httpDone:
		return fmt.Errorf("http server: %w", err)
	}
	log.Info("shutting down: finishing in-flight requests")
	shCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownGrace.D())
	defer cancel()
	if err := hs.Shutdown(shCtx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	stopSources()
	srcWG.Wait()
	stopConsumers()
	consWG.Wait()
	flushCtx, cancelFlush := context.WithTimeout(context.Background(), 10*time.Second)
	notifications.Close(flushCtx)
	cancelFlush()
	b.Close()
	busClosed = true
	log.Info("stopped")
	return nil
}

// firstRun makes the first console user and admin token under a lock:
// nodes of a cluster share one database, and two starting together would
// otherwise both see none and both make them (the second user refused, its
// node stopped).
func firstRun(ctx context.Context, data string, ctl *store.DB, users *auth.Users, tokens *auth.Store, l *audit.Log, log *slog.Logger) error {
	unlock, err := ctl.Lock(ctx, "first-start")
	if err != nil {
		return fmt.Errorf("first start: %w", err)
	}
	defer unlock()
	if err := firstUser(ctx, data, users, log); err != nil {
		return fmt.Errorf("first console user: %w", err)
	}
	return firstStart(ctx, data, tokens, l, log)
}

// firstStart creates the first admin token when there is none and writes it
// to a file only the owner can read, so it never appears in a log.
func firstStart(ctx context.Context, data string, tokens *auth.Store, l *audit.Log, log *slog.Logger) error {
	n, err := tokens.Count(ctx)
	if err != nil || n > 0 {
		return err
	}
	// Create audits the token in the transaction that stores it.
	secret, _, err := tokens.Create(ctx, "admin", auth.Admin, "system")
	if err != nil {
		return err
	}
	path := filepath.Join(data, AdminToken)
	// fsync'd like the token's row: after a power loss the file must not
	// be empty while the database says an admin token exists.
	if err := atomicfile.Write(path, []byte(secret+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	abs, _ := filepath.Abs(path)
	log.Warn(adminTokenMsg, "file", abs, "read it with", "cat "+abs)
	return nil
}

// firstUser creates the console user "admin" when there are no users yet,
// with a random password written to a file only the owner can read (like
// the admin token), so the console can be opened at once.
func firstUser(ctx context.Context, data string, users *auth.Users, log *slog.Logger) error {
	all, err := users.List(ctx)
	if err != nil || len(all) > 0 {
		return err
	}
	var r [15]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	pass := base64.RawURLEncoding.EncodeToString(r[:])
	path := filepath.Join(data, AdminPassword)
	// The file first: a crash in between leaves a password file for a user
	// that does not exist yet, and the next start writes a new one; the
	// other order could leave a user nobody knows the password of.
	if err := atomicfile.Write(path, []byte(pass+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin password: %w", err)
	}
	if _, err := users.Add(ctx, "admin", auth.Admin, pass, "system"); err != nil {
		return err
	}
	abs, _ := filepath.Abs(path)
	log.Warn(adminUserMsg, "name", "admin", "password file", abs)
	return nil
}

// secretFile returns the secret kept in path, creating it on first use.
func secretFile(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	var r [24]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", err
	}
	s := hex.EncodeToString(r[:])
	if err := atomicfile.Write(path, []byte(s+"\n"), 0o600); err != nil {
		return "", err
	}
	return s, nil
}

// stateName gives each followed file its own position file: the base name
// for people, a hash of the full path so two files never share one.
func stateName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	h := sha256.Sum256([]byte(abs))
	return filepath.Base(abs) + "-" + hex.EncodeToString(h[:6]) + ".pos"
}
