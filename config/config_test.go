package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// leafPaths lists the key path of every setting a Config has, with list
// entries as [0].
func leafPaths(t reflect.Type, prefix string) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		p := join(prefix, strings.Split(f.Tag.Get("yaml"), ",")[0])
		switch {
		case f.Type == rawType:
			out = append(out, p) // decoded by its own package
		case f.Type.Kind() == reflect.Struct:
			out = append(out, leafPaths(f.Type, p)...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			out = append(out, leafPaths(f.Type.Elem(), p+"[0]")...)
		default:
			out = append(out, p)
		}
	}
	return out
}

func TestFullExample(t *testing.T) {
	c, lines, err := LoadFile("testdata/full.yaml")
	if err != nil {
		t.Fatalf("full.yaml: %v", err)
	}
	if ps := c.Validate(lines); len(ps) > 0 {
		t.Fatalf("full.yaml is invalid:\n%v", ps)
	}
	want := Config{
		Data: "/var/lib/riposte",
		Log:  Log{Level: "debug", Format: "json"},
		HTTP: HTTP{Listen: "0.0.0.0:9443", ShutdownGrace: Duration(45 * time.Second), TLSCert: "testdata/test-only.crt", TLSKey: "testdata/test-only.key",
			ReadHeaderTimeout: Duration(5 * time.Second), ReadTimeout: Duration(20 * time.Second), WriteTimeout: Duration(45 * time.Second),
			IdleTimeout: Duration(30 * time.Second), MaxConnections: 2048, MaxConnectionsPerAddress: 64, MaxUnauthenticated: 8,
			MinBodyRate: 8 << 10, BodyRateGrace: Duration(15 * time.Second), AuthFailures: AuthFailures{PerMinute: 20, Burst: 5}},
		NATS: NATS{URL: "", Listen: "127.0.0.1:4333", SyncAlways: false, MaxPayload: 16 << 20, TLSCert: "testdata/test-only.crt", TLSKey: "testdata/test-only.key",
			User: "riposte", Password: "change-me", CA: "testdata/test-only.crt", Replicas: 1},
		Database: Database{Sync: "full", URL: "postgres://riposte@db.example:5432/riposte"},
		Ingest: Ingest{
			MaxEventBytes:       512 << 10,
			MaxBodyBytes:        32 << 20,
			MaxBatchEvents:      50000,
			MaxInflightBytes:    1 << 30,
			MaxInflightPerToken: 256 << 20,
			Rate:                Rate{EventsPerSecond: 2500.5, Burst: 60000},
			Stream:              Stream{MaxBytes: 10e9, MaxAge: Duration(72 * time.Hour), DedupWindow: Duration(150 * time.Second)},
			Syslog: Syslog{Listen: "[::1]:6514", UDP: false, TCP: true, InflightBytes: 64 << 20,
				MaxConnections: 200, MaxConnectionsPerIP: 20, IdleTimeout: Duration(5 * time.Minute)},
			Files: []File{
				{Path: "/var/log/auth.log", StartAt: "beginning"},
				{Path: "/var/log/nginx/access.log", StartAt: "end"},
			},
			Subjects: []Subject{
				{Subject: "logs.>", URL: "nats://shipper.example:4222", Queue: "riposte"},
				{Subject: "app.*.events"},
			},
		},
		Retention: Retention{MaxAge: Duration(2160 * time.Hour), MaxBytes: 1 << 40, PinnedShare: 0.4, Interval: Duration(30 * time.Second)},
	}
	// Section by section: sections added later are checked for
	// completeness below.
	for _, s := range []struct {
		name      string
		got, want any
	}{
		{"data", c.Data, want.Data}, {"log", c.Log, want.Log}, {"http", c.HTTP, want.HTTP},
		{"nats", c.NATS, want.NATS}, {"database", c.Database, want.Database},
		{"ingest", c.Ingest, want.Ingest}, {"retention", c.Retention, want.Retention},
	} {
		if !reflect.DeepEqual(s.got, s.want) {
			t.Errorf("%s decoded as\n%+v\nwant\n%+v", s.name, s.got, s.want)
		}
	}
	// Every key is set in the file (in some entry of a list), so the
	// example stays complete as keys are added.
	set := map[string]bool{}
	for p := range lines {
		set[regexp.MustCompile(`\[\d+\]`).ReplaceAllString(p, "[0]")] = true
	}
	for _, p := range leafPaths(reflect.TypeOf(Config{}), "") {
		if !set[p] {
			t.Errorf("testdata/full.yaml does not set %s: add it", p)
		}
	}
	// Lines are those of the file.
	for p, want := range map[string]int{
		"data": 3, "log.level": 6, "http.listen": 10, "nats.max_payload": 31, "ingest.rate.burst": 51,
		"ingest.files[1].path": 67, "ingest.nats_subjects[1].queue": 75, "retention.max_bytes": 79,
	} {
		if lines[p] != want {
			t.Errorf("line of %s = %d, want %d", p, lines[p], want)
		}
	}
}

func TestDefaultIsValid(t *testing.T) {
	c, lines, err := LoadFile("")
	if err != nil || !reflect.DeepEqual(c, Default()) || len(lines) != 0 {
		t.Fatalf("LoadFile(\"\") = %+v, %v, %v", c, lines, err)
	}
	if ps := c.Validate(lines); len(ps) > 0 {
		t.Fatalf("the default configuration is invalid:\n%v", ps)
	}
}

func TestManyProblems(t *testing.T) {
	c, lines, err := LoadFile("testdata/problems.yaml")
	var read Problems
	if !errors.As(err, &read) {
		t.Fatalf("LoadFile error %v, want Problems", err)
	}
	// Read problems come first, in file order; the values that were read
	// are still applied, so validation names the rest.
	wantRead := Problems{
		{"colour", 3, "unknown key (known here: data, log, http, nats, database, ingest, retention…"},
		{"http.shutdown_grace", 9, `"15 seconds" is not a duration like 30s, 15m or 24h`},
		{"nats.max_payload", 12, `"8 megs" is not a size like 65536, 64KiB or 2GiB`},
		{"nats.sync_always", 13, `"maybe" is not true or false`},
		{"ingest.max_batch_events", 15, `"lots" is not a whole number`},
		{"ingest.rate.brust", 18, "unknown key (known here: events_per_second, burst)"},
		{"ingest.stream.max_age", 20, `"1 week" is not a duration like 30s, 15m or 24h`},
		{"retention.max_bytes", 35, `"lots" is not a size like 65536, 64KiB or 2GiB`},
	}
	checkProblems(t, read, wantRead)
	wantValid := Problems{
		{"log.level", 5, `"loud" is not one of debug, info, warn, error`},
		{"http.listen", 8, `"localhost" is not host:port`},
		{"nats.listen", 11, `port "99999" is not a number from 0 to 65535`},
		{"database.sync", 32, `"sometimes" is not one of full, normal`},
		{"ingest.rate.events_per_second", 17, "must not be negative"},
		{"ingest.syslog.listen", 22, `"syslog.example" is not host:port`},
		{"ingest.files[0].start_at", 25, `"middle" is not one of beginning, end`},
		{"ingest.files[2].path", 27, `"/var/log/auth.log" is listed twice`},
		{"ingest.nats_subjects[0].subject", 29, `"events.raw" is reserved for Riposte's own streams`},
		// No subject key in the entry: the entry's line.
		{"ingest.nats_subjects[1].subject", 30, "must not be empty"},
		{"retention.max_age", 34, "must not be negative"},
	}
	checkProblems(t, c.Validate(lines), wantValid)
	// Every problem names its line when printed.
	for _, p := range append(read, c.Validate(lines)...) {
		if !strings.HasPrefix(p.String(), fmt.Sprintf("line %d: %s: ", p.Line, p.Path)) {
			t.Errorf("problem prints as %q", p.String())
		}
	}
}

// checkProblems compares problems exactly, except that a wanted message
// ending in "…" is a prefix.
func checkProblems(t *testing.T, got, want Problems) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		g, w := got[i], want[i]
		msgOK := g.Msg == w.Msg
		if prefix, cut := strings.CutSuffix(w.Msg, "…"); cut {
			msgOK = strings.HasPrefix(g.Msg, prefix)
		}
		ok = g.Path == w.Path && g.Line == w.Line && msgOK
	}
	if !ok {
		t.Errorf("problems\n%v\nwant\n%v", got, want)
	}
}

func writeTemp(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "riposte.yaml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoad covers smaller files: syntax errors, YAML forms, and values of
// the wrong shape.
func TestLoad(t *testing.T) {
	cases := []struct {
		name  string
		yaml  string
		check func(c Config) bool // on the decoded config, when no problem
		want  Problems            // exact; Msg may be a prefix ending in "…"
	}{
		{name: "syntax error in testdata", yaml: "@testdata/syntax.yaml",
			want: Problems{{"(file)", 3, "YAML syntax: [3:10] mapping value is not allowed in this context…"}}},
		{name: "unclosed flow sequence", yaml: "data: [\n",
			want: Problems{{"(file)", 1, "YAML syntax: [1:7] sequence end token ']' not found…"}}},
		{name: "duplicate key", yaml: "data: /a\nlog:\n  level: info\ndata: /b\n",
			want: Problems{{"(file)", 4, `YAML syntax: [4:1] mapping key "data" already defined at [1:1]…`}}},
		{name: "empty file", yaml: "", check: func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{name: "comments only", yaml: "# nothing\n", check: func(c Config) bool { return reflect.DeepEqual(c, Default()) }},
		{name: "null value keeps the default", yaml: "data:\nlog:\n  level: ~\n",
			check: func(c Config) bool { return c.Data == Default().Data && c.Log.Level == "info" }},
		{name: "quoted keys and values", yaml: "\"data\": '/srv/r'\n'log': {\"level\": \"warn\"}\n",
			check: func(c Config) bool { return c.Data == "/srv/r" && c.Log.Level == "warn" }},
		{name: "strings keep their text", yaml: "data: 010\ningest:\n  nats_subjects:\n    - {subject: 1.10, queue: 007}\n",
			check: func(c Config) bool {
				return c.Data == "010" && c.Ingest.Subjects[0].Subject == "1.10" && c.Ingest.Subjects[0].Queue == "007"
			}},
		{name: "block scalar", yaml: "data: |-\n  /srv/riposte\n", check: func(c Config) bool { return c.Data == "/srv/riposte" }},
		{name: "anchor and alias", yaml: "data: &d /srv/x\ningest:\n  files:\n    - &f {path: /var/log/a, start_at: end}\n    - path: *d\n",
			check: func(c Config) bool {
				return c.Data == "/srv/x" && len(c.Ingest.Files) == 2 && c.Ingest.Files[1].Path == "/srv/x"
			}},
		{name: "alias to nothing", yaml: "http:\n  listen: *nope\n",
			want: Problems{{"http.listen", 2, "alias *nope names no anchor &nope"}}},
		{name: "alias bomb", yaml: "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\n" +
			"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
			want: Problems{{"e[7][8][9][3]", 2, "more than 10000 YAML aliases"}}},
		{name: "merge key", yaml: "defaults: &d {level: warn, format: json}\nlog:\n  <<: *d\n  level: error\n",
			want: Problems{{"defaults", 1, "unknown key (known here: …"}}},
		{name: "flow mapping", yaml: "log: {level: error, format: json}  # trailing comment\n",
			check: func(c Config) bool { return c.Log == Log{Level: "error", Format: "json"} }},
		{name: "list instead of mapping at top", yaml: "- a\n- b\n",
			want: Problems{{"(top level)", 1, "want a mapping of keys, got a list"}}},
		{name: "scalar instead of section", yaml: "http: 5\n",
			want: Problems{{"http", 1, `want a mapping of keys, got "5"`}}},
		{name: "list instead of scalar", yaml: "data: [a, b]\n",
			want: Problems{{"data", 1, "want a single value, got a list"}}},
		{name: "mapping instead of list", yaml: "ingest:\n  files: {path: /x}\n",
			want: Problems{{"ingest.files", 2, "want a list, got a mapping"}}},
		{name: "scalar list entry", yaml: "ingest:\n  files:\n    - /var/log/x\n",
			want: Problems{{"ingest.files[0]", 3, `want a mapping of keys, got "/var/log/x"`}}},
		{name: "float for an int", yaml: "ingest:\n  rate:\n    burst: 1.5\n",
			want: Problems{{"ingest.rate.burst", 3, `"1.5" is not a whole number`}}},
		{name: "word for a float", yaml: "ingest:\n  rate:\n    events_per_second: fast\n",
			want: Problems{{"ingest.rate.events_per_second", 3, `"fast" is not a number`}}},
		{name: "yes is not a bool", yaml: "ingest:\n  syslog:\n    udp: yes\n",
			want: Problems{{"ingest.syslog.udp", 3, `"yes" is not true or false`}}},
		{name: "size not a number", yaml: "nats:\n  max_payload: nan\n",
			want: Problems{{"nats.max_payload", 2, `"nan" is not a size like 65536, 64KiB or 2GiB`}}},
		{name: "size too large", yaml: "retention:\n  max_bytes: 1e30\n",
			want: Problems{{"retention.max_bytes", 2, `"1e30" is too large a size`}}},
		{name: "duration without unit", yaml: "http:\n  shutdown_grace: 15\n",
			want: Problems{{"http.shutdown_grace", 2, `"15" is not a duration like 30s, 15m or 24h`}}},
		{name: "later document wins", yaml: "data: /a\n---\ndata: /b\n", check: func(c Config) bool { return c.Data == "/b" }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := strings.TrimPrefix(tc.yaml, "@")
			if path == tc.yaml {
				path = writeTemp(t, tc.yaml)
			}
			c, _, err := LoadFile(path)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				if !tc.check(c) {
					t.Errorf("decoded %+v", c)
				}
				return
			}
			var got Problems
			if !errors.As(err, &got) {
				t.Fatalf("error %v, want problems", err)
			}
			checkProblems(t, got, tc.want)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, _, err := LoadFile(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("error %v, want not-exist", err)
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name   string
		change func(c *Config)
		want   []string // "path: msg"; nil means valid
	}{
		{"default", func(c *Config) {}, nil},
		{"empty data", func(c *Config) { c.Data = "" }, []string{"data: must not be empty"}},
		{"log level", func(c *Config) { c.Log.Level = "trace" }, []string{`log.level: "trace" is not one of debug, info, warn, error`}},
		{"log format", func(c *Config) { c.Log.Format = "xml" }, []string{`log.format: "xml" is not one of text, json`}},
		{"empty http", func(c *Config) { c.HTTP.Listen = "" }, []string{"http.listen: must not be empty"}},
		{"port 0 and IPv6", func(c *Config) { c.HTTP.Listen = "[::1]:0" }, nil},
		{"port not a number", func(c *Config) { c.HTTP.Listen = "127.0.0.1:http" }, []string{`http.listen: port "http" is not a number from 0 to 65535`}},
		{"negative port", func(c *Config) { c.HTTP.Listen = "127.0.0.1:-1" }, []string{`http.listen: port "-1" is not a number from 0 to 65535`}},
		{"nats url", func(c *Config) { c.NATS.URL = "nats://n1:4222"; c.NATS.Listen = "" }, nil},
		{"tls nats url", func(c *Config) { c.NATS.URL = "tls://n1:4222" }, nil},
		{"nats url scheme", func(c *Config) { c.NATS.URL = "http://n1:4222" }, []string{`nats.url: "http://n1:4222" must start with nats:// or tls://`}},
		{"nats cluster urls", func(c *Config) { c.NATS.URL = "nats://n1:4222, nats://n2:4222,tls://n3:4222"; c.NATS.Replicas = 3 }, nil},
		{"nats cluster url scheme", func(c *Config) { c.NATS.URL = "nats://n1:4222,n2:4222" }, []string{`nats.url: "n2:4222" must start with nats:// or tls://`}},
		{"nats creds and user", func(c *Config) { c.NATS.URL = "nats://n1:4222"; c.NATS.Creds = "/nonexistent.creds"; c.NATS.User = "u" },
			[]string{"nats.creds: use either creds or user and password, not both", "nats.creds: stat /nonexistent.creds: no such file or directory"}},
		{"nats replicas", func(c *Config) { c.NATS.Replicas = 7 }, []string{"nats.replicas: 7 is outside 0..5 (0: 1 on a lone server, 3 on a cluster)"}},
		{"lease ttl", func(c *Config) { c.Cluster.LeaseTTL = Duration(100 * time.Millisecond) }, []string{"cluster.lease_ttl: 100ms is outside 1s..5m"}},
		{"node name", func(c *Config) { c.Cluster.Node = "a.b" }, []string{`cluster.node: "a.b" may not contain spaces, dots, slashes, * or >`}},
		{"no nats listen", func(c *Config) { c.NATS.Listen = "" }, []string{"nats.listen: must not be empty"}},
		{"payload too small", func(c *Config) { c.NATS.MaxPayload = 32 << 10; c.Ingest.MaxEventBytes = 1 << 10 }, []string{"nats.max_payload: 32KiB is outside 64KiB..64MiB"}},
		{"payload too large", func(c *Config) { c.NATS.MaxPayload = 128 << 20 }, []string{"nats.max_payload: 128MiB is outside 64KiB..64MiB"}},
		{"db sync", func(c *Config) { c.Database.Sync = "off" }, []string{`database.sync: "off" is not one of full, normal`}},
		{"event too small", func(c *Config) { c.Ingest.MaxEventBytes = 100 }, []string{"ingest.max_event_bytes: 100B is too small (at least 256B)"}},
		{"event over half the payload", func(c *Config) { c.Ingest.MaxEventBytes = 5 << 20 }, []string{"ingest.max_event_bytes: 5MiB must be at most half of nats.max_payload (8MiB)"}},
		{"body under event", func(c *Config) { c.Ingest.MaxBodyBytes = 1 << 10 }, []string{"ingest.max_body_bytes: 1KiB is smaller than ingest.max_event_bytes"}},
		{"batch of zero", func(c *Config) { c.Ingest.MaxBatchEvents = 0 }, []string{"ingest.max_batch_events: must be at least 1"}},
		{"inflight under body", func(c *Config) { c.Ingest.MaxInflightBytes = 1 << 20 }, []string{"ingest.max_inflight_bytes: 1MiB is smaller than ingest.max_body_bytes"}},
		{"negative rate", func(c *Config) { c.Ingest.Rate = Rate{EventsPerSecond: -1, Burst: -1} },
			[]string{"ingest.rate.events_per_second: must not be negative", "ingest.rate.burst: must not be negative"}},
		{"small stream", func(c *Config) { c.Ingest.Stream.MaxBytes = 1 << 20 }, []string{"ingest.stream.max_bytes: 1MiB is too small (at least 16MiB)"}},
		{"no dedup window", func(c *Config) { c.Ingest.Stream.DedupWindow = 0 }, []string{"ingest.stream.dedup_window: must be positive"}},
		{"grouping never", func(c *Config) { c.Alarm.Grouping.NewIncidentAfter = "never" }, nil},
		{"grouping after an unknown status", func(c *Config) { c.Alarm.Grouping.NewIncidentAfter = "closed" },
			[]string{`alarm.grouping.new_incident_after: "closed" is not one of contained, resolved, never`}},
		{"no read timeout", func(c *Config) { c.HTTP.ReadTimeout = 0 }, []string{"http.read_timeout: 0s is outside 100ms..24h",
			"http.read_timeout: 0s is shorter than http.read_header_timeout (10s)"}},
		{"no idle timeout", func(c *Config) { c.HTTP.IdleTimeout = 0 }, []string{"http.idle_timeout: 0s is outside 100ms..24h"}},
		{"per-address connections over the total", func(c *Config) { c.HTTP.MaxConnectionsPerAddress = 5000 },
			[]string{"http.max_connections_per_address: 5000 is outside 1..http.max_connections (4096)"}},
		{"few connections", func(c *Config) { c.HTTP.MaxConnections = 4; c.HTTP.MaxConnectionsPerAddress = 2 }, []string{"http.max_connections: 4 is too few (at least 16)"}},
		{"no unauthenticated requests", func(c *Config) { c.HTTP.MaxUnauthenticated = 0 }, []string{"http.max_unauthenticated: must be at least 1"}},
		{"auth failure burst", func(c *Config) { c.HTTP.AuthFailures.Burst = 0 }, []string{"http.auth_failures.burst: must be at least 1"}},
		{"auth failures off", func(c *Config) { c.HTTP.AuthFailures.PerMinute = 0 }, nil},
		{"token share over the budget", func(c *Config) { c.Ingest.MaxInflightPerToken = 1 << 30 },
			[]string{"ingest.max_inflight_per_token: 1GiB is outside ingest.max_body_bytes..ingest.max_inflight_bytes (64MiB..512MiB)"}},
		{"correlation state unbounded", func(c *Config) { c.Detect.Correlation.MaxGroups = 0 },
			[]string{"detect.correlation.max_groups: 0 is outside 100..10000000"}},
		{"syslog disabled", func(c *Config) { c.Ingest.Syslog.Listen = "" }, nil},
		{"syslog address", func(c *Config) { c.Ingest.Syslog.Listen = "514" }, []string{`ingest.syslog.listen: "514" is not host:port`}},
		{"syslog budget below one frame", func(c *Config) { c.Ingest.Syslog.InflightBytes = 1 << 10 }, []string{"ingest.syslog.inflight_bytes: 1KiB is smaller than ingest.max_event_bytes (256KiB): no frame could be read"}},
		{"syslog per-address cap over the total", func(c *Config) { c.Ingest.Syslog.MaxConnectionsPerIP = 2000 }, []string{"ingest.syslog.max_connections_per_ip: must be between 1 and ingest.syslog.max_connections (1024)"}},
		{"files", func(c *Config) {
			c.Ingest.Files = []File{{Path: "/a"}, {Path: ""}, {Path: "/b", StartAt: "end"}, {Path: "/a", StartAt: "now"}}
		}, []string{
			"ingest.files[1].path: must not be empty",
			`ingest.files[3].path: "/a" is listed twice`,
			`ingest.files[3].start_at: "now" is not one of beginning, end`,
		}},
		{"subjects", func(c *Config) {
			c.Ingest.Subjects = []Subject{{Subject: "logs.>"}, {Subject: "events"}, {Subject: "events.x"}, {Subject: "$JS.API.>"}, {Subject: "eventsx"}, {}}
		}, []string{
			`ingest.nats_subjects[1].subject: "events" is reserved for Riposte's own streams`,
			`ingest.nats_subjects[2].subject: "events.x" is reserved for Riposte's own streams`,
			`ingest.nats_subjects[3].subject: "$JS.API.>" is reserved for Riposte's own streams`,
			"ingest.nats_subjects[5].subject: must not be empty",
		}},
		{"negative retention", func(c *Config) { c.Retention = Retention{MaxAge: -1, MaxBytes: -1} },
			[]string{"retention.max_age: must not be negative", "retention.max_bytes: must not be negative"}},
		{"no retention", func(c *Config) { c.Retention = Retention{} }, nil},
		{"pins and interval out of range", func(c *Config) { c.Retention.PinnedShare, c.Retention.Interval = 1.5, Duration(time.Millisecond) },
			[]string{"retention.pinned_share: 1.5 is outside 0..1", "retention.interval: 1ms: use at least 1s"}},
		{"deny limits", func(c *Config) { c.Agents.MaxPrefixV4, c.Agents.MaxPrefixV6 = 0, 129 },
			[]string{"agents.max_prefix_v4: /0 is outside /8../32", "agents.max_prefix_v6: /129 is outside /16../128"}},
		{"protected", func(c *Config) { c.Agents.Protected = []string{"198.51.100.0/24", "office"} },
			[]string{`agents.protected[1]: "office" is not an address or CIDR`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.change(&c)
			var got []string
			for _, p := range c.Validate(map[string]int{}) {
				if p.Line != 0 {
					t.Errorf("%v: a line without a file", p)
				}
				got = append(got, p.String())
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("problems\n%q\nwant\n%q", got, tc.want)
			}
		})
	}
}

func TestEnv(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		want    func(c *Config)
		wantErr string
	}{
		{"nothing set", nil, func(c *Config) {}, ""},
		{"empty values are ignored", map[string]string{"RIPOSTE_DATA": "", "RIPOSTE_HTTP": ""}, func(c *Config) {}, ""},
		{"every variable", map[string]string{
			"RIPOSTE_DATA": "/d", "RIPOSTE_HTTP": "0.0.0.0:80", "RIPOSTE_SYSLOG": "0.0.0.0:514",
			"RIPOSTE_NATS_URL": "nats://n:4222", "RIPOSTE_NATS_LISTEN": "127.0.0.1:5000",
			"RIPOSTE_LOG_LEVEL": "debug", "RIPOSTE_LOG_FORMAT": "json", "RIPOSTE_DB_SYNC": "full",
			"RIPOSTE_NATS_SYNC_ALWAYS": "false",
		}, func(c *Config) {
			c.Data, c.HTTP.Listen, c.Ingest.Syslog.Listen = "/d", "0.0.0.0:80", "0.0.0.0:514"
			c.NATS.URL, c.NATS.Listen = "nats://n:4222", "127.0.0.1:5000"
			c.Log = Log{Level: "debug", Format: "json"}
			c.Database.Sync = "full"
			c.NATS.SyncAlways = false
		}, ""},
		{"sync always 0", map[string]string{"RIPOSTE_NATS_SYNC_ALWAYS": "0"}, func(c *Config) { c.NATS.SyncAlways = false }, ""},
		{"sync always TRUE", map[string]string{"RIPOSTE_NATS_SYNC_ALWAYS": "TRUE"}, func(c *Config) { c.NATS.SyncAlways = true }, ""},
		{"bad sync always", map[string]string{"RIPOSTE_NATS_SYNC_ALWAYS": "yes please"}, nil,
			`RIPOSTE_NATS_SYNC_ALWAYS: "yes please" is not true or false`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Start from a file so the variables are seen overriding it.
			c, _, err := LoadFile(writeTemp(t, "data: /file\nhttp:\n  listen: 127.0.0.1:9000\nnats:\n  sync_always: true\n"))
			if err != nil {
				t.Fatal(err)
			}
			want := c
			err = c.Env(func(k string) string { return tc.env[k] })
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.want(&want)
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got\n%+v\nwant\n%+v", c, want)
			}
		})
	}
}

func TestSize(t *testing.T) {
	cases := []struct {
		in      string
		want    Size
		str     string // how the size prints
		wantErr bool
	}{
		{in: "0", want: 0, str: "0B"},
		{in: "65536", want: 64 << 10, str: "64KiB"},
		{in: "1B", want: 1, str: "1B"},
		{in: "1023", want: 1023, str: "1023B"},
		{in: "1024", want: 1024, str: "1KiB"},
		{in: "1500", want: 1500, str: "1500B"},
		{in: "64KiB", want: 64 << 10, str: "64KiB"},
		{in: "1.5KiB", want: 1536, str: "1536B"},
		{in: "1023KiB", want: 1023 << 10, str: "1023KiB"},
		{in: "1024KiB", want: 1 << 20, str: "1MiB"},
		{in: "8MiB", want: 8 << 20, str: "8MiB"},
		{in: " 8 MiB ", want: 8 << 20, str: "8MiB"},
		{in: "2GiB", want: 2 << 30, str: "2GiB"},
		{in: "1TiB", want: 1 << 40, str: "1TiB"},
		{in: "2048TiB", want: 2048 << 40, str: "2251799813685248B"},
		{in: "1KB", want: 1000, str: "1000B"},
		{in: "10MB", want: 10e6, str: "10000000B"},
		{in: "1GB", want: 1e9, str: "1000000000B"},
		{in: "2TB", want: 2e12, str: "2000000000000B"},
		{in: "1e3", want: 1000, str: "1000B"},
		{in: "", wantErr: true},
		{in: "KiB", wantErr: true},
		{in: "-1", wantErr: true},
		{in: "-1KiB", wantErr: true},
		{in: "1 kib", wantErr: true},
		{in: "1KiB2", wantErr: true},
		{in: "lots", wantErr: true},
		{in: "NaN", wantErr: true},
		{in: "Inf", wantErr: true},
		{in: "1e300", wantErr: true},
		{in: "9000000TiB", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseSize(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("ParseSize(%q) = %d, want an error", tc.in, got)
				}
				if !strings.Contains(err.Error(), fmt.Sprintf("%q", tc.in)) {
					t.Errorf("error %q does not quote the input", err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
			if s := got.String(); s != tc.str {
				t.Errorf("%d prints as %q, want %q", got, s, tc.str)
			}
			// What prints parses back to the same size.
			if back, err := ParseSize(got.String()); err != nil || back != got {
				t.Errorf("ParseSize(%q) = %d, %v; want %d", got.String(), back, err, got)
			}
		})
	}
}

func TestDurationString(t *testing.T) {
	if s := Duration(90 * time.Second).String(); s != "1m30s" {
		t.Errorf("prints %q", s)
	}
	if d := Duration(time.Hour).D(); d != time.Hour {
		t.Errorf("D() = %v", d)
	}
}

// FuzzLoad feeds arbitrary bytes through the decoder: whatever the file
// holds, loading reports problems and never panics, and a file that loads
// can be validated.
func FuzzLoad(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "testdata/problems.yaml", "testdata/syntax.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		"", "data: x\n", "- a\n", "log: {level: debug}\n", "a: &x [*x]\n", "ingest:\n  files: &f\n    - *f\n",
		"data: *a\n", "data: !!binary aGVsbG8=\n", "? data\n: x\n", "<<: {data: x}\n", "data: |\n  x\n",
		"ingest:\n  files:\n    - {path: /a}\n    - path:\n", "\"\\u0000\": 1\n", "data: x\n---\n- 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := Default()
		lines := map[string]int{}
		ps := decode(data, &c, lines)
		for _, p := range ps {
			if p.Path == "" || p.Msg == "" || p.Line < 0 {
				t.Errorf("problem %#v lacks a path, a message or has a negative line", p)
			}
		}
		_ = c.Validate(lines)
	})
}
