// Package agent is the connector through which playbooks act on hosts via
// their Riposte agents. Containment (block an address, isolate a host) is
// recorded as a decision, which the agents enforce and keep enforcing;
// everything else is one signed OpenC2 command to the host's agent. Every
// operation reports what the agent verified, not merely that a command
// was sent, and says how to undo it.
package agent

import (
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/openc2"
)

// SampleConfig is the part of riposte.yaml the connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "agent"

// Config configures the connector.
type Config struct {
	// Wait is how long a call waits for the agents' answers (default 5s).
	Wait time.Duration `yaml:"wait"`
	// Remediations is the server's allowlist: a name to a fixed argv
	// (absolute program path first), sent in the signed command. Nothing
	// from a playbook, event or alert is added to it.
	Remediations map[string][]string `yaml:"remediations"`
}

// Fleet is what the connector needs of the server's agent management.
type Fleet interface {
	ByHost(hostname string) (fleet.Agent, bool)
	Send(ctx context.Context, agentID, commandID string, cmd json.RawMessage, by fleet.Requester) (protocol.Result, *openc2.Response, error)
	Await(ctx context.Context, d decision.Decision, active bool) []fleet.Outcome
}

// Decisions is the decision store.
type Decisions interface {
	Add(ctx context.Context, d decision.Decision, ttl time.Duration, now time.Time) (decision.Decision, error)
	Revert(ctx context.Context, id, actor, reason string, now time.Time) (decision.Decision, error)
	List(ctx context.Context, all bool, now time.Time) ([]decision.Decision, error)
}

// Connector implements connector.Connector.
type Connector struct {
	fleet        Fleet
	decisions    Decisions
	wait         time.Duration
	remediations map[string][]string
}

// New makes the connector.
func New(f Fleet, d Decisions, cfg Config) (*Connector, error) {
	if cfg.Wait <= 0 {
		cfg.Wait = 5 * time.Second
	}
	for name, argv := range cfg.Remediations {
		if len(argv) == 0 || !strings.HasPrefix(argv[0], "/") {
			return nil, fmt.Errorf("remediations.%s: the argv must start with an absolute program path", name)
		}
		for _, a := range argv {
			if strings.ContainsRune(a, 0) {
				return nil, fmt.Errorf("remediations.%s: an argument contains a NUL byte", name)
			}
		}
	}
	return &Connector{fleet: f, decisions: d, wait: cfg.Wait, remediations: cfg.Remediations}, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := connector.Spec{Name: Name, Description: "Acts on hosts through their Riposte agents (OpenC2): blocks, isolation, host fixes, evidence.",
		Operations: map[string]connector.Operation{}, SampleConfig: SampleConfig}
	for name, op := range netOps {
		s.Operations[name] = op
	}
	for name, op := range hostOps {
		s.Operations[name] = op.Operation
	}
	return s
}

var netOps = map[string]connector.Operation{
	"block_ip": {Description: "Block an address or network (both directions) on every agent, or on one host; recorded as a decision with an expiry (repeat offenders get longer bans).",
		Args: map[string]connector.ArgSpec{
			"address": {Type: "string", Required: true, Description: "IPv4/IPv6 address or CIDR"},
			"host":    {Type: "string", Description: "only on this host's agent (default: every agent)"},
			"ttl":     {Type: "string", Description: "duration like 1h, or until_reverted (default: the repeat-offender schedule)"},
			"reason":  {Type: "string", Description: "why (default: the playbook run)"},
		},
		Outputs:    map[string]string{"decision": "decision id", "rule": "SLPF rule number", "expires": "when it lifts", "offense": "nth ban of this target", "verified": "every enforcing agent read the rule back from nftables", "agents": "each agent's answer"},
		Idempotent: true, Reversible: "unblock_ip"},
	"unblock_ip": {Description: "Lift the active blocks of an address (or one decision).",
		Args: map[string]connector.ArgSpec{
			"address":  {Type: "string", Description: "address or CIDR whose active blocks are lifted"},
			"decision": {Type: "string", Description: "one decision id"},
			"host":     {Type: "string", Description: "only the blocks scoped to this host"},
			"reason":   {Type: "string", Description: "why"},
		},
		Outputs: map[string]string{"reverted": "decision ids lifted", "verified": "every agent confirmed"}, Idempotent: true},
	"isolate_host": {Description: "Isolate a host: its agent drops all traffic but the channel to Riposte (and configured permitted addresses); recorded as a decision.",
		Args: map[string]connector.ArgSpec{
			"host":   {Type: "string", Required: true, Description: "the host"},
			"ttl":    {Type: "string", Description: "duration, or until_reverted (default)"},
			"reason": {Type: "string", Description: "why"},
		},
		Outputs:    map[string]string{"decision": "decision id", "verified": "the agent found its isolation table in nftables"},
		Idempotent: true, Reversible: "release_host"},
	"release_host": {Description: "Lift a host's isolation.",
		Args: map[string]connector.ArgSpec{
			"host":   {Type: "string", Required: true, Description: "the host"},
			"reason": {Type: "string", Description: "why"},
		},
		Outputs: map[string]string{"reverted": "decision ids lifted", "verified": "the agent confirmed"}, Idempotent: true},
	"quarantine_segment": {Description: "Quarantine a network segment, or one host by address, at the gateway agents in front of it: routed traffic from and to it is dropped except from/to the SOC (agents.permitted) and the Riposte server; recorded as a decision.",
		Args: map[string]connector.ArgSpec{
			"segment": {Type: "string", Required: true, Description: "CIDR of the segment, or one address"},
			"gateway": {Type: "string", Description: "only this gateway's agent (default: every gateway declaring a segment that overlaps it)"},
			"ttl":     {Type: "string", Description: "duration, or until_reverted (default)"},
			"reason":  {Type: "string", Description: "why"},
		},
		Outputs:    map[string]string{"decision": "decision id", "rule": "rule number", "verified": "every gateway read its quarantine rules back from nftables", "agents": "each gateway's answer"},
		Idempotent: true, Reversible: "release_segment"},
	"release_segment": {Description: "Lift the quarantine of a segment (or one decision).",
		Args: map[string]connector.ArgSpec{
			"segment":  {Type: "string", Description: "CIDR or address whose quarantines are lifted"},
			"decision": {Type: "string", Description: "one decision id"},
			"reason":   {Type: "string", Description: "why"},
		},
		Outputs: map[string]string{"reverted": "decision ids lifted", "verified": "every gateway confirmed"}, Idempotent: true},
	"command": {Description: "Send one OpenC2 command to a host's agent as is (validated first).",
		Args: map[string]connector.ArgSpec{
			"host":    {Type: "string", Required: true, Description: "the host"},
			"command": {Type: "map", Required: true, Description: "the OpenC2 command"},
		},
		Outputs: map[string]string{"status": "OpenC2 status", "results": "OpenC2 results"}},
}

// Execute performs a call.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.do(ctx, call, false)
}

// Simulate validates a call and says what it would send.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.do(ctx, call, true)
}

func (c *Connector) do(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	op, ok := c.Spec().Operations[call.Operation]
	if !ok {
		return connector.Result{}, connector.Errorf(connector.Permanent, "agent has no operation %q", call.Operation)
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	switch call.Operation {
	case "block_ip":
		return c.block(ctx, call, dry)
	case "unblock_ip":
		return c.unblock(ctx, call, dry)
	case "isolate_host":
		return c.isolate(ctx, call, dry)
	case "release_host":
		return c.release(ctx, call, dry)
	case "quarantine_segment":
		return c.quarantine(ctx, call, dry)
	case "release_segment":
		return c.releaseSegment(ctx, call, dry)
	case "command":
		b, _ := json.Marshal(call.Args["command"])
		if err := notContainment(b); err != nil {
			return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
		}
		return c.send(ctx, call, str(call.Args, "host"), b, dry, nil)
	}
	h := hostOps[call.Operation]
	if call.Operation == "remediate" {
		h.build = c.remediation
	}
	host := str(call.Args, "host")
	if err := checkHost(host); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	cmd, err := h.build(call)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	return c.send(ctx, call, host, b, dry, h.undo)
}

func str(args map[string]any, k string) string {
	s, _ := args[k].(string)
	return strings.TrimSpace(s)
}

// checkHost refuses host names that could not be a host: they come from
// alerts, so they are untrusted.
func checkHost(h string) error {
	if h == "" || len(h) > 253 {
		return fmt.Errorf("host %q: must be 1..253 characters", h)
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return fmt.Errorf("host %q: only letters, digits, '-', '.', '_' are allowed", h)
		}
	}
	return nil
}

func parseTTL(s string, untilRevertedDefault bool) (time.Duration, error) {
	switch s {
	case "":
		if untilRevertedDefault {
			return -1, nil
		}
		return 0, nil
	case "until_reverted":
		return -1, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("ttl %q: want a positive duration like 1h, or until_reverted", s)
	}
	return d, nil
}

func (c *Connector) reason(call connector.Call) string {
	if r := str(call.Args, "reason"); r != "" {
		return r
	}
	return "playbook run " + call.RunID + " step " + call.StepID
}

func owner(call connector.Call) string { return "playbook:" + call.RunID }

// summarize turns the agents' answers into the result and its error class.
func summarize(what string, d decision.Decision, outs []fleet.Outcome, active bool) (bool, string, error) {
	if len(outs) == 0 {
		return false, what + ": recorded; no enrolled agent enforces it yet (it applies when one connects)", nil
	}
	verified, failed, bad := 0, 0, []string{}
	for _, o := range outs {
		switch {
		case o.Status == 200 && (o.Verified || !active):
			verified++
		case o.Status == 404 && !active:
			verified++ // already gone
		case o.Status == 0:
			bad = append(bad, o.Hostname+": no answer yet")
		default:
			failed++
			bad = append(bad, fmt.Sprintf("%s: %d %s", o.Hostname, o.Status, o.Text))
		}
	}
	if len(bad) == 0 {
		return true, fmt.Sprintf("%s: verified on %d agent(s)", what, verified), nil
	}
	msg := fmt.Sprintf("%s: decision %s recorded, verified on %d of %d agent(s); %s", what, d.ID, verified, len(outs), strings.Join(bad, "; "))
	if failed == 0 {
		// Only silence: the decision is held and silent agents are
		// brought in line at their next heartbeat. The step succeeds,
		// unverified, rather than being retried.
		return false, msg, nil
	}
	// An agent answered that it could not apply it: a retry (the same
	// idempotency key, so the same decision) announces it again.
	return false, msg, connector.Errorf(connector.Transient, "%s", msg)
}

func (c *Connector) block(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	addr := str(call.Args, "address")
	p, err := parseNet(addr)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "address: %v", err)
	}
	host := str(call.Args, "host")
	if host != "" {
		if err := checkHost(host); err != nil {
			return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
		}
	}
	ttl, err := parseTTL(str(call.Args, "ttl"), false)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	d := decision.Decision{Kind: decision.DenyIP, Target: p.String(), Host: host, Owner: owner(call), Reason: c.reason(call), Incident: call.Incident, Key: decisionKey(call, "deny_ip", p.String(), host)}
	if dry {
		cmd, _ := fleet.DecisionCommand(decision.Decision{ID: "dry-run", Kind: decision.DenyIP, Target: p.String(), Rule: 1}, true, nil)
		return connector.Result{Summary: "would block " + p.String() + scope(host), Commands: []string{string(cmd)},
			Outputs: map[string]any{"decision": "", "verified": false}}, nil
	}
	d, err = c.decisions.Add(ctx, d, ttl, time.Now().UTC())
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "decision: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	outs := c.fleet.Await(wctx, d, true)
	cancel()
	verified, summary, err := summarize("block "+d.Target+scope(host), d, outs, true)
	exp := ""
	if !d.Expires.IsZero() {
		exp = d.Expires.Format(time.RFC3339)
	}
	cmd, _ := fleet.DecisionCommand(d, true, nil)
	return connector.Result{Summary: summary, Commands: []string{string(cmd)},
		Outputs: map[string]any{"decision": d.ID, "rule": d.Rule, "expires": exp, "offense": d.Offense, "verified": verified, "agents": outs},
		Undo: &connector.Undo{Connector: Name, Operation: "unblock_ip", Args: map[string]any{"decision": d.ID, "reason": "recovery"},
			Summary: "unblock " + d.Target + scope(host)}}, err
}

// decisionKey names what one step decides, the same across the step's
// retries and crash recoveries (so a retry neither makes a second decision
// nor counts as a second offense) and different for each target a step in
// a loop blocks.
func decisionKey(call connector.Call, kind, target, host string) string {
	if call.RunID == "" {
		return ""
	}
	return call.RunID + "/" + call.StepID + "/" + kind + "/" + target + "/" + strings.ToLower(host)
}

func scope(host string) string {
	if host == "" {
		return " on every agent"
	}
	return " on " + host
}

func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an IP address or CIDR", s)
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}

// revertWhere lifts the active decisions matching keep, waiting for the
// agents' confirmations.
func (c *Connector) revertWhere(ctx context.Context, call connector.Call, what string, dry bool, keep func(decision.Decision) bool) (connector.Result, error) {
	now := time.Now().UTC()
	ds, err := c.decisions.List(ctx, false, now)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Transient, "decisions: %v", err)
	}
	var match []decision.Decision
	for _, d := range ds {
		if keep(d) {
			match = append(match, d)
		}
	}
	if dry {
		return connector.Result{Summary: fmt.Sprintf("would lift %d decision(s) for %s", len(match), what), Outputs: map[string]any{"reverted": []string{}}}, nil
	}
	if len(match) == 0 {
		return connector.Result{Summary: what + ": nothing active to lift", Outputs: map[string]any{"reverted": []string{}, "verified": true}}, nil
	}
	var ids []string
	allOK := true
	var msgs []string
	var lastErr error
	for _, d := range match {
		r, err := c.decisions.Revert(ctx, d.ID, owner(call), c.reason(call), now)
		if errors.Is(err, decision.ErrReverted) || errors.Is(err, decision.ErrNotFound) {
			continue // reverted meanwhile: the goal holds
		}
		if err != nil {
			return connector.Result{Outputs: map[string]any{"reverted": ids, "verified": false}}, connector.Errorf(connector.Transient, "revert %s: %v", d.ID, err)
		}
		ids = append(ids, r.ID)
		wctx, cancel := context.WithTimeout(ctx, c.wait)
		outs := c.fleet.Await(wctx, r, false)
		cancel()
		ok, msg, err := summarize("lift "+r.Target, r, outs, false)
		allOK = allOK && ok
		msgs = append(msgs, msg)
		if err != nil {
			lastErr = err
		}
	}
	return connector.Result{Summary: strings.Join(msgs, "; "), Outputs: map[string]any{"reverted": ids, "verified": allOK}}, lastErr
}

func (c *Connector) unblock(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	id, addr, host := str(call.Args, "decision"), str(call.Args, "address"), str(call.Args, "host")
	if id == "" && addr == "" {
		return connector.Result{}, connector.Errorf(connector.Permanent, "give address or decision")
	}
	var target string
	if addr != "" {
		p, err := parseNet(addr)
		if err != nil {
			return connector.Result{}, connector.Errorf(connector.Permanent, "address: %v", err)
		}
		target = p.String()
	}
	return c.revertWhere(ctx, call, "unblock "+addr+id, dry, func(d decision.Decision) bool {
		if d.Kind != decision.DenyIP {
			return false
		}
		if id != "" {
			return d.ID == id
		}
		return d.Target == target && (host == "" || strings.EqualFold(d.Host, host))
	})
}

func (c *Connector) isolate(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	host := str(call.Args, "host")
	if err := checkHost(host); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	ttl, err := parseTTL(str(call.Args, "ttl"), true)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	if dry {
		cmd, _ := fleet.DecisionCommand(decision.Decision{ID: "dry-run", Kind: decision.ContainHost, Target: host, Rule: 1}, true, nil)
		return connector.Result{Summary: "would isolate " + host, Commands: []string{string(cmd)}, Outputs: map[string]any{"decision": "", "verified": false}}, nil
	}
	if _, ok := c.fleet.ByHost(host); !ok {
		return connector.Result{}, connector.Errorf(connector.Permanent, "no enrolled agent on host %s: it cannot be isolated", host)
	}
	d, err := c.decisions.Add(ctx, decision.Decision{Kind: decision.ContainHost, Target: host, Owner: owner(call), Reason: c.reason(call), Incident: call.Incident, Key: decisionKey(call, "contain_host", host, "")}, ttl, time.Now().UTC())
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "decision: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	outs := c.fleet.Await(wctx, d, true)
	cancel()
	verified, summary, err := summarize("isolate "+host, d, outs, true)
	return connector.Result{Summary: summary, Outputs: map[string]any{"decision": d.ID, "verified": verified, "agents": outs},
		Undo: &connector.Undo{Connector: Name, Operation: "release_host", Args: map[string]any{"host": host, "reason": "recovery"}, Summary: "release " + host}}, err
}

func (c *Connector) release(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	host := str(call.Args, "host")
	if err := checkHost(host); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	return c.revertWhere(ctx, call, "release "+host, dry, func(d decision.Decision) bool {
		return d.Kind == decision.ContainHost && strings.EqualFold(d.Target, host)
	})
}

// commandID is stable across retries of one step attempt, so the agent
// answers a retried command from its record instead of acting twice; a
// hash keeps it short and safe as a file name on the host.
func commandID(call connector.Call) string {
	k := call.IdempotencyKey
	if k == "" {
		k = call.RunID + "/" + call.StepID
	}
	h := sha256.Sum256([]byte(k))
	return "pb-" + hex.EncodeToString(h[:16])
}

// send validates and sends one OpenC2 command to a host's agent.
func (c *Connector) send(ctx context.Context, call connector.Call, host string, cmd json.RawMessage, dry bool, undo func(connector.Call, *openc2.Response) *connector.Undo) (connector.Result, error) {
	if err := checkHost(host); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	if err := openc2.ValidateCommand(cmd); err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	if dry {
		return connector.Result{Summary: "would send to the agent on " + host, Commands: []string{string(cmd)}}, nil
	}
	a, ok := c.fleet.ByHost(host)
	if !ok {
		return connector.Result{}, connector.Errorf(connector.Permanent, "no enrolled agent on host %s", host)
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait+opWait(call.Operation))
	defer cancel()
	r, rsp, err := c.fleet.Send(wctx, a.ID, commandID(call), cmd, fleet.Requester{Actor: owner(call), Incident: call.Incident})
	if errors.Is(err, fleet.ErrOffline) {
		return connector.Result{Commands: []string{string(cmd)}}, connector.Errorf(connector.Unknown, "%v", err)
	}
	if err != nil {
		return connector.Result{Commands: []string{string(cmd)}}, connector.Errorf(connector.Transient, "%v", err)
	}
	results := map[string]any{}
	for k, v := range rsp.Results {
		var x any
		_ = json.Unmarshal(v, &x)
		results[k] = x
	}
	out := map[string]any{"status": rsp.Status, "results": results, "agent": a.ID}
	if len(r.Evidence) > 0 {
		out["evidence"] = r.Evidence
	}
	res := connector.Result{Outputs: out, Commands: []string{string(cmd)},
		Summary: fmt.Sprintf("%s on %s: %d %s", call.Operation, host, rsp.Status, rsp.StatusText)}
	switch {
	case rsp.Status == 200:
		if undo != nil {
			res.Undo = undo(call, rsp)
		}
		return res, nil
	case rsp.Status == 503 || rsp.Status == 500:
		return res, connector.Errorf(connector.Transient, "agent on %s: %d %s", host, rsp.Status, rsp.StatusText)
	default:
		return res, connector.Errorf(connector.Permanent, "agent on %s: %d %s", host, rsp.Status, rsp.StatusText)
	}
}

// remediation names a remediation, with its argv when the server's
// allowlist has it; the agent's own allowlist decides otherwise.
func (c *Connector) remediation(call connector.Call) (map[string]any, error) {
	n, err := reqStr(call, "name")
	if err != nil {
		return nil, err
	}
	t := map[string]any{"name": n}
	if argv, ok := c.remediations[n]; ok {
		t["argv"] = argv
	}
	return cmd(call, "remediate", map[string]any{"x-riposte:remediation": t}, nil), nil
}

// notContainment refuses raw commands that change what the agents enforce
// from decisions: the agent would undo them at its next heartbeat, since a
// host's firewall equals the decisions Riposte holds.
func notContainment(cmd json.RawMessage) error {
	var c struct {
		Action string                     `json:"action"`
		Target map[string]json.RawMessage `json:"target"`
	}
	_ = json.Unmarshal(cmd, &c)
	for t := range c.Target {
		switch {
		case (c.Action == "deny" || c.Action == "allow") && (strings.HasSuffix(t, "_net") || strings.HasSuffix(t, "_connection")),
			c.Action == "delete" && t == "slpf:rule_number",
			(c.Action == "contain" || c.Action == "allow") && (t == "device" || t == fleet.SegmentTarget):
			return fmt.Errorf("%s %s is containment, held as a decision: use block_ip, unblock_ip, isolate_host, release_host, quarantine_segment or release_segment", c.Action, t)
		}
	}
	return nil
}

// opWait is how long an operation may take on the host beyond the usual
// wait: upgrades, remediations and uploads are slow, and a call that gives
// up too early leaves its outcome unknown.
func opWait(op string) time.Duration {
	switch {
	case op == "upgrade_package":
		return 16 * time.Minute // the agent's package_timeout is 15m
	case op == "remediate":
		return 6 * time.Minute // remediation_timeout 5m
	case strings.HasPrefix(op, "collect_"):
		return 11 * time.Minute // upload timeout 10m
	case op == "stop_service" || op == "start_service" || op == "restart_service":
		return 3 * time.Minute // exec_timeout 2m
	}
	return 30 * time.Second
}

func (c *Connector) quarantine(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	p, err := parseNet(str(call.Args, "segment"))
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "segment: %v", err)
	}
	gw := str(call.Args, "gateway")
	if gw != "" {
		if err := checkHost(gw); err != nil {
			return connector.Result{}, connector.Errorf(connector.Permanent, "gateway: %v", err)
		}
	}
	ttl, err := parseTTL(str(call.Args, "ttl"), true)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "%v", err)
	}
	where := " at every gateway in front of it"
	if gw != "" {
		where = " at " + gw
	}
	if dry {
		cmd, _ := fleet.DecisionCommand(decision.Decision{ID: "dry-run", Kind: decision.ContainSegment, Target: p.String(), Rule: 1}, true, nil)
		return connector.Result{Summary: "would quarantine " + p.String() + where, Commands: []string{string(cmd)}, Outputs: map[string]any{"decision": "", "verified": false}}, nil
	}
	d, err := c.decisions.Add(ctx, decision.Decision{Kind: decision.ContainSegment, Target: p.String(), Host: gw, Owner: owner(call), Reason: c.reason(call),
		Incident: call.Incident, Key: decisionKey(call, decision.ContainSegment, p.String(), gw)}, ttl, time.Now().UTC())
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "decision: %v", err)
	}
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	outs := c.fleet.Await(wctx, d, true)
	cancel()
	verified, summary, err := summarize("quarantine "+d.Target+where, d, outs, true)
	cmd, _ := fleet.DecisionCommand(d, true, nil)
	return connector.Result{Summary: summary, Commands: []string{string(cmd)},
		Outputs: map[string]any{"decision": d.ID, "rule": d.Rule, "verified": verified, "agents": outs},
		Undo: &connector.Undo{Connector: Name, Operation: "release_segment", Args: map[string]any{"decision": d.ID, "reason": "recovery"},
			Summary: "release " + d.Target}}, err
}

func (c *Connector) releaseSegment(ctx context.Context, call connector.Call, dry bool) (connector.Result, error) {
	id, seg := str(call.Args, "decision"), str(call.Args, "segment")
	if id == "" && seg == "" {
		return connector.Result{}, connector.Errorf(connector.Permanent, "give segment or decision")
	}
	var target string
	if seg != "" {
		p, err := parseNet(seg)
		if err != nil {
			return connector.Result{}, connector.Errorf(connector.Permanent, "segment: %v", err)
		}
		target = p.String()
	}
	return c.revertWhere(ctx, call, "release "+seg+id, dry, func(d decision.Decision) bool {
		if d.Kind != decision.ContainSegment {
			return false
		}
		if id != "" {
			return d.ID == id
		}
		return d.Target == target
	})
}
