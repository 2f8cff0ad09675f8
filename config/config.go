// Package config reads riposte.yaml, applies RIPOSTE_* environment
// variables and flags on top, and validates the result once, naming every
// problem with its line, so runtime packages build from a checked Config and
// never re-check input.
package config

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the whole configuration of a Riposte node.
type Config struct {
	// Data is the directory holding the databases, the embedded NATS store
	// and the generated secrets.
	Data string `yaml:"data"`
	Log  Log    `yaml:"log"`
	HTTP HTTP   `yaml:"http"`
	NATS NATS   `yaml:"nats"`
	// Database tunes the SQLite files.
	Database  Database  `yaml:"database"`
	Ingest    Ingest    `yaml:"ingest"`
	Retention Retention `yaml:"retention"`
	Detect    Detect    `yaml:"detect"`
	// Notify holds notification channels and routes; the notify package
	// reads and checks it (see notify/sample.conf).
	Notify Raw `yaml:"notify"`
	// Slack lets people answer approvals from Slack; package slackapprove
	// reads and checks it (see slackapprove/sample.conf).
	Slack Raw `yaml:"slack"`
	// Alarm tunes dedup, grouping and prioritization windows.
	Alarm Alarm `yaml:"alarm"`
	// PublicURL is how people reach this server, for links in notifications.
	PublicURL string `yaml:"public_url"`
	// Connectors holds connector settings that connectors read themselves
	// (connectors.ssh: see connector/ssh/sample.conf).
	Connectors Raw `yaml:"connectors"`
	// Respond configures the playbook engine and its connectors.
	Respond Respond `yaml:"respond"`
	// Agents configures the host agents' side of the server.
	Agents Agents `yaml:"agents"`
	// Console configures sign-in to the web console.
	Console Console `yaml:"console"`
	// Cluster tunes how nodes sharing an external NATS cluster divide
	// their work (docs/cluster.md).
	Cluster Cluster `yaml:"cluster"`
	// Evidence says where evidence uploaded by agents is kept.
	Evidence Evidence `yaml:"evidence"`
}

// Evidence chooses the store of evidence bytes (package blob); their
// records and custody stay in the control database.
type Evidence struct {
	// Store is files (the data directory's evidence/, one node), nats
	// (a JetStream object store bucket, replicated like the streams) or
	// postgres (the database of database.url): in a cluster, nats or
	// postgres, so that every node reads what any node stored.
	Store string `yaml:"store"`
}

// Cluster tunes the cluster runtime. It applies when nats.url names an
// external NATS; with the embedded bus the node is alone and runs
// everything itself.
type Cluster struct {
	// Node names this node among the others (default: the host name). Two
	// live nodes must not share a name.
	Node string `yaml:"node"`
	// LeaseTTL is how long a job's lease outlives its holder: a node that
	// dies hands its singleton work (alarm stage, schedules, correlation
	// partitions) over within about this time. Default 5s.
	LeaseTTL Duration `yaml:"lease_ttl"`
	// Partitions is the number of correlation partitions (default 16);
	// every node of a cluster must use the same number.
	Partitions int `yaml:"partitions"`
}

// Console configures how people sign in to the web console.
type Console struct {
	// SessionIdle ends a session unused this long.
	SessionIdle Duration `yaml:"session_idle"`
	// SessionAbsolute ends a session this long after sign-in, used or not.
	SessionAbsolute Duration `yaml:"session_absolute"`
	// OIDC, when its issuer is set, offers single sign-on through an
	// OpenID provider besides local users.
	OIDC OIDC `yaml:"oidc"`
}

// OIDC is an OpenID provider the console trusts (authorization code flow
// with PKCE); package auth/oidc builds from it.
type OIDC struct {
	// Issuer is the provider's issuer URL (https, or http on loopback).
	Issuer string `yaml:"issuer"`
	// ClientID and ClientSecret are Riposte's registration at the
	// provider; the secret is a value or secret://NAME from the secret
	// store, and may be empty for a public client.
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// RedirectURL is the console's callback as registered at the provider
	// (https://riposte.example/login/oidc/callback).
	RedirectURL string `yaml:"redirect_url"`
	// Scopes are asked for besides openid (default profile, email).
	Scopes []string `yaml:"scopes"`
	// NameClaim is the ID token claim that names the person (default
	// preferred_username, then email).
	NameClaim string `yaml:"name_claim"`
	// RoleClaim is the claim whose value (a string or a list, such as
	// groups) maps to a role through Roles.
	RoleClaim string `yaml:"role_claim"`
	// Roles maps claim values to roles; with several matches the highest
	// role wins.
	Roles []OIDCRole `yaml:"roles"`
	// DefaultRole is given when no mapping matches; empty refuses the
	// sign-in.
	DefaultRole string `yaml:"default_role"`
}

// OIDCRole maps one value of the role claim to a role.
type OIDCRole struct {
	Value string `yaml:"value"`
	Role  string `yaml:"role"`
}

// Agents configures how host agents reach this server.
type Agents struct {
	// NATSURL is the bus address agents connect to, as they can reach it
	// (default: the host they enrolled through and the bus port). The
	// embedded bus must listen where agents can reach it (nats.listen).
	NATSURL string `yaml:"nats_url"`
	// Permitted are addresses an isolated host may still reach besides
	// this server (DNS resolvers, a jump host).
	Permitted []string `yaml:"permitted"`
	// CommandTTL is how long a signed command stays valid (default 5m).
	CommandTTL Duration `yaml:"command_ttl"`
	// Ban is the repeat-offender schedule of deny decisions: the nth
	// decision about a target within BanWindow lasts Ban[min(n,len)-1]
	// (default 1h, 24h, 168h, 720h within 720h).
	Ban       []Duration `yaml:"ban_schedule"`
	BanWindow Duration   `yaml:"ban_window"`
	// MaxPrefixV4 and MaxPrefixV6 are the widest networks a deny decision
	// may name (default /24 and /48): an address in a log line cannot
	// become a block of the whole Internet. An admin may force a wider one.
	MaxPrefixV4 int `yaml:"max_prefix_v4"`
	MaxPrefixV6 int `yaml:"max_prefix_v6"`
	// Protected are addresses or CIDRs no deny decision may hold (an
	// office, partners), besides this server's own and Permitted.
	Protected []string `yaml:"protected"`
}

// Respond configures playbook execution.
type Respond struct {
	// Workers run connector calls (0: 8).
	Workers int `yaml:"workers"`
	// Lease is how long a worker holds a task: after a crash, its tasks
	// are taken over once their lease runs out (0: 1m).
	Lease Duration `yaml:"lease"`
	// HTTP configures the http connector.
	HTTP RespondHTTP `yaml:"http"`
	// Policies make a person approve chosen actions before they are sent,
	// whatever the playbook says. Default: containment and remediation of
	// an asset of criticality 5.
	Policies []ApprovalPolicy `yaml:"approval_policies"`
}

// ApprovalPolicy holds matching actions for a person.
type ApprovalPolicy struct {
	// Operations are connector.operation names ("agent.isolate_host").
	Operations []string `yaml:"operations"`
	// MinCriticality applies the policy to actions on hosts (the "host"
	// argument) of at least this asset criticality; 0 applies it always.
	MinCriticality int `yaml:"min_criticality"`
	// Roles may approve (default responder).
	Roles []string `yaml:"roles"`
}

// RespondHTTP is the http connector's address policy.
type RespondHTTP struct {
	// AllowPrivate lets playbooks call loopback and private addresses.
	AllowPrivate bool `yaml:"allow_private"`
	// AllowHosts are host names, IPs or CIDRs allowed whatever they resolve to.
	AllowHosts []string `yaml:"allow_hosts"`
}

// Alarm tunes the alarm stage; the priority matrix and SLAs use built-in
// defaults documented in docs/alarm.md.
type Alarm struct {
	DedupWindow Duration `yaml:"dedup_window"`
	GroupWindow Duration `yaml:"group_window"`
	// IgnoreEntities never join alerts into one incident ("user:system").
	IgnoreEntities []string `yaml:"ignore_entities"`
	// Matrix replaces the priority matrix: rows in order, the first whose
	// minimums an incident meets gives its priority; none gives P4.
	Matrix []PriorityRow `yaml:"priority_matrix"`
	// SLA replaces the SLA clocks of the priorities listed.
	SLA []SLA `yaml:"sla"`
	// Urgency replaces the urgency of the ATT&CK tactics listed.
	Urgency []TacticUrgency `yaml:"urgency"`
	// Silences bounds silences.
	Silences Silences `yaml:"silences"`
	// Grouping tunes how alerts join incidents.
	Grouping Grouping `yaml:"grouping"`
}

// Grouping tunes how alerts join incidents.
type Grouping struct {
	// NewIncidentAfter is the incident status (contained or resolved)
	// from which an alert of a source address the incident does not know
	// starts a new incident that follows it, instead of joining a case
	// people consider handled; never keeps joining.
	NewIncidentAfter string `yaml:"new_incident_after"`
}

// Silences bounds what a silence may hold.
type Silences struct {
	// MaxDuration is the longest a silence may last: a forgotten or
	// hostile silence must not blind the SOC for good.
	MaxDuration Duration `yaml:"max_duration"`
}

// PriorityRow is one row of the priority matrix.
type PriorityRow struct {
	Priority       string `yaml:"priority"`
	MinSeverity    int    `yaml:"min_severity"`
	MinUrgency     int    `yaml:"min_urgency"`
	MinCriticality int    `yaml:"min_criticality"`
}

// SLA is how long an incident of a priority may wait for each step.
type SLA struct {
	Priority    string   `yaml:"priority"`
	Acknowledge Duration `yaml:"acknowledge"`
	Contain     Duration `yaml:"contain"`
	Resolve     Duration `yaml:"resolve"`
}

// TacticUrgency sets the urgency (1-3) of an ATT&CK tactic.
type TacticUrgency struct {
	Tactic  string `yaml:"tactic"` // as in tags, without "attack.": exfiltration, discovery...
	Urgency int    `yaml:"urgency"`
}

// Detect configures detection.
type Detect struct {
	// DefaultRules imports Riposte's own rule set into the rule store on
	// start (rules already there, and their later versions, are kept).
	DefaultRules bool `yaml:"default_rules"`
	// Rules are files or folders of Sigma rules imported into the rule
	// store on every start; a changed file becomes a new version.
	Rules []string `yaml:"rules"`
	// Mapping is a YAML file extending the built-in logsource and field
	// mappings.
	Mapping     string      `yaml:"mapping"`
	Intel       Intel       `yaml:"intel"`
	Correlation Correlation `yaml:"correlation"`
}

// Correlation bounds the state of correlation rules.
type Correlation struct {
	// MaxGroups is the most groups (group-by values, e.g. source
	// addresses) one correlation keeps in memory. Beyond it the groups with
	// the least evidence are evicted, and an alert reports it.
	MaxGroups int `yaml:"max_groups"`
}

// Intel configures threat-intelligence feeds.
type Intel struct {
	// MinConfidence drops indicator hits below it (0-100).
	MinConfidence int    `yaml:"min_confidence"`
	Feeds         []Feed `yaml:"feeds"`
}

// Feed is one indicator source.
type Feed struct {
	Name string `yaml:"name"`
	// Type is stix (a bundle file), misp (a feed folder), csv (a list
	// file) or taxii (a TAXII 2.1 collection).
	Type string `yaml:"type"`
	// Path is the file or folder for stix, misp and csv.
	Path string `yaml:"path"`
	// URL, Collection, User and PasswordEnv describe a TAXII collection;
	// the password is read from the named environment variable so it never
	// sits in the file.
	URL         string `yaml:"url"`
	Collection  string `yaml:"collection"`
	User        string `yaml:"user"`
	PasswordEnv string `yaml:"password_env"`
	// Kind fixes the indicator kind of a csv list (ipv4, domain, sha256...);
	// empty detects it per value.
	Kind string `yaml:"kind"`
	// Confidence is the default confidence of a csv list's indicators.
	Confidence int `yaml:"confidence"`
	// Refresh is how often the feed is read again (0: only at start).
	Refresh Duration `yaml:"refresh"`
}

// Log configures the process log.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // text or json
}

// HTTP configures the API server.
type HTTP struct {
	// Listen is host:port of the API, UI and /metrics.
	Listen string `yaml:"listen"`
	// ShutdownGrace is how long in-flight requests may take to finish on stop.
	ShutdownGrace Duration `yaml:"shutdown_grace"`
	// TLSCert and TLSKey (PEM files) serve the API over HTTPS.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// ReadHeaderTimeout bounds reading a request's headers.
	ReadHeaderTimeout Duration `yaml:"read_header_timeout"`
	// ReadTimeout bounds reading a whole request; ingest and evidence
	// uploads replace it with the minimum body rate.
	ReadTimeout Duration `yaml:"read_timeout"`
	// WriteTimeout bounds a request's handling and answer, counted from
	// the end of its headers (of its body, for ingest and uploads).
	WriteTimeout Duration `yaml:"write_timeout"`
	// IdleTimeout closes a kept-alive connection left without a request.
	IdleTimeout Duration `yaml:"idle_timeout"`
	// MaxConnections bounds open connections; more are closed at once.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerAddress bounds open connections from one client
	// address (an IPv6 /64).
	MaxConnectionsPerAddress int `yaml:"max_connections_per_address"`
	// MaxUnauthenticated bounds requests being handled at once on routes
	// that take a body without a token (agent enrollment); more get 503.
	MaxUnauthenticated int `yaml:"max_unauthenticated"`
	// MinBodyRate is the slowest average a large body (ingest, evidence
	// upload) may arrive at once BodyRateGrace has passed; slower: 408.
	MinBodyRate   Size     `yaml:"min_body_rate"`
	BodyRateGrace Duration `yaml:"body_rate_grace"`
	// AuthFailures limits failed authentications per client address.
	AuthFailures AuthFailures `yaml:"auth_failures"`
}

// AuthFailures is a token bucket of failed authentications per client
// address; an empty bucket answers 429 with Retry-After.
type AuthFailures struct {
	PerMinute float64 `yaml:"per_minute"` // 0 disables the limit
	Burst     int     `yaml:"burst"`
}

// NATS configures the bus.
type NATS struct {
	// URL of an external NATS JetStream server; empty runs one embedded.
	URL string `yaml:"url"`
	// Listen is the embedded server's address; keep it on loopback unless
	// shippers on other hosts publish to it.
	Listen string `yaml:"listen"`
	// SyncAlways makes the embedded server fsync each message before
	// acknowledging it (power-loss safe); off, data is safe against a
	// process crash but an OS crash may lose the last seconds. An external
	// server (URL) follows its own sync_interval instead.
	SyncAlways bool `yaml:"sync_always"`
	// MaxPayload is the largest bus message.
	MaxPayload Size `yaml:"max_payload"`
	// TLSCert and TLSKey (PEM files) make the embedded bus require TLS of
	// every client from the network (agents, shippers); in-process stages
	// are not on the network.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// OperatorKeys is a directory of NATS operator keys (made on first use,
	// 0600) that makes Riposte the authority of the NATS cluster at URL:
	// nodes and agents connect with user JWTs Riposte signs, each agent's
	// limited to its own subjects, and a revocation reaches every server.
	// `riposte nats config` prints the servers' configuration. Nodes of
	// one cluster share the directory.
	OperatorKeys string `yaml:"operator_keys"`
	// Creds is a NATS credentials file (user JWT and nkey seed) for an
	// external NATS (url); User and Password are the other way to sign in
	// to one. CA is a PEM file of the authorities that sign its
	// certificates, for tls:// URLs.
	Creds    string `yaml:"creds"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	CA       string `yaml:"ca"`
	// Replicas is how many copies of every stream and bucket Riposte
	// creates: 0 picks 1 on the embedded or a lone server, 3 on a cluster.
	Replicas int `yaml:"replicas"`
}

// Database chooses and tunes the databases.
type Database struct {
	// Sync is the event store's SQLite synchronous mode: full (fsync each
	// commit) or normal. The control and engine databases always use full:
	// they hold decisions, approvals and the audit chain.
	Sync string `yaml:"sync"`
	// URL, a postgres:// URL, keeps every database (control, engine,
	// correlation state, events) in that PostgreSQL database, one schema
	// each, instead of SQLite files in the data directory: cluster mode,
	// where several nodes share them. Empty: SQLite. Give the password
	// through PGPASSWORD or ~/.pgpass rather than in the URL.
	URL string `yaml:"url"`
}

// Ingest configures the sources and their limits.
type Ingest struct {
	// MaxEventBytes bounds one event (one line, object or syslog frame).
	MaxEventBytes Size `yaml:"max_event_bytes"`
	// MaxBodyBytes bounds one HTTP request body after decompression.
	MaxBodyBytes Size `yaml:"max_body_bytes"`
	// MaxBatchEvents bounds the events of one HTTP request.
	MaxBatchEvents int `yaml:"max_batch_events"`
	// MaxInflightBytes bounds the request bytes being processed at once
	// across HTTP ingest; beyond it requests get 429 with Retry-After.
	MaxInflightBytes Size `yaml:"max_inflight_bytes"`
	// MaxInflightPerToken bounds the part of MaxInflightBytes the requests
	// of one token may hold together, so one sender cannot take it all.
	MaxInflightPerToken Size `yaml:"max_inflight_per_token"`
	// Rate limits events per second across HTTP ingest (0: unlimited).
	Rate Rate `yaml:"rate"`
	// Stream bounds the events stream that buffers between ingest and
	// its consumers.
	Stream Stream `yaml:"stream"`
	Syslog Syslog `yaml:"syslog"`
	// Files are followed like tail -F.
	Files []File `yaml:"files"`
	// Subjects are NATS subjects whose messages are taken as events.
	Subjects []Subject `yaml:"nats_subjects"`
}

// Rate is a token bucket.
type Rate struct {
	EventsPerSecond float64 `yaml:"events_per_second"`
	Burst           int     `yaml:"burst"`
}

// Stream bounds the events stream.
type Stream struct {
	MaxBytes    Size     `yaml:"max_bytes"`
	MaxAge      Duration `yaml:"max_age"`
	DedupWindow Duration `yaml:"dedup_window"`
}

// Syslog configures the syslog listeners.
type Syslog struct {
	// Listen is host:port for both UDP and TCP; empty disables syslog.
	Listen string `yaml:"listen"`
	UDP    bool   `yaml:"udp"`
	TCP    bool   `yaml:"tcp"`
	// InflightBytes bounds the frames read but not yet stored, over every
	// connection; TCP senders past it are slowed by flow control, UDP
	// datagrams dropped and counted.
	InflightBytes Size `yaml:"inflight_bytes"`
	// MaxConnections and MaxConnectionsPerIP bound open TCP connections.
	MaxConnections      int `yaml:"max_connections"`
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// IdleTimeout closes a TCP connection silent for this long.
	IdleTimeout Duration `yaml:"idle_timeout"`
}

// File is one followed file.
type File struct {
	Path    string `yaml:"path"`
	StartAt string `yaml:"start_at"` // beginning or end, for a file never seen before
}

// Subject is one NATS subject source.
type Subject struct {
	Subject string `yaml:"subject"`
	// URL of the NATS server to subscribe on; empty uses Riposte's own bus.
	URL   string `yaml:"url"`
	Queue string `yaml:"queue"`
}

// Retention bounds the event store.
type Retention struct {
	MaxAge   Duration `yaml:"max_age"`
	MaxBytes Size     `yaml:"max_bytes"`
	// PinnedShare is the share of MaxBytes that events referenced by
	// alerts may keep from size-based pruning (0: the default, 0.25).
	PinnedShare float64 `yaml:"pinned_share"`
	// Interval is how often retention runs (0: every minute).
	Interval Duration `yaml:"interval"`
}

// Default is the configuration of `riposte serve` with no file, env or flag.
func Default() Config {
	return Config{
		Data:     "./riposte-data",
		Evidence: Evidence{Store: "files"},
		Log:      Log{Level: "info", Format: "text"},
		HTTP: HTTP{Listen: "127.0.0.1:8080", ShutdownGrace: Duration(15 * time.Second),
			ReadHeaderTimeout: Duration(10 * time.Second), ReadTimeout: Duration(30 * time.Second),
			WriteTimeout: Duration(60 * time.Second), IdleTimeout: Duration(60 * time.Second),
			MaxConnections: 4096, MaxConnectionsPerAddress: 256, MaxUnauthenticated: 16,
			MinBodyRate: 16 << 10, BodyRateGrace: Duration(10 * time.Second),
			AuthFailures: AuthFailures{PerMinute: 30, Burst: 10}},
		NATS:     NATS{Listen: "127.0.0.1:4223", SyncAlways: true, MaxPayload: 8 << 20},
		Database: Database{Sync: "normal"},
		Ingest: Ingest{
			MaxEventBytes:       256 << 10,
			MaxBodyBytes:        64 << 20,
			MaxBatchEvents:      100000,
			MaxInflightBytes:    512 << 20,
			MaxInflightPerToken: 192 << 20,
			Stream:              Stream{MaxBytes: 2 << 30, MaxAge: Duration(7 * 24 * time.Hour), DedupWindow: Duration(10 * time.Minute)},
			Syslog: Syslog{Listen: "127.0.0.1:5514", UDP: true, TCP: true, InflightBytes: 32 << 20,
				MaxConnections: 1024, MaxConnectionsPerIP: 64, IdleTimeout: Duration(10 * time.Minute)},
		},
		Retention: Retention{MaxAge: Duration(30 * 24 * time.Hour), MaxBytes: 20 << 30, PinnedShare: 0.25, Interval: Duration(time.Minute)},
		Detect:    Detect{DefaultRules: true, Correlation: Correlation{MaxGroups: 100_000}},
		Alarm: Alarm{DedupWindow: Duration(time.Hour), GroupWindow: Duration(2 * time.Hour),
			Silences: Silences{MaxDuration: Duration(30 * 24 * time.Hour)}, Grouping: Grouping{NewIncidentAfter: "contained"}},
		Agents: Agents{MaxPrefixV4: 24, MaxPrefixV6: 48},
		Respond: Respond{Policies: []ApprovalPolicy{{
			Operations: []string{"agent.isolate_host", "agent.block_ip", "agent.kill_process", "agent.quarantine_file",
				"agent.disable_account", "agent.stop_service", "agent.remediate", "agent.upgrade_package", "agent.set_config_line"},
			MinCriticality: 5, Roles: []string{"responder"},
		}}},
		Console: Console{SessionIdle: Duration(30 * time.Minute), SessionAbsolute: Duration(12 * time.Hour)},
	}
}

// Env applies RIPOSTE_* variables. Only the settings people change per
// deployment have one; the file holds the rest.
func (c *Config) Env(getenv func(string) string) error {
	set := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	set("RIPOSTE_DATA", &c.Data)
	set("RIPOSTE_HTTP", &c.HTTP.Listen)
	set("RIPOSTE_SYSLOG", &c.Ingest.Syslog.Listen)
	set("RIPOSTE_NATS_URL", &c.NATS.URL)
	set("RIPOSTE_NATS_LISTEN", &c.NATS.Listen)
	set("RIPOSTE_NATS_OPERATOR_KEYS", &c.NATS.OperatorKeys)
	set("RIPOSTE_NATS_CREDS", &c.NATS.Creds)
	set("RIPOSTE_NATS_USER", &c.NATS.User)
	set("RIPOSTE_NATS_PASSWORD", &c.NATS.Password)
	set("RIPOSTE_NODE", &c.Cluster.Node)
	set("RIPOSTE_LOG_LEVEL", &c.Log.Level)
	set("RIPOSTE_LOG_FORMAT", &c.Log.Format)
	set("RIPOSTE_DB_SYNC", &c.Database.Sync)
	set("RIPOSTE_DB_URL", &c.Database.URL)
	if v := getenv("RIPOSTE_NATS_SYNC_ALWAYS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("RIPOSTE_NATS_SYNC_ALWAYS: %q is not true or false", v)
		}
		c.NATS.SyncAlways = b
	}
	return nil
}

// Problem is one thing wrong with a configuration; Line is 0 when the value
// came from a default, a flag or the environment.
type Problem struct {
	Path string
	Line int
	Msg  string
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("line %d: %s: %s", p.Line, p.Path, p.Msg)
	}
	return fmt.Sprintf("%s: %s", p.Path, p.Msg)
}

// Problems is every problem found; it is an error when not empty.
type Problems []Problem

func (ps Problems) Error() string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, "\n")
}

// Validate checks meaning (addresses, ranges, choices). lines maps a key
// path to its line in the file, when the value came from one.
func (c *Config) Validate(lines map[string]int) Problems {
	var ps Problems
	bad := func(path, format string, a ...any) {
		line := lines[path]
		if i := strings.LastIndex(path, "]."); line == 0 && i >= 0 {
			line = lines[path[:i+1]] // a key missing from a list entry: the entry's line
		}
		ps = append(ps, Problem{Path: path, Line: line, Msg: fmt.Sprintf(format, a...)})
	}
	addr := func(path, v string, mayBeEmpty bool) {
		if v == "" {
			if !mayBeEmpty {
				bad(path, "must not be empty")
			}
			return
		}
		if _, p, err := net.SplitHostPort(v); err != nil {
			bad(path, "%q is not host:port", v)
		} else if n, err := strconv.Atoi(p); err != nil || n < 0 || n > 65535 {
			bad(path, "port %q is not a number from 0 to 65535", p)
		}
	}
	oneOf := func(path, v string, choices ...string) {
		for _, c := range choices {
			if v == c {
				return
			}
		}
		bad(path, "%q is not one of %s", v, strings.Join(choices, ", "))
	}
	if c.Data == "" {
		bad("data", "must not be empty")
	}
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	addr("http.listen", c.HTTP.Listen, false)
	h := &c.HTTP
	for _, d := range []struct {
		path string
		v    Duration
	}{{"http.read_header_timeout", h.ReadHeaderTimeout}, {"http.read_timeout", h.ReadTimeout},
		{"http.write_timeout", h.WriteTimeout}, {"http.idle_timeout", h.IdleTimeout}, {"http.body_rate_grace", h.BodyRateGrace}} {
		// Zero would mean no timeout at all: the hold-a-connection-forever
		// attack these exist to stop.
		if d.v.D() < 100*time.Millisecond || d.v.D() > 24*time.Hour {
			bad(d.path, "%s is outside 100ms..24h", d.v)
		}
	}
	if h.ReadTimeout < h.ReadHeaderTimeout {
		bad("http.read_timeout", "%s is shorter than http.read_header_timeout (%s)", h.ReadTimeout, h.ReadHeaderTimeout)
	}
	if h.MaxConnections < 16 {
		bad("http.max_connections", "%d is too few (at least 16)", h.MaxConnections)
	}
	if h.MaxConnectionsPerAddress < 1 || h.MaxConnectionsPerAddress > h.MaxConnections {
		bad("http.max_connections_per_address", "%d is outside 1..http.max_connections (%d)", h.MaxConnectionsPerAddress, h.MaxConnections)
	}
	if h.MaxUnauthenticated < 1 {
		bad("http.max_unauthenticated", "must be at least 1")
	}
	if h.MinBodyRate < 0 {
		bad("http.min_body_rate", "must not be negative")
	}
	if h.AuthFailures.PerMinute < 0 {
		bad("http.auth_failures.per_minute", "must not be negative")
	}
	if h.AuthFailures.Burst < 1 {
		bad("http.auth_failures.burst", "must be at least 1")
	}
	if c.NATS.URL == "" {
		addr("nats.listen", c.NATS.Listen, false)
	} else {
		// Several servers of one cluster, comma-separated, as nats.go takes them.
		for _, u := range strings.Split(c.NATS.URL, ",") {
			if u = strings.TrimSpace(u); !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
				bad("nats.url", "%q must start with nats:// or tls://", u)
			}
		}
		if c.NATS.Creds != "" && c.NATS.User != "" {
			bad("nats.creds", "use either creds or user and password, not both")
		}
		for _, f := range []struct{ key, path string }{{"nats.creds", c.NATS.Creds}, {"nats.ca", c.NATS.CA}} {
			if f.path != "" {
				if _, err := os.Stat(f.path); err != nil {
					bad(f.key, "%v", err)
				}
			}
		}
	}
	if c.NATS.Replicas < 0 || c.NATS.Replicas > 5 {
		bad("nats.replicas", "%d is outside 0..5 (0: 1 on a lone server, 3 on a cluster)", c.NATS.Replicas)
	}
	if c.Cluster.Partitions < 0 || c.Cluster.Partitions > 1024 {
		bad("cluster.partitions", "%d is outside 1..1024", c.Cluster.Partitions)
	}
	if d := c.Cluster.LeaseTTL.D(); d != 0 && (d < time.Second || d > 5*time.Minute) {
		bad("cluster.lease_ttl", "%s is outside 1s..5m", d)
	}
	if n := c.Cluster.Node; n != "" && strings.ContainsAny(n, " .*>/\\\t") {
		bad("cluster.node", "%q may not contain spaces, dots, slashes, * or >", n)
	}
	if c.NATS.OperatorKeys != "" && c.NATS.URL == "" {
		bad("nats.operator_keys", "is for an external NATS cluster (nats.url); the embedded bus authenticates agents itself")
	}
	if c.NATS.OperatorKeys != "" && (c.NATS.Creds != "" || c.NATS.User != "") {
		bad("nats.operator_keys", "the node signs its own credential with the operator keys: leave nats.creds, nats.user and nats.password empty")
	}
	pair := func(path, cert, key string) {
		if (cert == "") != (key == "") {
			bad(path, "tls_cert and tls_key go together")
			return
		}
		if cert == "" {
			return
		}
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			bad(path+".tls_cert", "%v", err)
		}
	}
	pair("http", c.HTTP.TLSCert, c.HTTP.TLSKey)
	pair("nats", c.NATS.TLSCert, c.NATS.TLSKey)
	if c.NATS.MaxPayload < 64<<10 || c.NATS.MaxPayload > 64<<20 {
		bad("nats.max_payload", "%s is outside 64KiB..64MiB", c.NATS.MaxPayload)
	}
	oneOf("database.sync", c.Database.Sync, "full", "normal")
	oneOf("evidence.store", c.Evidence.Store, "files", "nats", "postgres")
	if c.Evidence.Store == "postgres" && c.Database.URL == "" {
		bad("evidence.store", "postgres keeps evidence in the database of database.url, which is not set")
	}
	if u := c.Database.URL; u != "" && !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		bad("database.url", "must start with postgres:// or postgresql://")
	}
	if u := c.Agents.NATSURL; u != "" && !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
		bad("agents.nats_url", "%q must start with nats:// or tls://", u)
	}
	for _, l := range []struct {
		name string
		list []string
	}{{"permitted", c.Agents.Permitted}, {"protected", c.Agents.Protected}} {
		for i, p := range l.list {
			if _, err := netip.ParsePrefix(p); err != nil {
				if _, err := netip.ParseAddr(p); err != nil {
					bad(fmt.Sprintf("agents.%s[%d]", l.name, i), "%q is not an address or CIDR", p)
				}
			}
		}
	}
	if v := c.Agents.MaxPrefixV4; v < 8 || v > 32 {
		bad("agents.max_prefix_v4", "/%d is outside /8../32", v)
	}
	if v := c.Agents.MaxPrefixV6; v < 16 || v > 128 {
		bad("agents.max_prefix_v6", "/%d is outside /16../128", v)
	}
	if t := c.Agents.CommandTTL.D(); t < 0 || t > 24*time.Hour {
		bad("agents.command_ttl", "%s is outside 0..24h", t)
	}
	for i, d := range c.Agents.Ban {
		if d.D() <= 0 {
			bad(fmt.Sprintf("agents.ban_schedule[%d]", i), "%s must be positive", d)
		}
	}
	in := &c.Ingest
	if in.MaxEventBytes < 256 {
		bad("ingest.max_event_bytes", "%s is too small (at least 256B)", in.MaxEventBytes)
	}
	if in.MaxEventBytes*2 > c.NATS.MaxPayload {
		bad("ingest.max_event_bytes", "%s must be at most half of nats.max_payload (%s)", in.MaxEventBytes, c.NATS.MaxPayload)
	}
	if in.MaxBodyBytes < in.MaxEventBytes {
		bad("ingest.max_body_bytes", "%s is smaller than ingest.max_event_bytes", in.MaxBodyBytes)
	}
	if in.MaxBatchEvents < 1 {
		bad("ingest.max_batch_events", "must be at least 1")
	}
	if in.MaxInflightBytes < in.MaxBodyBytes {
		bad("ingest.max_inflight_bytes", "%s is smaller than ingest.max_body_bytes", in.MaxInflightBytes)
	}
	if in.MaxInflightBytes >= in.MaxBodyBytes && (in.MaxInflightPerToken < in.MaxBodyBytes || in.MaxInflightPerToken > in.MaxInflightBytes) {
		bad("ingest.max_inflight_per_token", "%s is outside ingest.max_body_bytes..ingest.max_inflight_bytes (%s..%s)",
			in.MaxInflightPerToken, in.MaxBodyBytes, in.MaxInflightBytes)
	}
	if in.Rate.EventsPerSecond < 0 {
		bad("ingest.rate.events_per_second", "must not be negative")
	}
	if in.Rate.Burst < 0 {
		bad("ingest.rate.burst", "must not be negative")
	}
	if in.Stream.MaxBytes < 16<<20 {
		bad("ingest.stream.max_bytes", "%s is too small (at least 16MiB)", in.Stream.MaxBytes)
	}
	if in.Stream.DedupWindow <= 0 {
		bad("ingest.stream.dedup_window", "must be positive")
	}
	if in.Syslog.Listen != "" {
		addr("ingest.syslog.listen", in.Syslog.Listen, true)
	}
	if in.Syslog.InflightBytes < in.MaxEventBytes {
		bad("ingest.syslog.inflight_bytes", "%s is smaller than ingest.max_event_bytes (%s): no frame could be read", in.Syslog.InflightBytes, in.MaxEventBytes)
	}
	if in.Syslog.MaxConnections < 1 {
		bad("ingest.syslog.max_connections", "must be at least 1")
	}
	if in.Syslog.MaxConnectionsPerIP < 1 || in.Syslog.MaxConnectionsPerIP > in.Syslog.MaxConnections {
		bad("ingest.syslog.max_connections_per_ip", "must be between 1 and ingest.syslog.max_connections (%d)", in.Syslog.MaxConnections)
	}
	if in.Syslog.IdleTimeout < Duration(time.Second) {
		bad("ingest.syslog.idle_timeout", "must be at least 1s")
	}
	seen := map[string]bool{}
	for i, f := range in.Files {
		p := fmt.Sprintf("ingest.files[%d]", i)
		if f.Path == "" {
			bad(p+".path", "must not be empty")
		} else if seen[f.Path] {
			bad(p+".path", "%q is listed twice", f.Path)
		}
		seen[f.Path] = true
		if f.StartAt != "" {
			oneOf(p+".start_at", f.StartAt, "beginning", "end")
		}
	}
	for i, s := range in.Subjects {
		p := fmt.Sprintf("ingest.nats_subjects[%d]", i)
		if s.Subject == "" {
			bad(p+".subject", "must not be empty")
		} else if strings.HasPrefix(s.Subject, "events.") || s.Subject == "events" || strings.HasPrefix(s.Subject, "$") {
			bad(p+".subject", "%q is reserved for Riposte's own streams", s.Subject)
		}
	}
	d := &c.Detect
	for i, p := range d.Rules {
		if p == "" {
			bad(fmt.Sprintf("detect.rules[%d]", i), "must not be empty")
		} else if _, err := os.Stat(p); err != nil {
			bad(fmt.Sprintf("detect.rules[%d]", i), "%v", err)
		}
	}
	if d.Mapping != "" {
		if _, err := os.Stat(d.Mapping); err != nil {
			bad("detect.mapping", "%v", err)
		}
	}
	if d.Correlation.MaxGroups < 100 || d.Correlation.MaxGroups > 10_000_000 {
		bad("detect.correlation.max_groups", "%d is outside 100..10000000", d.Correlation.MaxGroups)
	}
	if d.Intel.MinConfidence < 0 || d.Intel.MinConfidence > 100 {
		bad("detect.intel.min_confidence", "%d is outside 0..100", d.Intel.MinConfidence)
	}
	names := map[string]bool{}
	for i, f := range d.Intel.Feeds {
		p := fmt.Sprintf("detect.intel.feeds[%d]", i)
		if f.Name == "" {
			bad(p+".name", "must not be empty")
		} else if names[f.Name] {
			bad(p+".name", "%q is used twice", f.Name)
		}
		names[f.Name] = true
		switch f.Type {
		case "stix", "misp", "csv":
			if f.Path == "" {
				bad(p+".path", "a %s feed needs a path", f.Type)
			}
		case "taxii":
			if !strings.HasPrefix(f.URL, "https://") && !strings.HasPrefix(f.URL, "http://") {
				bad(p+".url", "a taxii feed needs an http(s) URL")
			}
			if f.Collection == "" {
				bad(p+".collection", "a taxii feed needs a collection id")
			}
		default:
			bad(p+".type", "%q is not one of stix, misp, csv, taxii", f.Type)
		}
		if f.Confidence < 0 || f.Confidence > 100 {
			bad(p+".confidence", "%d is outside 0..100", f.Confidence)
		}
	}
	if c.Alarm.DedupWindow <= 0 {
		bad("alarm.dedup_window", "must be positive")
	}
	if c.Alarm.GroupWindow <= 0 {
		bad("alarm.group_window", "must be positive")
	}
	if c.Alarm.Silences.MaxDuration <= 0 {
		bad("alarm.silences.max_duration", "must be positive")
	}
	if !slices.Contains([]string{"contained", "resolved", "never"}, c.Alarm.Grouping.NewIncidentAfter) {
		bad("alarm.grouping.new_incident_after", "%q is not one of contained, resolved, never", c.Alarm.Grouping.NewIncidentAfter)
	}
	prio := func(path, p string) {
		if len(p) != 2 || p[0] != 'P' || p[1] < '1' || p[1] > '4' {
			bad(path, "%q is not one of P1, P2, P3, P4", p)
		}
	}
	for i, r := range c.Alarm.Matrix {
		p := fmt.Sprintf("alarm.priority_matrix[%d]", i)
		prio(p+".priority", r.Priority)
		if r.MinSeverity < 0 || r.MinSeverity > 4 {
			bad(p+".min_severity", "%d is outside 0..4", r.MinSeverity)
		}
		if r.MinUrgency < 0 || r.MinUrgency > 3 {
			bad(p+".min_urgency", "%d is outside 0..3", r.MinUrgency)
		}
		if r.MinCriticality < 0 || r.MinCriticality > 5 {
			bad(p+".min_criticality", "%d is outside 0..5", r.MinCriticality)
		}
	}
	for i, x := range c.Alarm.SLA {
		p := fmt.Sprintf("alarm.sla[%d]", i)
		prio(p+".priority", x.Priority)
		if x.Acknowledge <= 0 || x.Contain <= 0 || x.Resolve <= 0 {
			bad(p, "acknowledge, contain and resolve must all be positive durations")
		}
	}
	for i, u := range c.Alarm.Urgency {
		p := fmt.Sprintf("alarm.urgency[%d]", i)
		if u.Tactic == "" {
			bad(p+".tactic", "must not be empty")
		}
		if u.Urgency < 1 || u.Urgency > 3 {
			bad(p+".urgency", "%d is outside 1..3", u.Urgency)
		}
	}
	for i, e := range c.Alarm.IgnoreEntities {
		if k, v, ok := strings.Cut(e, ":"); !ok || v == "" || !slices.Contains([]string{"host", "user", "ip", "hash", "domain", "process"}, k) {
			bad(fmt.Sprintf("alarm.ignore_entities[%d]", i), "%q is not kind:value with kind host, user, ip, hash, domain or process", e)
		}
	}
	if c.Respond.Workers < 0 {
		bad("respond.workers", "must not be negative")
	}
	for i, p := range c.Respond.Policies {
		path := fmt.Sprintf("respond.approval_policies[%d]", i)
		if len(p.Operations) == 0 {
			bad(path+".operations", "name at least one connector.operation")
		}
		for _, op := range p.Operations {
			if c, o, ok := strings.Cut(op, "."); !ok || c == "" || o == "" {
				bad(path+".operations", "%q is not connector.operation", op)
			}
		}
		if p.MinCriticality < 0 || p.MinCriticality > 5 {
			bad(path+".min_criticality", "%d is outside 0..5", p.MinCriticality)
		}
	}
	if c.Respond.Lease < 0 || (c.Respond.Lease > 0 && c.Respond.Lease < Duration(time.Second)) {
		bad("respond.lease", "%s: use at least 1s", c.Respond.Lease)
	}
	if c.Retention.MaxAge < 0 {
		bad("retention.max_age", "must not be negative")
	}
	if c.Retention.MaxBytes < 0 {
		bad("retention.max_bytes", "must not be negative")
	}
	if c.Retention.PinnedShare < 0 || c.Retention.PinnedShare > 1 {
		bad("retention.pinned_share", "%g is outside 0..1", c.Retention.PinnedShare)
	}
	if c.Retention.Interval < 0 || (c.Retention.Interval > 0 && c.Retention.Interval < Duration(time.Second)) {
		bad("retention.interval", "%s: use at least 1s", c.Retention.Interval)
	}
	c.Console.check(bad)
	return ps
}

// LoadFile reads path (if not empty) over the defaults; the returned map
// gives each key path's line for Validate. Problems found while reading
// (syntax, unknown keys, wrong types) are all returned together.
func LoadFile(path string) (Config, map[string]int, error) {
	c := Default()
	lines := map[string]int{}
	if path == "" {
		return c, lines, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return c, lines, err
	}
	ps := decode(data, &c, lines)
	if len(ps) > 0 {
		return c, lines, ps
	}
	return c, lines, nil
}

// check validates the console section.
func (k *Console) check(bad func(path, format string, a ...any)) {
	if d := k.SessionIdle.D(); d < time.Minute || d > 24*time.Hour {
		bad("console.session_idle", "%s is outside 1m..24h", k.SessionIdle)
	}
	if d := k.SessionAbsolute.D(); d < k.SessionIdle.D() || d > 30*24*time.Hour {
		bad("console.session_absolute", "%s is outside console.session_idle (%s)..720h", k.SessionAbsolute, k.SessionIdle)
	}
	o := &k.OIDC
	if o.Issuer == "" {
		if o.ClientID != "" || o.RedirectURL != "" || o.ClientSecret != "" || len(o.Roles) > 0 {
			bad("console.oidc.issuer", "must be set with the other console.oidc keys")
		}
		return
	}
	// http is for a provider on this machine (tests, a local Dex);
	// elsewhere codes and tokens would cross the network in the clear.
	webURL := func(path, v string) {
		u, err := url.Parse(v)
		switch {
		case v == "":
			bad(path, "must not be empty")
		case err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "":
			bad(path, "%q is not an absolute URL without query or fragment", v)
		case u.Scheme == "https":
		case u.Scheme == "http" && loopbackHost(u.Hostname()):
		default:
			bad(path, "%q must use https (http only on localhost)", v)
		}
	}
	webURL("console.oidc.issuer", o.Issuer)
	webURL("console.oidc.redirect_url", o.RedirectURL)
	if o.ClientID == "" {
		bad("console.oidc.client_id", "must not be empty")
	}
	if n, ok := strings.CutPrefix(o.ClientSecret, "secret://"); ok && (n == "" || strings.ContainsAny(n, " \t\n")) {
		bad("console.oidc.client_secret", "%q is not a secret://NAME reference", o.ClientSecret)
	}
	for i, sc := range o.Scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\n\"") {
			bad(fmt.Sprintf("console.oidc.scopes[%d]", i), "%q is not a scope", sc)
		}
	}
	people := []string{"viewer", "analyst", "responder", "admin"}
	for i, r := range o.Roles {
		p := fmt.Sprintf("console.oidc.roles[%d]", i)
		if r.Value == "" {
			bad(p+".value", "must not be empty")
		}
		if !slices.Contains(people, r.Role) {
			bad(p+".role", "%q is not one of %s", r.Role, strings.Join(people, ", "))
		}
	}
	if o.DefaultRole != "" && !slices.Contains(people, o.DefaultRole) {
		bad("console.oidc.default_role", "%q is not empty (refuse) nor one of %s", o.DefaultRole, strings.Join(people, ", "))
	}
	switch {
	case o.RoleClaim == "" && len(o.Roles) > 0:
		bad("console.oidc.role_claim", "must name the claim that console.oidc.roles map")
	case o.RoleClaim != "" && len(o.Roles) == 0 && o.DefaultRole == "":
		bad("console.oidc.roles", "map at least one value of %s to a role, or no one can sign in", o.RoleClaim)
	case o.RoleClaim == "" && o.DefaultRole == "":
		bad("console.oidc.role_claim", "set role_claim and roles, or default_role: otherwise no one can sign in")
	}
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}
