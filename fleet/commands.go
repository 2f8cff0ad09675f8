package fleet

import (
	"encoding/json"
	"fmt"
	"net/netip"

	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/openc2"
)

// SegmentTarget is the OpenC2 target of a gateway's segment quarantine:
// "contain" with {"net": CIDR} quarantines, "allow" with {"rule_number": N}
// lifts it.
const SegmentTarget = "x-riposte:segment"

// DecisionCommand is the OpenC2 command that makes an agent enforce d
// (active) or stop enforcing it. A deny is SLPF with the decision's rule
// number, so the undo is the standard "delete slpf:rule_number"; an
// isolation is ER "contain device", undone by "allow device"; a segment
// quarantine is "contain x-riposte:segment", undone by "allow
// x-riposte:segment".
func DecisionCommand(d decision.Decision, active bool, permitted []string) (json.RawMessage, error) {
	var cmd map[string]any
	complete := map[string]any{"response_requested": "complete"}
	switch {
	case d.Kind == decision.DenyIP && active:
		p, err := netip.ParsePrefix(d.Target)
		if err != nil {
			return nil, fmt.Errorf("decision %s: target %q: %w", d.ID, d.Target, err)
		}
		key := "ipv4_net"
		if p.Addr().Is6() {
			key = "ipv6_net"
		}
		args := map[string]any{"response_requested": "complete", "slpf": map[string]any{"direction": "both", "insert_rule": d.Rule}}
		if !d.Expires.IsZero() {
			args["stop_time"] = d.Expires.UnixMilli()
		}
		cmd = map[string]any{"action": "deny", "target": map[string]any{key: p.String()}, "args": args,
			"actuator": map[string]any{"slpf": map[string]any{}}}
	case d.Kind == decision.DenyIP:
		cmd = map[string]any{"action": "delete", "target": map[string]any{"slpf:rule_number": d.Rule}, "args": complete,
			"actuator": map[string]any{"slpf": map[string]any{}}}
	case d.Kind == decision.ContainHost && active:
		er := map[string]any{"device_containment": "network_isolation"}
		var v4, v6 []string
		for _, a := range permitted {
			if p, err := parsePrefix(a); err == nil {
				if p.Addr().Is4() {
					v4 = append(v4, p.String())
				} else {
					v6 = append(v6, p.String())
				}
			}
		}
		if len(v4)+len(v6) > 0 {
			pa := map[string]any{}
			if len(v4) > 0 {
				pa["ipv4_net"] = v4
			}
			if len(v6) > 0 {
				pa["ipv6_net"] = v6
			}
			er["permitted_addresses"] = pa
		}
		x := map[string]any{"rule_number": d.Rule}
		if !d.Expires.IsZero() {
			x["stop_time"] = d.Expires.UnixMilli()
		}
		cmd = map[string]any{"action": "contain", "target": map[string]any{"device": map[string]any{"hostname": d.Target}},
			"args": map[string]any{"response_requested": "complete", "er": er, "x-riposte": x}, "actuator": map[string]any{"er": map[string]any{}}}
	case d.Kind == decision.ContainSegment && active:
		p, err := netip.ParsePrefix(d.Target)
		if err != nil {
			return nil, fmt.Errorf("decision %s: target %q: %w", d.ID, d.Target, err)
		}
		x := map[string]any{"rule_number": d.Rule}
		if !d.Expires.IsZero() {
			x["stop_time"] = d.Expires.UnixMilli()
		}
		var allow []string
		for _, a := range permitted {
			if q, err := parsePrefix(a); err == nil {
				allow = append(allow, q.String())
			}
		}
		if len(allow) > 0 {
			x["permitted"] = allow
		}
		cmd = map[string]any{"action": "contain", "target": map[string]any{SegmentTarget: map[string]any{"net": p.String()}},
			"args": map[string]any{"response_requested": "complete", "x-riposte": x}, "actuator": map[string]any{"x-riposte": map[string]any{}}}
	case d.Kind == decision.ContainSegment:
		// By rule number: the server may know only that (an agent's
		// heartbeat names a quarantine no longer decided).
		cmd = map[string]any{"action": "allow", "target": map[string]any{SegmentTarget: map[string]any{"rule_number": d.Rule}},
			"args": complete, "actuator": map[string]any{"x-riposte": map[string]any{}}}
	case d.Kind == decision.ContainHost:
		cmd = map[string]any{"action": "allow", "target": map[string]any{"device": map[string]any{"hostname": d.Target}},
			"args":     map[string]any{"response_requested": "complete", "x-riposte": map[string]any{"rule_number": d.Rule}},
			"actuator": map[string]any{"er": map[string]any{}}}
	default:
		return nil, fmt.Errorf("decision %s: kind %q has no command", d.ID, d.Kind)
	}
	b, err := json.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	// What we send must be what any consumer would accept.
	if err := openc2.ValidateCommand(b); err != nil {
		return nil, fmt.Errorf("decision %s: %w", d.ID, err)
	}
	return b, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()), nil
}
