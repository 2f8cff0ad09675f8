package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/agent/firewall"
	"github.com/riposte-soar/riposte/openc2"
)

// Modes an agent runs in. A host agent protects its own host; a gateway
// agent runs on a Linux router or firewall, where its deny decisions
// (whose table hooks forward as well as input and output) protect every
// host routed through it, and it quarantines the segments behind it.
const (
	ModeHost    = "host"
	ModeGateway = "gateway"
)

// segmentTarget is the OpenC2 target of a segment quarantine (see
// fleet.SegmentTarget).
const segmentTarget = "x-riposte:segment"

// checkMode validates the mode and the declared segments.
func (c *Config) checkMode() ([]netip.Prefix, error) {
	switch c.Mode {
	case "", ModeHost:
		if len(c.Segments) > 0 {
			return nil, errors.New("segments are declared only in mode gateway")
		}
		return nil, nil
	case ModeGateway:
	default:
		return nil, fmt.Errorf("mode %q: want host or gateway", c.Mode)
	}
	var out []netip.Prefix
	for _, s := range c.Segments {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("segment %q: want a CIDR like 10.1.0.0/24", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// segEntry is one quarantine the gateway holds; persisted so that a
// restart or a flushed ruleset brings it back.
type segEntry struct {
	Rule  int64     `json:"rule"`
	Net   string    `json:"net"`
	Stop  time.Time `json:"stop,omitzero"`
	Allow []string  `json:"allow,omitempty"`
}

func (s segEntry) active(now time.Time) bool { return s.Stop.IsZero() || now.Before(s.Stop) }

const segmentsFile = "segments.json"

func (a *Agent) loadSegments() error {
	b, err := os.ReadFile(filepath.Join(a.cfg.Data, segmentsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return json.Unmarshal(b, &a.segs)
}

// wantSegments is what the segment table must hold at now: the active
// quarantines and, reachable from them, their permitted addresses and the
// server the agent talks to.
func (a *Agent) wantSegments(now time.Time) ([]firewall.Segment, []netip.Prefix) {
	var segs []firewall.Segment
	allow := append([]netip.Prefix(nil), a.serverNet...)
	for _, s := range a.segs {
		if !s.active(now) {
			continue
		}
		p, err := netip.ParsePrefix(s.Net)
		if err != nil {
			continue
		}
		segs = append(segs, firewall.Segment{ID: strconv.FormatInt(s.Rule, 10), Net: p, Expires: s.Stop})
		for _, x := range s.Allow {
			if q, err := netip.ParsePrefix(x); err == nil {
				allow = append(allow, q)
			}
		}
	}
	if len(segs) == 0 {
		return nil, nil
	}
	return segs, allow
}

// setSegmentsLocked records and applies the quarantines (a.mu held).
func (a *Agent) setSegmentsLocked(segs []segEntry) error {
	b, _ := json.Marshal(segs)
	if err := writeFileAtomic(filepath.Join(a.cfg.Data, segmentsFile), b, 0o600); err != nil {
		return err
	}
	a.segs = segs
	s, allow := a.wantSegments(time.Now())
	return a.enf.Firewall().Quarantine(s, allow)
}

// segmentsDrift compares the kernel's segment table with what is held.
func (a *Agent) segmentsDrift(now time.Time) (bool, error) {
	want, wantAllow := a.wantSegments(now)
	got, gotAllow, err := a.enf.Firewall().Quarantined()
	if err != nil {
		return true, err
	}
	key := func(ss []firewall.Segment) []string {
		var out []string
		for _, s := range ss {
			out = append(out, s.ID+" "+s.Net.Masked().String())
		}
		slices.Sort(out)
		return out
	}
	pk := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.Masked().String())
		}
		slices.Sort(out)
		return slices.Compact(out)
	}
	if len(want) == 0 {
		return len(got) > 0 || len(gotAllow) > 0, nil
	}
	return !slices.Equal(key(want), key(got)) || !slices.Equal(pk(wantAllow), pk(gotAllow)), nil
}

// reconcileSegments lifts quarantines whose time is over and puts the
// segment table back after a flush or an edit.
func (a *Agent) reconcileSegments() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.cfg.Mode != ModeGateway && len(a.segs) == 0 {
		return
	}
	now := time.Now()
	kept := slices.DeleteFunc(slices.Clone(a.segs), func(s segEntry) bool { return !s.active(now) })
	if len(kept) != len(a.segs) {
		a.log.Info("segment quarantine expired", "held", len(kept))
		if err := a.setSegmentsLocked(kept); err != nil {
			a.log.Error("segment quarantine not updated", "err", err)
		}
		return
	}
	drift, err := a.segmentsDrift(now)
	if err == nil && !drift {
		return
	}
	s, allow := a.wantSegments(now)
	if err := a.enf.Firewall().Quarantine(s, allow); err != nil {
		a.log.Error("segment quarantine not restored", "err", err)
		return
	}
	a.log.Warn("segment quarantine drifted from the held state: repaired", "segments", len(s))
}

// quarantinedRules are the rule numbers of the active quarantines, for
// the heartbeat.
func (a *Agent) quarantinedRules(now time.Time) []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []int64
	for _, s := range a.segs {
		if s.active(now) {
			out = append(out, s.Rule)
		}
	}
	slices.Sort(out)
	return out
}

// segment quarantines a segment (contain) or lifts a quarantine (allow).
func (a *Agent) segment(c *openc2.Command) openc2.Response {
	if a.cfg.Mode != ModeGateway {
		return respond(501, "Not Implemented: segment quarantine needs an agent in mode gateway", nil)
	}
	var tv struct {
		Net  string `json:"net"`
		Rule int64  `json:"rule_number"`
	}
	if err := json.Unmarshal(c.Target.Value, &tv); err != nil {
		return respond(400, "target "+segmentTarget+": "+err.Error(), nil)
	}
	var p netip.Prefix
	if tv.Net != "" {
		var err error
		if p, err = parseNet(tv.Net); err != nil {
			return respond(400, "target "+segmentTarget+": "+err.Error(), nil)
		}
	}
	x, _ := xRiposte(c)
	if c.Action == "allow" {
		return a.releaseSegment(p, tv.Rule)
	}
	if !p.IsValid() {
		return respond(400, "target "+segmentTarget+": net is required", nil)
	}
	rule := tv.Rule
	if v, ok := x["rule_number"].(float64); ok {
		rule = int64(v)
	}
	if rule == 0 {
		return respond(400, "x-riposte.rule_number is required", nil)
	}
	e := segEntry{Rule: rule, Net: p.String()}
	if v, ok := x["stop_time"].(float64); ok {
		e.Stop = time.UnixMilli(int64(v))
		if !e.Stop.After(time.Now()) {
			return respond(400, "stop_time is in the past", nil)
		}
	}
	if l, ok := x["permitted"].([]any); ok {
		for _, v := range l {
			s, _ := v.(string)
			q, err := parseNet(s)
			if err != nil {
				return respond(400, "x-riposte.permitted: "+err.Error(), nil)
			}
			e.Allow = append(e.Allow, q.String())
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// One quarantine per network: a new one replaces the held one (and
	// its rule number), as a re-ban replaces a deny.
	segs := slices.DeleteFunc(slices.Clone(a.segs), func(s segEntry) bool { return s.Net == e.Net || s.Rule == e.Rule })
	segs = append(segs, e)
	if err := a.setSegmentsLocked(segs); err != nil {
		return respond(500, "nftables: "+err.Error(), nil)
	}
	got, allow, err := a.enf.Firewall().Quarantined()
	if err != nil {
		return respond(500, "applied but not read back: "+err.Error(), nil)
	}
	id := strconv.FormatInt(rule, 10)
	found := slices.ContainsFunc(got, func(s firewall.Segment) bool { return s.ID == id && s.Net == p })
	if !found {
		return respond(500, fmt.Sprintf("applied but %s missing from table inet %s%s", p, a.cfg.Table, "_seg"),
			map[string]any{"x-riposte": map[string]any{"verified": false, "rule_number": rule}})
	}
	var permitted []string
	for _, q := range allow {
		permitted = append(permitted, q.String())
	}
	return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "rule_number": rule, "segment": p.String(),
		"permitted": permitted, "kernel": fmt.Sprintf("table inet %s_seg drops routed traffic from and to %s", a.cfg.Table, p)}})
}

func (a *Agent) releaseSegment(p netip.Prefix, rule int64) openc2.Response {
	if !p.IsValid() && rule == 0 {
		return respond(400, "target "+segmentTarget+": give net or rule_number", nil)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	match := func(s segEntry) bool { return (rule != 0 && s.Rule == rule) || (rule == 0 && s.Net == p.String()) }
	if !slices.ContainsFunc(a.segs, match) {
		return respond(404, fmt.Sprintf("quarantine %s is not held", describe(p, rule)), nil)
	}
	gone := slices.IndexFunc(a.segs, match)
	net := a.segs[gone].Net
	segs := slices.DeleteFunc(slices.Clone(a.segs), match)
	if err := a.setSegmentsLocked(segs); err != nil {
		return respond(500, "nftables: "+err.Error(), nil)
	}
	got, _, err := a.enf.Firewall().Quarantined()
	if err != nil {
		return respond(500, "lifted but not read back: "+err.Error(), nil)
	}
	for _, s := range got {
		if s.Net.String() == net {
			return respond(500, "lifted but "+net+" is still quarantined in the kernel", nil)
		}
	}
	return respond(200, "", map[string]any{"x-riposte": map[string]any{"verified": true, "rule_number": rule, "segment": net}})
}

func describe(p netip.Prefix, rule int64) string {
	if rule != 0 {
		return "rule " + strconv.FormatInt(rule, 10)
	}
	return p.String()
}
