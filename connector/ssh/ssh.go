// Package ssh is the ssh connector: it runs one allowlisted command on a
// host over SSH per playbook step.
//
// Playbooks never send a command line. They name a command from the
// server-side allowlist (the config's commands) and give values for its
// declared parameters; each value must match its parameter's RE2 pattern
// and becomes exactly one argv element. Because SSH carries a string, the
// argv is turned into a command line by quoting every element for a POSIX
// shell (single quotes, ' written as '\”), so no value can add an
// argument or shell syntax. Host keys must be in the configured
// known_hosts file: an unknown or changed key is refused.
package ssh

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"github.com/riposte-soar/riposte/internal/hostname"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Name is the connector's name in playbooks.
const Name = "ssh"

var spec = connector.Spec{
	Name:        Name,
	Description: "Runs an allowlisted command (a fixed argv with checked parameters) on a host with a known SSH host key.",
	Operations: map[string]connector.Operation{
		"run": {
			Description: "Run the named allowlisted command on host; args fill its parameters, each as one argv element. A non-zero exit fails the step.",
			Args: map[string]connector.ArgSpec{
				"host":    {Type: "string", Required: true, Description: "host name or IP address; its key must be in the connector's known_hosts"},
				"command": {Type: "string", Required: true, Description: "name of a command in the connector's allowlist"},
				"args":    {Type: "strings", Description: "values of the command's parameters, in the order they first appear in its argv; each must match the parameter's pattern"},
			},
			Outputs: map[string]string{
				"exit_status":      "the remote command's exit status",
				"stdout":           "standard output, cut to max_output_bytes",
				"stderr":           "standard error, cut to max_output_bytes",
				"stdout_truncated": "true when stdout was cut",
				"stderr_truncated": "true when stderr was cut",
				"argv":             "the argv run (also returned by the dry run)",
			},
			Idempotent: false,
			Reversible: "",
		},
		"run_argv": {
			Description: "Run the allowlisted command whose argv, with its parameters filled in, is exactly argv (how CACAO ssh commands run: the command line split into words, variables substituted inside their word). Nothing outside the allowlist runs.",
			Args: map[string]connector.ArgSpec{
				"host": {Type: "string", Required: true, Description: "host name or IP address; its key must be in the connector's known_hosts"},
				"argv": {Type: "strings", Required: true, Description: "the command's words; each must equal an allowlisted argv element or fill its parameters"},
				"port": {Type: "string", Description: "the target's port; must be the connector's port when given"},
			},
			Outputs:    map[string]string{"exit_status": "as run", "stdout": "as run", "stderr": "as run", "stdout_truncated": "as run", "stderr_truncated": "as run", "argv": "as run"},
			Idempotent: false,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	cfg  Config
	cmds map[string]*command
	// dial connects; tests may replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// New validates the config and makes the connector.
func New(cfg Config) (*Connector, error) {
	cfg = cfg.withDefaults()
	cmds, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	d := &net.Dialer{KeepAlive: 30 * time.Second}
	return &Connector{cfg: cfg, cmds: cmds, dial: d.DialContext}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// job is a validated call.
type job struct {
	host    string
	addr    string // host:port
	command string
	argv    []string
	line    string // the quoted command line sent
}

func bad(format string, a ...any) error {
	return connector.Errorf(connector.Permanent, "ssh.run: "+format, a...)
}

// prepare validates a call without any side effect: the operation, the
// arguments, the allowlist, the patterns, the host and that its key is
// known, and the credentials.
func (c *Connector) prepare(call connector.Call) (*job, error) {
	if call.Operation == "run_argv" {
		run, err := c.matchArgv(call)
		if err != nil {
			return nil, err
		}
		call = run
	}
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return nil, connector.Errorf(connector.Permanent, "ssh: unknown operation %q (want run)", limit.Text(call.Operation, 64))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return nil, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("ssh.run: %w", err)}
	}
	name := call.Args["command"].(string)
	cmd, ok := c.cmds[name]
	if !ok {
		return nil, bad("command %q is not in the allowlist", limit.Text(name, 64))
	}
	var vals []string
	switch x := call.Args["args"].(type) {
	case []string:
		vals = x
	case []any:
		for _, v := range x {
			vals = append(vals, v.(string)) // CheckArgs made sure
		}
	}
	if len(vals) > maxArgs {
		return nil, bad("%d args, over the limit of %d", len(vals), maxArgs)
	}
	if len(vals) != len(cmd.order) {
		return nil, bad("command %s takes %d arg(s) (%s), got %d", name, len(cmd.order), strings.Join(cmd.order, ", "), len(vals))
	}
	byName := map[string]string{}
	for i, p := range cmd.order {
		v := vals[i]
		switch {
		case len(v) > maxValueBytes:
			return nil, bad("command %s: %s is %d bytes, over the limit of %d", name, p, len(v), maxValueBytes)
		case containsNUL(v):
			return nil, bad("command %s: %s contains NUL", name, p)
		case !cmd.re[p].MatchString(v):
			return nil, bad("command %s: %s %q does not match its pattern", name, p, limit.Text(v, 64))
		}
		byName[p] = v
	}
	argv := make([]string, len(cmd.argv))
	for i, a := range cmd.argv {
		// One pass over the template: a value is never scanned for
		// placeholders itself.
		argv[i] = placeholderRE.ReplaceAllStringFunc(a, func(m string) string {
			return byName[m[1:len(m)-1]]
		})
	}
	rawHost := call.Args["host"].(string)
	host, err := hostname.Check(rawHost)
	if err != nil {
		return nil, bad("host %q: %v", limit.Text(rawHost, 64), err)
	}
	j := &job{
		host:    host,
		addr:    net.JoinHostPort(host, strconv.Itoa(c.cfg.Port)),
		command: name,
		argv:    argv,
		line:    QuoteArgv(argv),
	}
	if err := c.known(j.addr); err != nil {
		return nil, err
	}
	if _, err := c.cfg.signer(); err != nil {
		return nil, bad("%v", err)
	}
	return j, nil
}

// matchArgv turns a run_argv call into the run call of the allowlisted
// command whose argv it is (commands tried in name order, the first that
// matches wins); run's checks then apply to the values found.
func (c *Connector) matchArgv(call connector.Call) (connector.Call, error) {
	op := spec.Operations["run_argv"]
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return call, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("ssh.run_argv: %w", err)}
	}
	var argv []string
	switch x := call.Args["argv"].(type) {
	case []string:
		argv = x
	case []any:
		for _, v := range x {
			argv = append(argv, v.(string)) // CheckArgs made sure
		}
	}
	if p, ok := call.Args["port"].(string); ok && p != "" && p != strconv.Itoa(c.cfg.Port) {
		return call, connector.Errorf(connector.Permanent, "ssh.run_argv: the target's port %s is not the connector's port %d", limit.Text(p, 16), c.cfg.Port)
	}
	if len(argv) == 0 || len(argv) > maxArgs {
		return call, connector.Errorf(connector.Permanent, "ssh.run_argv: argv has %d words, want 1 to %d", len(argv), maxArgs)
	}
	names := make([]string, 0, len(c.cmds))
	for n := range c.cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if vals, ok := c.cmds[n].fill(argv); ok {
			args := make([]any, len(vals))
			for i, v := range vals {
				args[i] = v
			}
			run := call
			run.Operation = "run"
			run.Args = map[string]any{"host": call.Args["host"], "command": n, "args": args}
			return run, nil
		}
	}
	return call, connector.Errorf(connector.Permanent, "ssh.run_argv: %s matches no allowlisted command (the connector's commands)", limit.Text(QuoteArgv(argv), 200))
}

// fill returns the parameter values (in cmd.order) that make cmd's argv
// equal argv, or false.
func (cmd *command) fill(argv []string) ([]string, bool) {
	if len(argv) != len(cmd.match) {
		return nil, false
	}
	got := map[string]string{}
	for i, m := range cmd.match {
		sub := m.re.FindStringSubmatch(argv[i])
		if sub == nil {
			return nil, false
		}
		for k, p := range m.params {
			v := sub[m.groups[k]]
			if prev, seen := got[p]; seen && prev != v {
				return nil, false
			}
			if !cmd.re[p].MatchString(v) {
				return nil, false
			}
			got[p] = v
		}
	}
	vals := make([]string, len(cmd.order))
	for i, p := range cmd.order {
		vals[i] = got[p]
	}
	return vals, true
}

// probeKey is a key no host has: checking it against known_hosts tells
// whether the host has an entry at all.
var probeKey, _ = xssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))

// known refuses a host without a known_hosts entry, before any connection.
func (c *Connector) known(addr string) error {
	cb, err := knownhosts.New(c.cfg.KnownHosts)
	if err != nil {
		return bad("known_hosts: %v", err)
	}
	err = cb(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey)
	var ke *knownhosts.KeyError
	if errors.As(err, &ke) && len(ke.Want) == 0 {
		return bad("host %s is not in known_hosts: refused", addr)
	}
	return nil
}

// QuoteArgv renders argv as a POSIX shell command line: every element in
// single quotes, a single quote written as '\”. The remote shell then
// passes each element to the program as one argument, whatever it holds.
func QuoteArgv(argv []string) string {
	var b strings.Builder
	for i, a := range argv {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteByte('\'')
		b.WriteString(strings.ReplaceAll(a, "'", `'\''`))
		b.WriteByte('\'')
	}
	return b.String()
}

func (c *Connector) commandLine(j *job) string {
	return limit.Text("ssh "+c.cfg.User+"@"+j.addr+" -- "+j.line, limit.Command)
}

// Simulate validates the call and returns the argv it would run, without
// connecting.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Outputs:  map[string]any{"argv": j.argv, "host": j.host, "port": c.cfg.Port, "user": c.cfg.User, "command_line": j.line},
		Summary:  limit.Text("would run "+j.command+" on "+j.host, limit.Command),
		Commands: []string{c.commandLine(j)},
	}, nil
}

// capped keeps the first max bytes written and counts the rest.
type capped struct {
	buf   bytes.Buffer
	max   int
	total int
}

func (w *capped) Write(p []byte) (int, error) {
	w.total += len(p)
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *capped) text() (string, bool) {
	b := w.buf.Bytes()
	cut := w.total > len(b)
	if cut {
		// Do not end on half a rune.
		for n := 0; n < utf8.UTFMax && len(b) > 0 && !utf8.Valid(b); n++ {
			b = b[:len(b)-1]
		}
	}
	return strings.ToValidUTF8(string(b), "\uFFFD"), cut
}

// Execute runs the command.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	signer, err := c.cfg.signer()
	if err != nil {
		return connector.Result{}, bad("%v", err)
	}
	hostKeys, err := knownhosts.New(c.cfg.KnownHosts)
	if err != nil {
		return connector.Result{}, bad("known_hosts: %v", err)
	}
	where := j.command + " on " + j.host
	res := connector.Result{Commands: []string{c.commandLine(j)}}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()

	conn, err := c.dial(ctx, "tcp", j.addr)
	if err != nil {
		var dnsErr *net.DNSError
		if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			return res, bad("%s: %v", where, err)
		}
		return res, connector.Errorf(connector.Transient, "ssh.run: %s: connect: %v", where, err)
	}
	defer conn.Close()
	// The handshake honours the call's deadline; a cancelled context
	// closes the connection.
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	var hostKeyErr error
	cfg := &xssh.ClientConfig{
		User: c.cfg.User,
		Auth: []xssh.AuthMethod{xssh.PublicKeys(signer)},
		HostKeyCallback: func(hostname string, remote net.Addr, key xssh.PublicKey) error {
			err := hostKeys(hostname, remote, key)
			if err != nil {
				hostKeyErr = err
			}
			return err
		},
		ClientVersion: "SSH-2.0-riposte",
	}
	sc, chans, reqs, err := xssh.NewClientConn(conn, j.addr, cfg)
	if err != nil {
		switch {
		case hostKeyErr != nil:
			var ke *knownhosts.KeyError
			if errors.As(hostKeyErr, &ke) && len(ke.Want) > 0 {
				return res, bad("%s: host key does not match known_hosts: refused", where)
			}
			return res, bad("%s: host key refused: %v", where, hostKeyErr)
		case strings.Contains(err.Error(), "unable to authenticate"):
			return res, bad("%s: authentication as %s refused", where, c.cfg.User)
		case ctx.Err() != nil:
			return res, connector.Errorf(connector.Transient, "ssh.run: %s: timed out before the command was sent", where)
		}
		return res, connector.Errorf(connector.Transient, "ssh.run: %s: handshake: %v", where, err)
	}
	client := xssh.NewClient(sc, chans, reqs)
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		if ctx.Err() != nil {
			return res, connector.Errorf(connector.Transient, "ssh.run: %s: timed out before the command was sent", where)
		}
		return res, connector.Errorf(connector.Transient, "ssh.run: %s: opening a session: %v", where, err)
	}
	defer sess.Close()
	stdout := &capped{max: c.cfg.MaxOutputBytes}
	stderr := &capped{max: c.cfg.MaxOutputBytes}
	sess.Stdout, sess.Stderr = stdout, stderr

	// From here on the command may have run.
	if err := sess.Start(j.line); err != nil {
		if strings.HasPrefix(err.Error(), "ssh: command ") && strings.HasSuffix(err.Error(), " failed") {
			return res, bad("%s: the server refused to run the command", where)
		}
		return res, connector.Errorf(connector.Unknown, "ssh.run: %s: sending the command: %v", where, err)
	}
	var timedOut atomic.Bool
	stopWait := context.AfterFunc(ctx, func() { timedOut.Store(true); client.Close() })
	err = sess.Wait()
	stopWait()

	outText, outCut := stdout.text()
	errText, errCut := stderr.text()
	res.Outputs = map[string]any{
		"argv":             j.argv,
		"stdout":           outText,
		"stderr":           errText,
		"stdout_truncated": outCut,
		"stderr_truncated": errCut,
	}
	var exitErr *xssh.ExitError
	switch {
	case err == nil:
		res.Outputs["exit_status"] = 0
		res.Summary = limit.Text("ran "+where+": exit 0", limit.Command)
		return res, nil
	case timedOut.Load():
		return res, connector.Errorf(connector.Unknown, "ssh.run: %s: timed out after %s, after the command was sent", where, c.cfg.Timeout)
	case errors.As(err, &exitErr):
		res.Outputs["exit_status"] = exitErr.ExitStatus()
		res.Summary = limit.Text(fmt.Sprintf("ran %s: exit %d", where, exitErr.ExitStatus()), limit.Command)
		if exitErr.Signal() != "" {
			return res, bad("%s: killed by signal %s", where, exitErr.Signal())
		}
		return res, bad("%s: exit status %d", where, exitErr.ExitStatus())
	}
	return res, connector.Errorf(connector.Unknown, "ssh.run: %s: %v", where, err)
}
