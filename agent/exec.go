package agent

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/openc2"
)

// HostOps executes the commands that are not about the firewall (package
// agent/hostops): processes, files, accounts, services, remediations,
// packages, configuration lines, evidence.
type HostOps interface {
	Handle(ctx context.Context, cmd *openc2.Command, meta Meta) Outcome
}

// Meta says who asked for a command and why.
type Meta struct {
	CommandID, Requester, Incident string
	Now                            time.Time
}

// Outcome is what a host operation did.
type Outcome struct {
	Response openc2.Response
	// Staged is evidence collected, to upload before answering.
	Staged []Staged
}

// handle verifies one envelope, applies its command (or answers from the
// record if this command id was already applied) and publishes the signed
// result.
func (a *Agent) handle(ctx context.Context, data []byte) {
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		a.log.Warn("command refused: unreadable envelope", "err", err)
		return
	}
	if err := protocol.Verify(a.id.ServerKey, env, a.id.AgentID, time.Now(), a.nonces); err != nil {
		a.log.Warn("command refused", "command", env.CommandID, "err", err)
		status := 400
		switch {
		case errors.Is(err, protocol.ErrBadSignature), errors.Is(err, protocol.ErrWrongAgent):
			status = 401
		case errors.Is(err, protocol.ErrReplay), errors.Is(err, protocol.ErrExpired), errors.Is(err, protocol.ErrNotYetValid):
			status = 403
		}
		// Only well-formed ids get an answer, so a refusal cannot be used
		// to make the agent publish arbitrary strings.
		if protocol.ValidID(env.CommandID) {
			a.reply(env.CommandID, respond(status, "refused: "+err.Error(), nil), nil, false)
		}
		return
	}
	if r, ok := a.results.get(env.CommandID); ok {
		a.publish(r)
		return
	}
	if !a.begin(env.CommandID) {
		// The same command is still running (a producer gave up waiting
		// and sent it again): it answers when done, once.
		return
	}
	cmd, err := openc2.DecodeCommand(openc2.ComponentRiposte, env.Command)
	if err != nil {
		a.reply(env.CommandID, respond(400, err.Error(), nil), nil, true)
		return
	}
	if !a.firewallCommand(cmd) && a.slow != nil {
		// Host operations may take minutes (a package upgrade, an
		// upload); they run in order on their own worker so that a block
		// or an isolation never waits behind them.
		select {
		case a.slow <- job{id: env.CommandID, cmd: cmd}:
			// Its nonce is spent now, not when it has run: a crash while
			// it waits must not make the envelope replayable.
			a.saveNonces()
		default:
			a.end(env.CommandID)
			a.reply(env.CommandID, respond(503, "Service Unavailable: too many host operations queued", nil), nil, false)
		}
		return
	}
	a.run(ctx, env.CommandID, cmd)
}

// begin marks a command as running; false if it already is.
func (a *Agent) begin(id string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.inflight[id] {
		return false
	}
	a.inflight[id] = true
	return true
}

func (a *Agent) end(id string) {
	a.mu.Lock()
	delete(a.inflight, id)
	a.mu.Unlock()
}

type job struct {
	id  string
	cmd *openc2.Command
}

// firewallCommand reports whether the runtime handles cmd itself (fast,
// in the command loop) rather than the host operations.
func (a *Agent) firewallCommand(c *openc2.Command) bool {
	for _, t := range netPairs[c.Action] {
		if t == c.Target.Name {
			return true
		}
	}
	return false
}

// hostWorker runs queued host operations one at a time.
func (a *Agent) hostWorker(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case j := <-a.slow:
			a.run(ctx, j.id, j.cmd)
		}
	}
}

// run executes one command, uploads its evidence, and answers.
func (a *Agent) run(ctx context.Context, commandID string, cmd *openc2.Command) {
	defer a.end(commandID)
	rsp, staged := a.execute(ctx, commandID, cmd)
	var ev []protocol.EvidenceItem
	record := true
	if len(staged) > 0 {
		if err := a.upload(ctx, commandID, staged); err != nil {
			rsp = respond(500, "collected but not uploaded: "+err.Error(), nil)
			// Collecting again changes nothing on the host: a retry
			// should collect and upload anew, not get this failure back.
			record = false
		} else {
			for _, s := range staged {
				ev = append(ev, s.Item)
			}
		}
	}
	a.reply(commandID, rsp, ev, record)
	a.log.Info("command", "command", commandID, "action", cmd.Action, "target", cmd.Target.Name, "status", rsp.Status, "text", rsp.StatusText)
}

func respond(status int, text string, results map[string]any) openc2.Response {
	r := openc2.Response{Status: status, StatusText: text}
	if len(results) > 0 {
		r.Results = map[string]json.RawMessage{}
		for k, v := range results {
			b, _ := json.Marshal(v)
			r.Results[k] = b
		}
	}
	return r
}

func (a *Agent) reply(commandID string, rsp openc2.Response, ev []protocol.EvidenceItem, record bool) protocol.Result {
	b, _ := json.Marshal(rsp)
	r := protocol.SignResult(a.id.Key, protocol.Result{AgentID: a.id.AgentID, CommandID: commandID, Response: b, Evidence: ev})
	a.publish(r)
	if record {
		a.results.put(commandID, r)
		a.saveNonces()
	}
	return r
}

// handleLocal takes a command from the local channel: verified like any
// other, and only containment (what a cut-off host needs).
func (a *Agent) handleLocal(ctx context.Context, data []byte) protocol.Result {
	var env protocol.Envelope
	if err := json.Unmarshal(data, &env); err != nil || !protocol.ValidID(env.CommandID) {
		b, _ := json.Marshal(respond(400, "not a signed command", nil))
		return protocol.SignResult(a.id.Key, protocol.Result{AgentID: a.id.AgentID, CommandID: "local", Response: b})
	}
	if err := protocol.Verify(a.id.ServerKey, env, a.id.AgentID, time.Now(), a.nonces); err != nil {
		a.log.Warn("local command refused", "command", env.CommandID, "err", err)
		return a.reply(env.CommandID, respond(403, "refused: "+err.Error(), nil), nil, false)
	}
	cmd, err := openc2.DecodeCommand(openc2.ComponentRiposte, env.Command)
	if err != nil {
		return a.reply(env.CommandID, respond(400, err.Error(), nil), nil, true)
	}
	if !a.firewallCommand(cmd) {
		return a.reply(env.CommandID, respond(403, "the local channel takes containment commands only", nil), nil, true)
	}
	rsp, _ := a.execute(ctx, env.CommandID, cmd)
	a.log.Warn("local command applied", "command", env.CommandID, "action", cmd.Action, "target", cmd.Target.Name, "status", rsp.Status)
	return a.reply(env.CommandID, rsp, nil, true)
}

func (a *Agent) publish(r protocol.Result) {
	b, _ := json.Marshal(r)
	if a.nc == nil {
		return
	}
	if err := a.nc.Publish(a.subj.Result, b); err != nil {
		a.log.Warn("result not sent", "command", r.CommandID, "err", err)
		return
	}
	_ = a.nc.FlushTimeout(time.Second)
}

// execute applies one validated command.
func (a *Agent) execute(ctx context.Context, commandID string, c *openc2.Command) (openc2.Response, []Staged) {
	t := c.Target.Name
	switch {
	case c.Action == "query" && t == "features":
		return a.features(c), nil
	case (c.Action == "deny" || c.Action == "allow") && isNetTarget(t):
		return a.slpfRule(commandID, c), nil
	case c.Action == "delete" && t == "slpf:rule_number":
		return a.deleteRule(c), nil
	case c.Action == "update" && t == "file":
		return respond(501, "Not Implemented: Riposte agents do not load firewall configuration files; send deny/allow commands", nil), nil
	case (c.Action == "contain" || c.Action == "allow") && t == "device":
		return a.device(c), nil
	case (c.Action == "contain" || c.Action == "allow") && t == segmentTarget:
		return a.segment(c), nil
	case c.Action == "investigate" && t == "x-riposte:firewall_state":
		return a.firewallEvidence(commandID)
	}
	if a.host == nil {
		return respond(501, fmt.Sprintf("Not Implemented: %s %s (host operations are not configured on this agent)", c.Action, t), nil), nil
	}
	meta := Meta{CommandID: commandID, Now: time.Now().UTC()}
	if x, ok := xRiposte(c); ok {
		meta.Requester, _ = x["requested_by"].(string)
		meta.Incident, _ = x["incident"].(string)
	}
	o := a.host.Handle(ctx, c, meta)
	return o.Response, o.Staged
}

func isNetTarget(t string) bool {
	switch t {
	case "ipv4_net", "ipv6_net", "ipv4_connection", "ipv6_connection":
		return true
	}
	return false
}

func xRiposte(c *openc2.Command) (map[string]any, bool) {
	if c.Args == nil {
		return nil, false
	}
	raw, ok := c.Args.Profiles["x-riposte"]
	if !ok {
		return nil, false
	}
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

type slpfArgs struct {
	Direction   string `json:"direction"`
	InsertRule  *int64 `json:"insert_rule"`
	DropProcess string `json:"drop_process"`
}

func slpfOf(c *openc2.Command) slpfArgs {
	var s slpfArgs
	if c.Args != nil {
		if raw, ok := c.Args.Profiles["slpf"]; ok {
			_ = json.Unmarshal(raw, &s)
		}
	}
	return s
}

// ruleFor derives a rule number from the command id when the producer gave
// none, so a retried command lands on the same rule.
func ruleFor(commandID string) int64 {
	h := sha256.Sum256([]byte(commandID))
	return int64(binary.BigEndian.Uint32(h[:4])>>1) + 1<<31
}

// errStartTime is answered as the status text OpenC2 prescribes.
//
//lint:ignore ST1005 the text is OpenC2's status text
var errStartTime = errors.New("Option not supported: start_time in the future")

// expiry reads stop_time / duration (milliseconds).
func expiry(c *openc2.Command, now time.Time) (time.Time, error) {
	if c.Args == nil {
		return time.Time{}, nil
	}
	start := now
	if c.Args.StartTime != nil {
		s := time.UnixMilli(*c.Args.StartTime)
		if s.After(now.Add(time.Second)) {
			return time.Time{}, errStartTime
		}
		start = s
	}
	switch {
	case c.Args.StopTime != nil:
		return time.UnixMilli(*c.Args.StopTime), nil
	case c.Args.Duration != nil:
		return start.Add(time.Duration(*c.Args.Duration) * time.Millisecond), nil
	}
	return time.Time{}, nil
}

func (a *Agent) slpfRule(commandID string, c *openc2.Command) openc2.Response {
	s := slpfOf(c)
	d := firewall.Decision{Action: c.Action, Direction: "both"}
	switch s.Direction {
	case "ingress":
		d.Direction = "in"
	case "egress":
		d.Direction = "out"
	}
	if s.DropProcess != "" && s.DropProcess != "none" {
		return respond(501, "Option not supported: drop_process "+s.DropProcess, nil)
	}
	switch c.Target.Name {
	case "ipv4_net", "ipv6_net":
		var v string
		if err := json.Unmarshal(c.Target.Value, &v); err != nil {
			return respond(400, "target: "+err.Error(), nil)
		}
		p, err := parseNet(v)
		if err != nil {
			return respond(400, "target: "+err.Error(), nil)
		}
		d.Net = p
	default:
		var cn struct {
			SrcAddr  string `json:"src_addr"`
			DstAddr  string `json:"dst_addr"`
			SrcPort  *int   `json:"src_port"`
			DstPort  *int   `json:"dst_port"`
			Protocol string `json:"protocol"`
		}
		if err := json.Unmarshal(c.Target.Value, &cn); err != nil {
			return respond(400, "target: "+err.Error(), nil)
		}
		if cn.SrcPort != nil {
			return respond(501, "Option not supported: src_port (rules match the peer and the local service port)", nil)
		}
		// The peer is the source of what arrives and the destination of
		// what leaves; a rule names one peer.
		peer := cn.SrcAddr
		if d.Direction == "out" {
			peer = cn.DstAddr
		} else if cn.SrcAddr != "" && cn.DstAddr != "" {
			return respond(501, "Option not supported: both src_addr and dst_addr", nil)
		} else if peer == "" {
			peer = cn.DstAddr
		}
		if peer == "" {
			return respond(400, "target: a connection needs src_addr or dst_addr", nil)
		}
		p, err := parseNet(peer)
		if err != nil {
			return respond(400, "target: "+err.Error(), nil)
		}
		d.Net = p
		switch cn.Protocol {
		case "", "tcp", "udp":
			d.Proto = cn.Protocol
		default:
			return respond(501, "Option not supported: protocol "+cn.Protocol, nil)
		}
		if cn.DstPort != nil {
			if d.Proto == "" {
				return respond(501, "Option not supported: a port without tcp or udp", nil)
			}
			d.Port = uint16(*cn.DstPort)
		}
	}
	now := time.Now()
	exp, err := expiry(c, now)
	if err != nil {
		return respond(501, err.Error(), nil)
	}
	if !exp.IsZero() && !exp.After(now) {
		return respond(400, "stop_time is in the past", nil)
	}
	d.Expires = exp
	rule := ruleFor(commandID)
	if s.InsertRule != nil {
		rule = *s.InsertRule
	}
	d.ID = strconv.FormatInt(rule, 10)
	for _, h := range a.enf.Active() {
		if h.ID == d.ID && (h.Net != d.Net || h.Action != d.Action || h.Direction != d.Direction || h.Proto != d.Proto || h.Port != d.Port) {
			return respond(501, "Rule number currently in use", map[string]any{"x-riposte": map[string]any{"rule_number": rule, "fingerprint": fingerprint(h)}})
		}
	}
	if err := a.enf.Upsert(d); err != nil {
		return respond(500, "nftables: "+err.Error(), nil)
	}
	ok, detail := a.verifyPresent(d)
	if !ok {
		return respond(500, "applied but not found in the kernel: "+detail, map[string]any{"x-riposte": map[string]any{"verified": false, "rule_number": rule}})
	}
	return respond(200, "", map[string]any{"slpf": map[string]any{"rule_number": rule},
		"x-riposte": map[string]any{"verified": true, "rule_number": rule, "fingerprint": fingerprint(d), "kernel": detail}})
}

func fingerprint(d firewall.Decision) string {
	return fmt.Sprintf("%s/%s/%s/%s/%d", d.Action, d.Direction, d.Net, d.Proto, d.Port)
}

func parseNet(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	ad, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is not an address or CIDR", s)
	}
	return netip.PrefixFrom(ad.Unmap(), ad.Unmap().BitLen()), nil
}

// verifyPresent reads the kernel back: an action is reported done only
// when nftables holds it.
func (a *Agent) verifyPresent(d firewall.Decision) (bool, string) {
	st, err := a.enf.Firewall().State()
	if err != nil {
		return false, err.Error()
	}
	for _, k := range st {
		if k.Action == d.Action && k.Net == d.Net && k.Proto == d.Proto && k.Port == d.Port && (k.Direction == d.Direction || d.Direction == "both") {
			return true, fmt.Sprintf("table inet %s holds %s %s", a.cfg.Table, d.Action, d.Net)
		}
	}
	return false, fmt.Sprintf("%s %s missing from table inet %s", d.Action, d.Net, a.cfg.Table)
}

func (a *Agent) ruleNumber(c *openc2.Command) (int64, openc2.Response, bool) {
	var n int64
	if err := json.Unmarshal(c.Target.Value, &n); err != nil {
		return 0, respond(400, "target slpf:rule_number: "+err.Error(), nil), false
	}
	return n, openc2.Response{}, true
}

func (a *Agent) deleteRule(c *openc2.Command) openc2.Response {
	n, bad, ok := a.ruleNumber(c)
	if !ok {
		return bad
	}
	id := strconv.FormatInt(n, 10)
	var held *firewall.Decision
	for _, d := range a.enf.Active() {
		if d.ID == id {
			held = &d
			break
		}
	}
	if held == nil {
		return respond(404, fmt.Sprintf("rule %d is not held", n), nil)
	}
	if err := a.enf.Revert(id); err != nil {
		return respond(500, "nftables: "+err.Error(), nil)
	}
	if ok, detail := a.verifyPresent(*held); ok {
		// Another held rule may cover the same address: absence is only
		// required when none does.
		for _, d := range a.enf.Active() {
			if d.Net == held.Net && d.Action == held.Action {
				return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "rule_number": n, "kernel": "still covered by rule " + d.ID}})
			}
		}
		return respond(500, "deleted but still in the kernel: "+detail, nil)
	}
	return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "rule_number": n}})
}

// netPairs are the pairs the runtime handles itself; host operations add
// theirs. (update file is answered 501, so it is not listed.)
var netPairs = map[string][]string{
	"deny":    {"ipv4_net", "ipv6_net", "ipv4_connection", "ipv6_connection"},
	"allow":   {"ipv4_net", "ipv6_net", "ipv4_connection", "ipv6_connection", "device", segmentTarget},
	"delete":  {"slpf:rule_number"},
	"query":   {"features"},
	"contain": {"device", segmentTarget},
}

func (a *Agent) features(c *openc2.Command) openc2.Response {
	var want []string
	if err := json.Unmarshal(c.Target.Value, &want); err != nil {
		return respond(400, "target features: "+err.Error(), nil)
	}
	pairs := map[string][]string{}
	for k, v := range netPairs {
		pairs[k] = append(pairs[k], v...)
	}
	// Collected by the runtime, on the host worker (it uploads).
	pairs["investigate"] = append(pairs["investigate"], "x-riposte:firewall_state")
	if p, ok := a.host.(interface{ Pairs() map[string][]string }); ok {
		for k, v := range p.Pairs() {
			pairs[k] = append(pairs[k], v...)
		}
	}
	all := map[string]any{"versions": []string{"1.0"}, "profiles": []string{"slpf", "er", "x-riposte"}, "pairs": pairs, "rate_limit": 6000}
	out := map[string]any{}
	for _, f := range want {
		if v, ok := all[f]; ok {
			out[f] = v
		}
	}
	return respond(200, "", out)
}

// device isolates the host (contain) or lifts isolation (allow).
func (a *Agent) device(c *openc2.Command) openc2.Response {
	var dev struct {
		Hostname string `json:"hostname"`
	}
	_ = json.Unmarshal(c.Target.Value, &dev)
	if dev.Hostname != "" && !strings.EqualFold(dev.Hostname, a.id.Hostname) {
		return respond(404, fmt.Sprintf("device %q is not this host (%s)", dev.Hostname, a.id.Hostname), nil)
	}
	x, _ := xRiposte(c)
	var rule int64
	if v, ok := x["rule_number"].(float64); ok {
		rule = int64(v)
	}
	if c.Action == "allow" {
		a.mu.Lock()
		cur := a.cont
		a.mu.Unlock()
		if rule != 0 && cur.Rule != 0 && rule != cur.Rule {
			return respond(404, fmt.Sprintf("isolation rule %d is not held (holding %d)", rule, cur.Rule), nil)
		}
		if err := a.setContain(containState{}); err != nil {
			return respond(500, err.Error(), nil)
		}
		on, err := a.enf.Firewall().Contained()
		if err != nil || on {
			return respond(500, fmt.Sprintf("isolation still in place (err %v)", err), nil)
		}
		return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "contained": false}})
	}
	var er struct {
		Containment string `json:"device_containment"`
		Permitted   struct {
			V4 []string `json:"ipv4_net"`
			V6 []string `json:"ipv6_net"`
		} `json:"permitted_addresses"`
	}
	if c.Args != nil {
		if raw, ok := c.Args.Profiles["er"]; ok {
			_ = json.Unmarshal(raw, &er)
		}
	}
	if er.Containment != "" && er.Containment != "network_isolation" {
		return respond(501, "Option not supported: device_containment "+er.Containment, nil)
	}
	st := containState{Rule: rule, On: true}
	for _, s := range append(er.Permitted.V4, er.Permitted.V6...) {
		p, err := parseNet(s)
		if err != nil {
			return respond(400, "permitted_addresses: "+err.Error(), nil)
		}
		st.Allow = append(st.Allow, p.String())
	}
	if v, ok := x["stop_time"].(float64); ok {
		st.Stop = time.UnixMilli(int64(v))
	} else if exp, err := expiry(c, time.Now()); err == nil {
		st.Stop = exp
	}
	if err := a.setContain(st); err != nil {
		return respond(500, err.Error(), nil)
	}
	on, err := a.enf.Firewall().Contained()
	if err != nil || !on {
		return respond(500, fmt.Sprintf("isolation table missing after apply (err %v)", err), nil)
	}
	return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "contained": true, "rule_number": rule,
		"permitted": st.allowed(a.serverNet)}})
}
