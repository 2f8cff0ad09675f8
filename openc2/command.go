package openc2

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ValidateCommand validates a bare OpenC2 command against Riposte's wire
// baseline (ComponentRiposte).
func ValidateCommand(data []byte) error { return ValidateCommandFor(ComponentRiposte, data) }

// ValidateCommandFor validates a bare OpenC2 command for the given component.
func ValidateCommandFor(c Component, data []byte) error {
	v, err := parseJSON(data)
	if err != nil {
		return err
	}
	return validateCommand(c, v)
}

// targetName splits a target key into its namespace (empty for LS targets)
// and name, checking the key syntax for the component.
func checkTargetKey(c Component, key string) (nsid, name string, err error) {
	const p = "target"
	if ns, nm, ok := strings.Cut(key, ":"); ok {
		if !propNameRe.MatchString(nm) {
			return "", "", errf(p, "%q: target name %q must match [A-Za-z][A-Za-z0-9_]{0,31}", key, nm)
		}
		if err := checkNSID(c, ns, p); err != nil {
			return "", "", err
		}
		return ns, nm, nil
	}
	if lsTargets[key] {
		if key == "properties" && (c == ComponentSLPF || c == ComponentSLPF11 || c == ComponentER) {
			return "", "", errf(p, "target %q is not supported by component %s", key, c)
		}
		return "", key, nil
	}
	if c == ComponentSLPF11 && key == "slpf" {
		return "slpf", "", nil // v1.1 form {"slpf": {"rule_number": n}}
	}
	if strings.HasPrefix(key, "x-") || standardNSIDs[key] {
		return "", "", errf(p, "unknown target %q (profile targets are written nsid:name)", key)
	}
	return "", "", errf(p, "unknown target %q", key)
}

// checkNSID validates a namespace identifier used for a profile target,
// profile args, actuator or results.
func checkNSID(c Component, ns, path string) error {
	if c == ComponentLanguage {
		return errf(path, "namespace %q not allowed: component language accepts no profiles or extensions", ns)
	}
	if strings.HasPrefix(ns, "x-") {
		if !extNSIDRe.MatchString(ns) {
			return errf(path, "extension namespace %q must match x-[a-z0-9][a-z0-9_]{0,29}", ns)
		}
		if c != ComponentRiposte {
			return errf(path, "extension namespace %q not accepted by component %s", ns, c)
		}
		return nil
	}
	if !standardNSIDs[ns] {
		return errf(path, "unknown namespace %q (non-standard namespaces must start with x-)", ns)
	}
	if !supportedProfiles[ns] {
		return errf(path, "profile %q is not supported", ns)
	}
	switch c {
	case ComponentSLPF, ComponentSLPF11:
		if ns != "slpf" {
			return errf(path, "profile %q not accepted by component %s", ns, c)
		}
	case ComponentER:
		if ns != "er" {
			return errf(path, "profile %q not accepted by component %s", ns, c)
		}
	}
	return nil
}

func validateCommand(c Component, v any) error {
	m, err := asObject(v, "")
	if err != nil {
		return errors.New("openc2: command must be a JSON object")
	}
	if err := closed(m, "", false, "action", "target", "args", "actuator", "command_id", "profile"); err != nil {
		return err
	}
	av, ok := m["action"]
	if !ok {
		return errors.New("openc2: action: required")
	}
	action, err := asString(av, "action")
	if err != nil {
		return err
	}
	if _, ok := Actions[action]; !ok {
		return errf("action", "unknown action %q", action)
	}
	tv, ok := m["target"]
	if !ok {
		return errors.New("openc2: target: required")
	}
	tm, err := asObject(tv, "target")
	if err != nil {
		return err
	}
	if len(tm) != 1 {
		return errf("target", "must have exactly one member, has %d", len(tm))
	}
	var tkey string
	for k := range tm {
		tkey = k
	}
	tns, tname, err := checkTargetKey(c, tkey)
	if err != nil {
		return err
	}
	if err := checkTargetValue(c, tns, tname, tm[tkey], join("target", tkey)); err != nil {
		return err
	}
	pairTarget := tkey
	if tns != "" && tname == "" { // SLPF v1.1 form
		pairTarget = "slpf:rule_number"
	}

	if x, ok := m["command_id"]; ok {
		s, err := asString(x, "command_id")
		if err != nil {
			return err
		}
		if !commandIDRe.MatchString(s) {
			return errf("command_id", "%q must be at most 36 non-space characters", s)
		}
	}
	if x, ok := m["profile"]; ok { // LS 2.0, accepted and ignored
		s, err := asString(x, "profile")
		if err != nil {
			return err
		}
		if err := checkNSID(c, s, "profile"); err != nil {
			return err
		}
	}

	// Which profiles does the command name?
	profiles := map[string]bool{}
	switch c {
	case ComponentSLPF, ComponentSLPF11:
		profiles["slpf"] = true
	case ComponentER:
		profiles["er"] = true
	}
	if supportedProfiles[tns] {
		profiles[tns] = true
	}
	if x, ok := m["actuator"]; ok {
		am, err := asObject(x, "actuator")
		if err != nil {
			return err
		}
		if len(am) != 1 {
			return errf("actuator", "must have exactly one member (a profile), has %d", len(am))
		}
		for k, spec := range am {
			p := join("actuator", k)
			if err := checkNSID(c, k, "actuator"); err != nil {
				return err
			}
			if err := checkActuator(k, spec, p); err != nil {
				return err
			}
			if supportedProfiles[k] {
				profiles[k] = true
			}
		}
	}
	var args map[string]any
	if x, ok := m["args"]; ok {
		if args, err = asObject(x, "args"); err != nil {
			return err
		}
		if len(args) == 0 {
			return errf("args", "must have at least one member")
		}
		for _, k := range sortedKeys(args) {
			if supportedProfiles[k] {
				profiles[k] = true
			}
		}
	}
	if len(profiles) > 1 {
		return errors.New("openc2: command mixes profiles slpf and er")
	}
	profile := ""
	for p := range profiles {
		profile = p
	}
	if profile != "" && !pairAllowed(profile, action, pairTarget) {
		return fmt.Errorf("openc2: action %q is not valid with target %q in profile %s", action, pairTarget, profile)
	}
	if args != nil {
		if err := checkArgs(c, profile, action, pairTarget, args); err != nil {
			return err
		}
	}
	return nil
}

func checkTargetValue(c Component, ns, name string, v any, path string) error {
	if ns != "" {
		switch ns {
		case "slpf":
			if name == "" { // v1.1 {"slpf": {"rule_number": n}}
				m, err := asObject(v, path)
				if err != nil {
					return err
				}
				if err := closed(m, path, true, "rule_number"); err != nil {
					return err
				}
				_, err = asInt(m["rule_number"], join(path, "rule_number"), 0, math.MaxInt64)
				return err
			}
			if name != "rule_number" {
				return errf("target", "unknown slpf target %q", ns+":"+name)
			}
			_, err := asInt(v, path, 0, math.MaxInt64)
			return err
		case "er":
			m, err := asObject(v, path)
			if err != nil {
				return err
			}
			switch name {
			case "registry_entry":
				if err := closed(m, path, true, "key", "type", "value"); err != nil {
					return err
				}
			case "account":
				if err := closed(m, path, true, "uid", "account_name", "directory"); err != nil {
					return err
				}
			case "service":
				if err := closed(m, path, true, "name", "display_name"); err != nil {
					return err
				}
			default:
				return errf("target", "unknown er target %q", ns+":"+name)
			}
			for _, k := range sortedKeys(m) {
				if _, err := asString(m[k], join(path, k)); err != nil {
					return err
				}
			}
			return nil
		}
		return nil // x- extension target: opaque
	}
	switch name {
	case "artifact":
		return checkArtifact(v, path)
	case "command":
		s, err := asString(v, path)
		if err == nil && !commandIDRe.MatchString(s) {
			err = errf(path, "%q is not a command id", s)
		}
		return err
	case "device":
		return checkDevice(v, path)
	case "domain_name":
		return checkHostname(v, path)
	case "idn_domain_name", "iri":
		_, err := asNonEmptyString(v, path)
		return err
	case "email_addr":
		return checkEmail(v, path, false)
	case "idn_email_addr":
		return checkEmail(v, path, true)
	case "features":
		return checkFeatures(v, path)
	case "file":
		return checkFile(v, path)
	case "ipv4_net":
		return checkNet(v, path, false)
	case "ipv6_net":
		return checkNet(v, path, true)
	case "ipv4_connection":
		return checkConnection(v, path, false)
	case "ipv6_connection":
		return checkConnection(v, path, true)
	case "mac_addr":
		s, err := asString(v, path)
		if err == nil && !macRe.MatchString(s) {
			err = errf(path, "%q is not a MAC address", s)
		}
		return err
	case "process":
		return checkProcess(v, path)
	case "properties":
		return checkStringArray(v, path, true)
	case "uri":
		return checkURI(v, path)
	}
	return errf(path, "unknown target")
}

func checkActuator(ns string, v any, path string) error {
	if strings.HasPrefix(ns, "x-") {
		return nil
	}
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	switch ns {
	case "slpf":
		if err := closed(m, path, false, "hostname", "named_group", "asset_id", "asset_tuple"); err != nil {
			return err
		}
		if x, ok := m["hostname"]; ok {
			if err := checkHostname(x, join(path, "hostname")); err != nil {
				return err
			}
		}
		for _, k := range []string{"named_group", "asset_id"} {
			if x, ok := m[k]; ok {
				if _, err := asNonEmptyString(x, join(path, k)); err != nil {
					return err
				}
			}
		}
		if x, ok := m["asset_tuple"]; ok {
			p := join(path, "asset_tuple")
			if err := checkStringArray(x, p, true); err != nil {
				return err
			}
			if len(x.([]any)) > 10 {
				return errf(p, "at most 10 items")
			}
		}
	case "er":
		if err := closed(m, path, false, "hostname"); err != nil {
			return err
		}
		if x, ok := m["hostname"]; ok {
			return checkHostname(x, join(path, "hostname"))
		}
	}
	return nil
}

var slpfArgActions = map[string][]string{
	"start_time":   {"allow", "deny", "delete", "update"},
	"stop_time":    {"allow", "deny"},
	"duration":     {"allow", "deny"},
	"persistent":   {"allow", "deny"},
	"direction":    {"allow", "deny"},
	"insert_rule":  {"allow", "deny"},
	"drop_process": {"deny"},
}

func argAllowed(arg, action string) bool {
	for _, a := range slpfArgActions[arg] {
		if a == action {
			return true
		}
	}
	return false
}

func checkArgs(c Component, profile, action, target string, args map[string]any) error {
	var start, stop, dur *int64
	rr := ""
	for _, k := range sortedKeys(args) {
		p := join("args", k)
		x := args[k]
		switch k {
		case "start_time", "stop_time", "duration":
			n, err := asInt(x, p, 0, math.MaxInt64)
			if err != nil {
				return err
			}
			switch k {
			case "start_time":
				start = &n
			case "stop_time":
				stop = &n
			default:
				dur = &n
			}
		case "response_requested":
			s, err := oneOf(x, p, "none", "ack", "status", "complete")
			if err != nil {
				return err
			}
			rr = s
		case "comment": // LS 2.0, accepted and ignored
			if _, err := asString(x, p); err != nil {
				return err
			}
		default:
			if err := checkNSID(c, k, p); err != nil {
				return err
			}
			switch k {
			case "slpf":
				if profile != "slpf" {
					return errf(p, "slpf arguments require the slpf profile")
				}
			case "er":
				if profile != "er" {
					return errf(p, "er arguments require the er profile")
				}
			}
		}
	}
	n := 0
	for _, q := range []*int64{start, stop, dur} {
		if q != nil {
			n++
		}
	}
	if n == 3 {
		return errf("args", "at most two of start_time, stop_time and duration may be given")
	}
	if start != nil && stop != nil && *start > *stop {
		return errf("args", "start_time %d is after stop_time %d", *start, *stop)
	}
	if action == "query" && target == "features" {
		for _, k := range sortedKeys(args) {
			if strings.HasPrefix(k, "x-") {
				continue // extension-defined semantics (Riposte choice)
			}
			if k != "response_requested" {
				return errf(join("args", k), "query features accepts only response_requested")
			}
			if rr != "complete" {
				return errf(join("args", k), "query features accepts only response_requested \"complete\", got %q", rr)
			}
		}
	}
	if profile == "slpf" {
		for _, k := range []string{"start_time", "stop_time", "duration"} {
			if _, ok := args[k]; ok && !argAllowed(k, action) {
				return errf(join("args", k), "argument not valid with action %q in profile slpf", action)
			}
		}
	}
	if x, ok := args["slpf"]; ok {
		if err := checkSLPFArgs(action, rr, x, "args.slpf"); err != nil {
			return err
		}
	}
	if x, ok := args["er"]; ok {
		if err := checkERArgs(action, target, x, "args.er"); err != nil {
			return err
		}
	}
	return nil
}

func checkSLPFArgs(action, rr string, v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "drop_process", "persistent", "direction", "insert_rule"); err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		if !argAllowed(k, action) {
			return errf(p, "argument not valid with action %q in profile slpf", action)
		}
		x := m[k]
		switch k {
		case "drop_process":
			_, err = oneOf(x, p, "none", "reject", "false_ack")
		case "persistent":
			err = asBool(x, p)
		case "direction":
			_, err = oneOf(x, p, "both", "ingress", "egress")
		case "insert_rule":
			if _, err = asInt(x, p, 0, math.MaxInt64); err == nil && rr != "" && rr != "complete" {
				err = errf(p, "requires response_requested \"complete\", got %q", rr)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func checkERArgs(action, target string, v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "account_status", "device_containment", "device_contaionment",
		"permitted_addresses", "scan_depth", "periodic_scan", "downstream_device"); err != nil {
		return err
	}
	if _, a := m["device_containment"]; a {
		if _, b := m["device_contaionment"]; b {
			return errf(path, "device_containment given twice (with the misspelled device_contaionment)")
		}
	}
	containment := ""
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		x := m[k]
		switch k {
		case "account_status":
			if action != "set" || target != "er:account" {
				return errf(p, "only valid with set er:account")
			}
			_, err = oneOf(x, p, "enabled", "disabled")
		case "device_containment", "device_contaionment":
			if action != "contain" || target != "device" {
				return errf(p, "only valid with contain device")
			}
			containment, err = oneOf(x, p, "network_isolation", "app_restriction", "disable_nic")
		case "scan_depth":
			if action != "scan" {
				return errf(p, "only valid with scan")
			}
			_, err = oneOf(x, p, "shallow", "deep")
		case "periodic_scan":
			_, err = oneOf(x, p, "enabled", "disabled")
		case "permitted_addresses":
			err = checkPermitted(x, p)
		case "downstream_device":
			err = checkDownstream(x, p)
		}
		if err != nil {
			return err
		}
	}
	if _, ok := m["permitted_addresses"]; ok && containment != "network_isolation" {
		return errf(join(path, "permitted_addresses"), "requires device_containment \"network_isolation\"")
	}
	return nil
}

func checkPermitted(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "domain_name", "ipv4_net", "ipv6_net"); err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		var each func(any, string) error
		switch k {
		case "domain_name":
			each = checkHostname
		case "ipv4_net":
			each = func(x any, p string) error { return checkNet(x, p, false) }
		default:
			each = func(x any, p string) error { return checkNet(x, p, true) }
		}
		if err := checkArray(m[k], join(path, k), each); err != nil {
			return err
		}
	}
	return nil
}

func checkDownstream(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "devices", "device_groups", "tenant_id"); err != nil {
		return err
	}
	if x, ok := m["devices"]; ok {
		if err := checkArray(x, join(path, "devices"), checkDevice); err != nil {
			return err
		}
	}
	if x, ok := m["device_groups"]; ok {
		if err := checkStringArray(x, join(path, "device_groups"), false); err != nil {
			return err
		}
	}
	if x, ok := m["tenant_id"]; ok {
		if _, err := asNonEmptyString(x, join(path, "tenant_id")); err != nil {
			return err
		}
	}
	return nil
}
