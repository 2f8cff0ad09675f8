package hostops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/openc2"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultKillGrace          = 5 * time.Second
	DefaultServiceSettle      = time.Second
	DefaultExecTimeout        = 2 * time.Minute
	DefaultRemediationTimeout = 5 * time.Minute
	DefaultPackageTimeout     = 15 * time.Minute
	DefaultMaxFileSize        = 256 << 20
	DefaultMaxOutput          = 16 << 10
	DefaultLogLines           = 100
	// MaxLogLines bounds "lines" of a log_lines evidence request.
	MaxLogLines = 10000
)

// Config is the host-operations part of the agent's YAML configuration.
// Everything a command may touch is named here; a command can only choose
// among these.
type Config struct {
	// DataDir holds quarantine/, config-backups/, accounts/, services/ and
	// evidence/; created 0700 if missing. Absolute.
	DataDir string `yaml:"data_dir"`
	// Remediations maps a name to a fixed argv (absolute program path first).
	// They are the only programs "remediate" runs; nothing from the command
	// is added to them.
	Remediations map[string][]string `yaml:"remediations"`
	// LocalRemediationsOnly refuses remediations named by the server with
	// their argv (the server's allowlist, in a signed command); only the
	// names of Remediations then run.
	LocalRemediationsOnly bool `yaml:"local_remediations_only"`
	// Services the agent may stop, start and restart (empty: none).
	Services []string `yaml:"services"`
	// ServiceManager is "systemd" (default: systemctl) or "exec" (each
	// service described in ExecServices).
	ServiceManager string `yaml:"service_manager"`
	// ExecServices describes each service of Services when ServiceManager
	// is "exec".
	ExecServices map[string]ExecService `yaml:"exec_services"`
	// ConfigFiles are the absolute paths whose lines may be changed.
	ConfigFiles []string `yaml:"config_files"`
	// LogFiles are the absolute paths "log_lines" evidence may read.
	LogFiles []string `yaml:"log_files"`
	// EvidencePaths are path prefixes files may be collected from (empty:
	// any regular file outside DataDir, /proc, /sys and /dev).
	EvidencePaths []string `yaml:"evidence_paths"`
	// QuarantinePaths are path prefixes files may be quarantined from
	// (empty: any regular file outside DataDir, /proc, /sys and /dev).
	QuarantinePaths []string `yaml:"quarantine_paths"`
	// AccountRoot is the directory holding etc/passwd and etc/shadow
	// (default "/"); anything else is passed to usermod --prefix.
	AccountRoot string `yaml:"account_root"`
	// ProtectedAccounts may never be disabled (default: root).
	ProtectedAccounts []string `yaml:"protected_accounts"`
	// PackageManager is "apt", "dnf" or "yum"; empty: detected from the
	// programs present.
	PackageManager string `yaml:"package_manager"`
	// SkipPackageRefresh leaves out `apt-get update` before an upgrade.
	SkipPackageRefresh bool `yaml:"skip_package_refresh"`
	// KillGrace is the wait between SIGTERM and SIGKILL (default 5s).
	KillGrace time.Duration `yaml:"kill_grace"`
	// ServiceSettle is how long a started service must stay up to count
	// as started (default 1s).
	ServiceSettle time.Duration `yaml:"service_settle"`
	// ExecTimeout bounds every helper program (usermod, systemctl,
	// dpkg-query, a service's start/stop argv); default 2m.
	ExecTimeout time.Duration `yaml:"exec_timeout"`
	// RemediationTimeout bounds a remediation (default 5m).
	RemediationTimeout time.Duration `yaml:"remediation_timeout"`
	// PackageTimeout bounds a package upgrade (default 15m).
	PackageTimeout time.Duration `yaml:"package_timeout"`
	// MaxFileSize bounds files quarantined, collected or restored (default 256 MiB).
	MaxFileSize int64 `yaml:"max_file_size"`
	// MaxOutput bounds the stdout and stderr kept from a program, each
	// (default 16 KiB; head and tail are kept).
	MaxOutput int `yaml:"max_output"`
}

// ExecService is a service run without systemd.
type ExecService struct {
	// Start is the argv that starts the service (absolute path first). The
	// agent runs it detached and writes PIDFile, unless Forks is set.
	Start []string `yaml:"start"`
	// Stop is an optional argv that stops it; without it the agent sends
	// SIGTERM, then SIGKILL after KillGrace, to the PIDFile process.
	Stop []string `yaml:"stop"`
	// PIDFile holds the service's pid. Absolute.
	PIDFile string `yaml:"pid_file"`
	// Forks says Start daemonizes and writes PIDFile itself.
	Forks bool `yaml:"forks"`
}

// Meta describes who asked for a command; it is recorded with every
// evidence item, quarantine entry and backup.
type Meta struct {
	CommandID string // names the evidence directory; [A-Za-z0-9][A-Za-z0-9._-]{0,63}
	Requester string
	Incident  string
	Now       time.Time // zero: time.Now()
}

// Outcome is the result of one command.
type Outcome struct {
	// Response is the OpenC2 response; results["x-riposte"] repeats Details.
	Response openc2.Response
	// Evidence lists files staged for upload.
	Evidence []Evidence
	// Undo is the OpenC2 command (JSON) that reverses the action, nil if none.
	Undo json.RawMessage
	// Verified is true only when the effect was checked after acting.
	Verified bool
	// Details says what was done and seen (pids, hashes, versions, exit codes).
	Details map[string]any
}

// Evidence is one staged file, under DataDir/evidence/<command id>/.
type Evidence struct {
	Name        string    `json:"name"`
	Path        string    `json:"path"`
	Source      string    `json:"source"`
	SHA256      string    `json:"sha256"`
	Size        int64     `json:"size"`
	CollectedAt time.Time `json:"collected_at"`
	Requester   string    `json:"requester,omitempty"`
	Incident    string    `json:"incident,omitempty"`
	CommandID   string    `json:"command_id"`
}

// Host executes host operations. It is safe for concurrent use.
type Host struct {
	cfg          Config
	remediations map[string][]string
	services     map[string]bool
	configFiles  map[string]bool
	logFiles     map[string]bool
	protected    map[string]bool
	svc          serviceManager
	pkg          pkgManager
	procRoot     string
	self         string // the agent's own executable, never quarantined

	mu    sync.Mutex // serialises changes to the stores under DataDir
	svcMu sync.Mutex // one service operation at a time; held through kill graces
}

// New validates cfg, applies defaults and creates the DataDir layout.
func New(cfg Config) (*Host, error) {
	h := &Host{
		remediations: map[string][]string{},
		services:     map[string]bool{},
		configFiles:  map[string]bool{},
		logFiles:     map[string]bool{},
		protected:    map[string]bool{},
		procRoot:     "/proc",
	}
	if cfg.DataDir == "" || !filepath.IsAbs(cfg.DataDir) {
		return nil, fmt.Errorf("hostops: data_dir: %q must be an absolute path", cfg.DataDir)
	}
	cfg.DataDir = filepath.Clean(cfg.DataDir)
	for name, argv := range cfg.Remediations {
		if err := checkName("remediations", name, remediationRe, 64); err != nil {
			return nil, fmt.Errorf("hostops: %v", err)
		}
		if err := checkArgv(fmt.Sprintf("remediations.%s", name), argv); err != nil {
			return nil, err
		}
		h.remediations[name] = append([]string(nil), argv...)
	}
	switch cfg.ServiceManager {
	case "", "systemd":
		cfg.ServiceManager = "systemd"
		h.svc = &systemdManager{h: h}
	case "exec":
		em := &execManager{h: h, defs: map[string]ExecService{}}
		for name, def := range cfg.ExecServices {
			field := "exec_services." + name
			if err := checkArgv(field+".start", def.Start); err != nil {
				return nil, err
			}
			if len(def.Stop) > 0 {
				if err := checkArgv(field+".stop", def.Stop); err != nil {
					return nil, err
				}
			}
			if def.PIDFile == "" || !filepath.IsAbs(def.PIDFile) {
				return nil, fmt.Errorf("hostops: %s.pid_file: %q must be an absolute path", field, def.PIDFile)
			}
			def.PIDFile = filepath.Clean(def.PIDFile)
			em.defs[name] = def
		}
		h.svc = em
	default:
		return nil, fmt.Errorf("hostops: service_manager: %q is not one of systemd, exec", cfg.ServiceManager)
	}
	for i, s := range cfg.Services {
		if err := checkName(fmt.Sprintf("services[%d]", i), s, serviceRe, 256); err != nil {
			return nil, fmt.Errorf("hostops: %v", err)
		}
		if em, ok := h.svc.(*execManager); ok {
			if _, ok := em.defs[s]; !ok {
				return nil, fmt.Errorf("hostops: services[%d]: %q has no exec_services entry (service_manager is exec)", i, s)
			}
		}
		h.services[s] = true
	}
	for _, l := range []struct {
		field string
		in    []string
		out   map[string]bool
	}{{"config_files", cfg.ConfigFiles, h.configFiles}, {"log_files", cfg.LogFiles, h.logFiles}} {
		for i, p := range l.in {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("hostops: %s[%d]: %q must be an absolute path", l.field, i, p)
			}
			l.out[filepath.Clean(p)] = true
		}
	}
	for _, l := range []struct {
		field string
		in    *[]string
	}{{"evidence_paths", &cfg.EvidencePaths}, {"quarantine_paths", &cfg.QuarantinePaths}} {
		for i, p := range *l.in {
			if !filepath.IsAbs(p) {
				return nil, fmt.Errorf("hostops: %s[%d]: %q must be an absolute path", l.field, i, p)
			}
			(*l.in)[i] = filepath.Clean(p)
		}
	}
	if cfg.AccountRoot == "" {
		cfg.AccountRoot = "/"
	}
	if !filepath.IsAbs(cfg.AccountRoot) {
		return nil, fmt.Errorf("hostops: account_root: %q must be an absolute path", cfg.AccountRoot)
	}
	cfg.AccountRoot = filepath.Clean(cfg.AccountRoot)
	if cfg.ProtectedAccounts == nil {
		cfg.ProtectedAccounts = []string{"root"}
	}
	for _, a := range cfg.ProtectedAccounts {
		h.protected[a] = true
	}
	pm, err := detectPackageManager(cfg.PackageManager)
	if err != nil {
		return nil, err
	}
	h.pkg = pm
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.KillGrace, DefaultKillGrace}, {&cfg.ServiceSettle, DefaultServiceSettle},
		{&cfg.ExecTimeout, DefaultExecTimeout}, {&cfg.RemediationTimeout, DefaultRemediationTimeout},
		{&cfg.PackageTimeout, DefaultPackageTimeout}} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = DefaultMaxFileSize
	}
	if cfg.MaxOutput <= 0 {
		cfg.MaxOutput = DefaultMaxOutput
	}
	for _, sub := range []string{"", "quarantine", "config-backups", "accounts", "services", "evidence"} {
		d := filepath.Join(cfg.DataDir, sub)
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("hostops: data_dir: %v", err)
		}
		// Quarantined malware and config backups: nobody else reads them,
		// even if the directory existed with a looser mode.
		if err := os.Chmod(d, 0o700); err != nil {
			return nil, fmt.Errorf("hostops: data_dir: %v", err)
		}
	}
	if exe, err := os.Executable(); err == nil {
		h.self = exe
	}
	h.cfg = cfg
	return h, nil
}

func checkArgv(field string, argv []string) error {
	if len(argv) == 0 {
		return fmt.Errorf("hostops: %s: empty argv", field)
	}
	if !filepath.IsAbs(argv[0]) {
		return fmt.Errorf("hostops: %s[0]: %q must be an absolute program path (no $PATH lookup)", field, argv[0])
	}
	for i, a := range argv {
		if strings.ContainsRune(a, 0) {
			return fmt.Errorf("hostops: %s[%d]: contains a NUL byte", field, i)
		}
	}
	return nil
}

// opError carries the OpenC2 status an operation failed with.
type opError struct {
	status int
	msg    string
}

func (e *opError) Error() string { return e.msg }

func errStatus(status int, field, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	if field != "" {
		msg = field + ": " + msg
	}
	return &opError{status: status, msg: msg}
}

func errBad(field, format string, a ...any) error { return errStatus(400, field, format, a...) }
func errForbidden(field, format string, a ...any) error {
	return errStatus(403, field, format, a...)
}
func errNotFound(field, format string, a ...any) error {
	return errStatus(404, field, format, a...)
}
func errFailed(format string, a ...any) error  { return errStatus(500, "", format, a...) }
func errNotImpl(format string, a ...any) error { return errStatus(501, "", format, a...) }

func statusOf(err error) int {
	var oe *opError
	if errors.As(err, &oe) {
		return oe.status
	}
	return 500
}

// result is what an operation reports back to Handle.
type result struct {
	text     string
	details  map[string]any
	evidence []Evidence
	undo     *openc2.Command
	verified bool
}

// call is one command being handled.
type call struct {
	cmd   *openc2.Command
	meta  Meta
	xargs map[string]json.RawMessage // args["x-riposte"]
	er    map[string]json.RawMessage // args["er"]
}

type opFunc func(h *Host, ctx context.Context, c *call) (result, error)

type opSpec struct {
	fn    opFunc
	xargs []string // accepted args["x-riposte"] keys
}

// ops is the action/target table; keep README.md's mapping table equal to it.
var ops = map[string]map[string]opSpec{
	"stop": {
		"process":           {fn: (*Host).killProcess, xargs: []string{"grace_ms"}},
		"er:service":        {fn: (*Host).stopService},
		"x-riposte:service": {fn: (*Host).stopService},
	},
	"start":   {"x-riposte:service": {fn: (*Host).startService}},
	"restart": {"x-riposte:service": {fn: (*Host).restartService}},
	"contain": {"file": {fn: (*Host).quarantineFile}},
	"delete":  {"file": {fn: (*Host).quarantineFile}},
	"allow":   {"file": {fn: (*Host).restoreFile}},
	"set": {
		"er:account":            {fn: (*Host).setAccount, xargs: []string{"end_sessions"}},
		"x-riposte:config_line": {fn: (*Host).setConfigLine},
	},
	"restore":   {"x-riposte:config_line": {fn: (*Host).restoreConfigLine}},
	"remediate": {"x-riposte:remediation": {fn: (*Host).remediate}},
	"update":    {"x-riposte:package": {fn: (*Host).upgradePackage}},
	"investigate": {
		"x-riposte:evidence_file": {fn: (*Host).collectFile},
		"x-riposte:processes":     {fn: (*Host).collectProcesses},
		"x-riposte:connections":   {fn: (*Host).collectConnections},
		"x-riposte:log_lines":     {fn: (*Host).collectLogLines},
	},
}

// Pairs lists the action/target pairs Handle executes, for the runtime's
// `query features` answer.
func (h *Host) Pairs() map[string][]string {
	out := map[string][]string{}
	for a, ts := range ops {
		for t := range ts {
			out[a] = append(out[a], t)
		}
		sort.Strings(out[a])
	}
	return out
}

// Handle executes one non-firewall OpenC2 command. It never panics; every
// failure is a response with status 400, 403 (outside an allowlist), 404,
// 500 or 501 and a status_text naming the field or step at fault.
func (h *Host) Handle(ctx context.Context, cmd *openc2.Command, meta Meta) (out Outcome) {
	defer func() {
		if r := recover(); r != nil {
			out = Outcome{Response: openc2.Response{Status: 500,
				StatusText: fmt.Sprintf("internal error: %v", r)},
				Details: map[string]any{"panic": fmt.Sprint(r), "stack": string(debug.Stack())}}
		}
	}()
	if ctx == nil {
		ctx = context.Background()
	}
	if meta.Now.IsZero() {
		meta.Now = time.Now()
	}
	res, err := h.handle(ctx, cmd, meta)
	out = Outcome{Details: res.details, Evidence: res.evidence, Verified: err == nil && res.verified}
	if err != nil {
		out.Response = openc2.Response{Status: statusOf(err), StatusText: err.Error()}
	} else {
		out.Response = openc2.Response{Status: 200, StatusText: res.text}
		if res.undo != nil {
			b, uerr := json.Marshal(res.undo)
			if uerr == nil {
				uerr = openc2.ValidateCommand(b)
			}
			if uerr == nil {
				out.Undo = b
			} else {
				// An undo the validator refuses is a bug here; report it rather than send it.
				out.Details = withDetail(out.Details, "undo_error", uerr.Error())
			}
		}
	}
	if len(out.Details) > 0 {
		if b, merr := json.Marshal(out.Details); merr == nil {
			out.Response.Results = map[string]json.RawMessage{"x-riposte": b}
		}
	}
	return out
}

func withDetail(m map[string]any, k string, v any) map[string]any {
	if m == nil {
		m = map[string]any{}
	}
	m[k] = v
	return m
}

func (h *Host) handle(ctx context.Context, cmd *openc2.Command, meta Meta) (result, error) {
	if cmd == nil {
		return result{}, errBad("command", "missing")
	}
	raw, err := json.Marshal(cmd)
	if err != nil {
		return result{}, errBad("command", "cannot be encoded: %v", err)
	}
	// The runtime validated already; validating again keeps Handle safe
	// when called with a hand-built Command.
	if err := openc2.ValidateCommand(raw); err != nil {
		return result{}, errBad("", "%v", err)
	}
	spec, ok := ops[cmd.Action][cmd.Target.Name]
	if !ok {
		return result{}, errNotImpl("Target not supported: %s %s is not a host operation (supported: %s)",
			cmd.Action, cmd.Target.Name, pairList())
	}
	c := &call{cmd: cmd, meta: meta}
	if err := h.checkArgs(c, spec); err != nil {
		return result{}, err
	}
	return spec.fn(h, ctx, c)
}

func pairList() string {
	var s []string
	for a, ts := range ops {
		for t := range ts {
			s = append(s, a+" "+t)
		}
	}
	sort.Strings(s)
	return strings.Join(s, ", ")
}

// checkArgs refuses arguments a host operation cannot honour instead of
// silently ignoring them: a producer asking for a timed action must not
// believe it got one.
func (h *Host) checkArgs(c *call, spec opSpec) error {
	a := c.cmd.Args
	if a == nil {
		return nil
	}
	if a.StartTime != nil && *a.StartTime > c.meta.Now.UnixMilli() {
		return errNotImpl("Option not supported: args.start_time in the future (host operations run when received; the runtime schedules)")
	}
	if a.StopTime != nil || a.Duration != nil {
		return errNotImpl("Option not supported: args.stop_time/duration (host operations are not timed; send the undo command to revert)")
	}
	keys := make([]string, 0, len(a.Profiles))
	for k := range a.Profiles {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, ns := range keys {
		raw := a.Profiles[ns]
		switch ns {
		case "er":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return errBad("args.er", "%v", err)
			}
			for k := range m {
				switch k {
				case "account_status":
				case "downstream_device": // endpoint selection, done by the runtime
				default:
					return errNotImpl("Option not supported: args.er.%s", k)
				}
			}
			c.er = m
		case "x-riposte":
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				return errBad("args.x-riposte", "must be an object: %v", err)
			}
			for k := range m {
				// Who asked and for which incident travel with every
				// command; the runtime reads them into Meta.
				found := k == "requested_by" || k == "incident"
				for _, ok := range spec.xargs {
					found = found || k == ok
				}
				if !found {
					return errBad("args.x-riposte."+k, "unknown argument for %s %s (allowed: %s)",
						c.cmd.Action, c.cmd.Target.Name, strings.Join(spec.xargs, ", "))
				}
			}
			c.xargs = m
		default:
			return errNotImpl("Option not supported: args.%s", ns)
		}
	}
	return nil
}

// decodeTarget decodes the target value strictly: a field the operation
// does not know is refused, so a typo cannot widen or change an action.
func decodeTarget(c *call, v any) error {
	field := "target." + c.cmd.Target.Name
	if len(c.cmd.Target.Value) > 64<<10 {
		return errBad(field, "is %d bytes, limit 65536", len(c.cmd.Target.Value))
	}
	if err := decodeStrict(c.cmd.Target.Value, v); err != nil {
		return errBad(field, "%v", err)
	}
	return nil
}

func decodeStrict(raw json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}

func boolArg(c *call, name string) (bool, error) {
	raw, ok := c.xargs[name]
	if !ok {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err != nil {
		return false, errBad("args.x-riposte."+name, "must be a boolean")
	}
	return b, nil
}

// mustJSON encodes a target value built from checked fields.
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only called with plain structs and maps
	}
	return b
}

func undoCmd(action, target string, value any, args *openc2.Args) *openc2.Command {
	return &openc2.Command{Action: action, Target: openc2.Target{Name: target, Value: mustJSON(value)}, Args: args}
}
