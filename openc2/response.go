package openc2

import (
	"errors"
	"fmt"
	"math"
	"strings"
)

// ValidateResponse validates a bare OpenC2 response against Riposte's wire
// baseline (ComponentRiposte).
func ValidateResponse(data []byte) error { return ValidateResponseFor(ComponentRiposte, data) }

// ValidateResponseFor validates a bare OpenC2 response for the given component.
func ValidateResponseFor(c Component, data []byte) error {
	v, err := parseJSON(data)
	if err != nil {
		return err
	}
	return validateResponse(c, v)
}

func validateResponse(c Component, v any) error {
	m, err := asObject(v, "")
	if err != nil {
		return errors.New("openc2: response must be a JSON object")
	}
	if err := closed(m, "", false, "status", "status_text", "results"); err != nil {
		return err
	}
	sv, ok := m["status"]
	if !ok {
		return errors.New("openc2: status: required")
	}
	st, err := asInt(sv, "status", math.MinInt64, math.MaxInt64)
	if err != nil {
		return err
	}
	if _, ok := StatusCodes[int(st)]; !ok {
		return errf("status", "%d is not a supported status code (102, 200, 400, 401, 403, 404, 500, 501, 503)", st)
	}
	if x, ok := m["status_text"]; ok {
		if _, err := asString(x, "status_text"); err != nil {
			return err
		}
	}
	if x, ok := m["results"]; ok {
		return checkResults(c, x, "results")
	}
	return nil
}

func checkResults(c Component, v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if len(m) == 0 {
		return errf(path, "must have at least one member")
	}
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		x := m[k]
		switch k {
		case "versions", "profiles":
			if err := checkStringArray(x, p, false); err != nil {
				return err
			}
		case "rate_limit":
			n, ok := x.(interface{ Float64() (float64, error) })
			if !ok {
				return errf(p, "must be a number, got %s", typeName(x))
			}
			if f, err := n.Float64(); err != nil || f < 0 {
				return errf(p, "must be a non-negative number")
			}
		case "pairs":
			if err := checkPairs(c, x, p); err != nil {
				return err
			}
		default:
			if err := checkNSID(c, k, p); err != nil {
				return err
			}
			if k == "slpf" {
				if err := checkSLPFResults(c, x, p); err != nil {
					return err
				}
			} else if k == "er" {
				if _, err := asObject(x, p); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func checkSLPFResults(c Component, v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	// SLPF 1.0 allows an empty slpf results map; 1.1 requires a member.
	if err := closed(m, path, c == ComponentSLPF11, "rule_number"); err != nil {
		return err
	}
	if x, ok := m["rule_number"]; ok {
		_, err = asInt(x, join(path, "rule_number"), 0, math.MaxInt64)
	}
	return err
}

func checkPairs(c Component, v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	for _, action := range sortedKeys(m) {
		p := join(path, action)
		if _, ok := Actions[action]; !ok {
			return errf(p, "unknown action %q", action)
		}
		a, ok := m[action].([]any)
		if !ok {
			return errf(p, "must be an array of targets, got %s", typeName(m[action]))
		}
		for i, x := range a {
			tp := fmt.Sprintf("%s[%d]", p, i)
			t, err := asNonEmptyString(x, tp)
			if err != nil {
				return err
			}
			if err := checkPair(c, action, t, tp); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkPair(c Component, action, target, path string) error {
	norm := target
	if ns, nm, ok := strings.Cut(target, "/"); ok { // v1.1 spelling
		if c != ComponentSLPF11 && c != ComponentER {
			return errf(path, "%q: profile targets are written nsid:name in this version", target)
		}
		norm = ns + ":" + nm
	} else if c == ComponentSLPF11 && strings.Contains(target, ":") {
		return errf(path, "%q: SLPF 1.1 writes profile targets nsid/name", target)
	}
	ns, _, hasNS := strings.Cut(norm, ":")
	if !hasNS && !lsTargets[norm] {
		return errf(path, "unknown target %q", target)
	}
	if hasNS {
		if err := checkNSID(c, ns, path); err != nil {
			return err
		}
		if strings.HasPrefix(ns, "x-") {
			return nil
		}
	}
	var profiles []string
	switch c {
	case ComponentLanguage:
		return nil
	case ComponentSLPF, ComponentSLPF11:
		profiles = []string{"slpf"}
	case ComponentER:
		profiles = []string{"er"}
	default:
		profiles = []string{"slpf", "er"}
	}
	for _, p := range profiles {
		if pairAllowed(p, action, norm) {
			return nil
		}
	}
	return errf(path, "action %q is not valid with target %q in profile %s", action, target, strings.Join(profiles, " or "))
}
