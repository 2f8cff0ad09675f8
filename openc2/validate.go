package openc2

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Component selects the rule set a message is validated against, following
// the OpenC2 plugfest notion of a consumer "component" (spec digest §10).
type Component int

const (
	// ComponentRiposte is Riposte's wire baseline: LS 1.0 + SLPF 1.0 + ER
	// CSD01 + any well-formed "x-" extension. Profile rules apply when the
	// command names a profile (actuator, profile target or profile args).
	ComponentRiposte Component = iota
	// ComponentLanguage is LS 1.0 only: no actuator profiles, no extensions.
	ComponentLanguage
	// ComponentSLPF is an SLPF 1.0 consumer: every command must be an SLPF command.
	ComponentSLPF
	// ComponentSLPF11 is an SLPF 1.1 consumer (profile target written
	// {"slpf":{"rule_number":n}}, pairs written "slpf/rule_number").
	ComponentSLPF11
	// ComponentER is an endpoint-response (ER CSD01) consumer.
	ComponentER
)

func (c Component) String() string {
	switch c {
	case ComponentRiposte:
		return "riposte"
	case ComponentLanguage:
		return "language"
	case ComponentSLPF:
		return "slpf"
	case ComponentSLPF11:
		return "slpf-v1.1"
	case ComponentER:
		return "er"
	}
	return "component(" + strconv.Itoa(int(c)) + ")"
}

// Actions lists the LS 1.0 actions with their enumeration ids.
var Actions = map[string]int{
	"scan": 1, "locate": 2, "query": 3, "deny": 6, "contain": 7, "allow": 8,
	"start": 9, "stop": 10, "restart": 11, "cancel": 14, "set": 15, "update": 16,
	"redirect": 18, "create": 19, "delete": 20, "detonate": 22, "restore": 23,
	"copy": 28, "investigate": 30, "remediate": 32,
}

// StatusCodes lists the response status codes Riposte accepts.
var StatusCodes = map[int]string{
	102: "Processing", 200: "OK", 400: "Bad Request", 401: "Unauthorized",
	403: "Forbidden", 404: "Not Found", 500: "Internal Error",
	501: "Not Implemented", 503: "Service Unavailable",
}

// standard profile NSIDs (v2.0 WD registry).
var standardNSIDs = map[string]bool{
	"slpf": true, "sfpf": true, "sbom": true, "er": true, "hop": true, "av": true,
	"ids": true, "log": true, "swup": true, "pf": true, "pac": true,
}

// supportedProfiles are the profiles Riposte validates in depth.
var supportedProfiles = map[string]bool{"slpf": true, "er": true}

var lsTargets = map[string]bool{
	"artifact": true, "command": true, "device": true, "domain_name": true,
	"email_addr": true, "features": true, "file": true, "idn_domain_name": true,
	"idn_email_addr": true, "ipv4_net": true, "ipv6_net": true,
	"ipv4_connection": true, "ipv6_connection": true, "iri": true,
	"mac_addr": true, "process": true, "properties": true, "uri": true,
}

// profile action-target matrices.
var slpfPairs = map[string][]string{
	"allow":  {"ipv4_connection", "ipv6_connection", "ipv4_net", "ipv6_net", "domain_name"},
	"deny":   {"ipv4_connection", "ipv6_connection", "ipv4_net", "ipv6_net", "domain_name"},
	"query":  {"features"},
	"delete": {"slpf:rule_number"},
	"update": {"file"},
}

var erPairs = map[string][]string{
	"query":   {"features"},
	"scan":    {"device", "file"},
	"deny":    {"file", "ipv4_net", "ipv6_net"},
	"contain": {"device", "file"},
	"allow":   {"device", "file", "ipv4_net", "ipv6_net"},
	"start":   {"file"},
	"stop":    {"device", "process", "er:service"},
	"restart": {"device", "process"},
	"set":     {"ipv4_net", "ipv6_net", "er:registry_entry", "er:account"},
	"update":  {"file"},
	"create":  {"er:registry_entry"},
	"delete":  {"file", "er:registry_entry", "er:service"},
}

func profilePairs(p string) map[string][]string {
	switch p {
	case "slpf":
		return slpfPairs
	case "er":
		return erPairs
	}
	return nil
}

func pairAllowed(profile, action, target string) bool {
	for _, t := range profilePairs(profile)[action] {
		if t == target {
			return true
		}
	}
	return false
}

var (
	extNSIDRe   = regexp.MustCompile(`^x-[a-z0-9][a-z0-9_]{0,29}$`)
	propNameRe  = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,31}$`)
	commandIDRe = regexp.MustCompile(`^\S{0,36}$`)
	hostLabelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)
	hexRe       = regexp.MustCompile(`^[0-9A-Fa-f]*$`)
	macRe       = regexp.MustCompile(`^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}((:[0-9A-Fa-f]{2}){2})?$`)
	hashLen     = map[string]int{"md5": 32, "sha1": 40, "sha256": 64}
)

func errf(path, format string, a ...any) error {
	return fmt.Errorf("openc2: %s: %s", pathOrRoot(path), fmt.Sprintf(format, a...))
}

// ---- generic helpers -------------------------------------------------------

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "value"
}

func asObject(v any, path string) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errf(path, "must be a JSON object, got %s", typeName(v))
	}
	return m, nil
}

func asString(v any, path string) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errf(path, "must be a string, got %s", typeName(v))
	}
	return s, nil
}

func asNonEmptyString(v any, path string) (string, error) {
	s, err := asString(v, path)
	if err == nil && s == "" {
		err = errf(path, "must not be empty")
	}
	return s, err
}

// asInt accepts JSON integers, and numbers with an integral value (200.0).
func asInt(v any, path string, lo, hi int64) (int64, error) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, errf(path, "must be an integer, got %s", typeName(v))
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(n), 64)
		if ferr != nil || f != math.Trunc(f) || math.IsInf(f, 0) || f < -9e15 || f > 9e15 {
			return 0, errf(path, "%s is not an integer", n)
		}
		i = int64(f)
	}
	if i < lo || i > hi {
		return 0, errf(path, "%d is out of range [%d, %d]", i, lo, hi)
	}
	return i, nil
}

func asBool(v any, path string) error {
	if _, ok := v.(bool); !ok {
		return errf(path, "must be a boolean, got %s", typeName(v))
	}
	return nil
}

func oneOf(v any, path string, allowed ...string) (string, error) {
	s, err := asString(v, path)
	if err != nil {
		return "", err
	}
	for _, a := range allowed {
		if s == a {
			return s, nil
		}
	}
	return "", errf(path, "%q is not one of %s", s, strings.Join(allowed, ", "))
}

// closed checks that m has only the given keys and, if nonEmpty, at least one.
func closed(m map[string]any, path string, nonEmpty bool, keys ...string) error {
	for _, k := range sortedKeys(m) {
		found := false
		for _, a := range keys {
			if k == a {
				found = true
				break
			}
		}
		if !found {
			return errf(join(path, k), "unknown property (allowed: %s)", strings.Join(keys, ", "))
		}
	}
	if nonEmpty && len(m) == 0 {
		return errf(path, "must have at least one property")
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ---- value syntaxes --------------------------------------------------------

func checkNet(v any, path string, v6 bool) error {
	s, err := asString(v, path)
	if err != nil {
		return err
	}
	kind := "IPv4 CIDR"
	maxBits := 32
	if v6 {
		kind, maxBits = "IPv6 CIDR", 128
	}
	addr, bits, hasPrefix := strings.Cut(s, "/")
	a, err := netip.ParseAddr(addr)
	if err != nil || a.Zone() != "" || (v6 && !a.Is6()) || (!v6 && !a.Is4()) {
		return errf(path, "%q is not an %s", s, kind)
	}
	if hasPrefix {
		n, err := strconv.Atoi(bits)
		if err != nil || n < 0 || n > maxBits || bits != strconv.Itoa(n) {
			return errf(path, "%q is not an %s", s, kind)
		}
	}
	return nil
}

func checkHostname(v any, path string) error {
	s, err := asString(v, path)
	if err != nil {
		return err
	}
	h := strings.TrimSuffix(s, ".")
	if h == "" || len(h) > 253 {
		return errf(path, "%q is not a valid hostname", s)
	}
	for _, l := range strings.Split(h, ".") {
		if !hostLabelRe.MatchString(l) {
			return errf(path, "%q is not a valid hostname", s)
		}
	}
	return nil
}

func checkEmail(v any, path string, idn bool) error {
	s, err := asString(v, path)
	if err != nil {
		return err
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || strings.ContainsAny(s, " \t\r\n") || strings.Contains(domain, "@") {
		return errf(path, "%q is not an email address", s)
	}
	if idn {
		if domain == "" {
			return errf(path, "%q is not an email address", s)
		}
		return nil
	}
	if checkHostname(domain, path) != nil {
		return errf(path, "%q is not an email address", s)
	}
	return nil
}

func checkURI(v any, path string) error {
	s, err := asNonEmptyString(v, path)
	if err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" {
		return errf(path, "%q is not an absolute URI", s)
	}
	return nil
}

func checkHashes(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "md5", "sha1", "sha256"); err != nil {
		return err
	}
	for _, k := range sortedKeys(m) {
		p := join(path, k)
		s, err := asString(m[k], p)
		if err != nil {
			return err
		}
		if len(s) != hashLen[k] || !hexRe.MatchString(s) {
			return errf(p, "%q is not a %s hash (%d hex digits)", s, k, hashLen[k])
		}
	}
	return nil
}

func checkFile(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "name", "path", "hashes"); err != nil {
		return err
	}
	for _, k := range []string{"name", "path"} {
		if x, ok := m[k]; ok {
			if _, err := asNonEmptyString(x, join(path, k)); err != nil {
				return err
			}
		}
	}
	if h, ok := m["hashes"]; ok {
		return checkHashes(h, join(path, "hashes"))
	}
	return nil
}

func checkDevice(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "hostname", "idn_hostname", "device_id"); err != nil {
		return err
	}
	if h, ok := m["hostname"]; ok {
		if err := checkHostname(h, join(path, "hostname")); err != nil {
			return err
		}
	}
	for _, k := range []string{"idn_hostname", "device_id"} {
		if x, ok := m[k]; ok {
			if _, err := asNonEmptyString(x, join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkProcess(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "pid", "name", "cwd", "executable", "parent", "command_line"); err != nil {
		return err
	}
	if x, ok := m["pid"]; ok {
		if _, err := asInt(x, join(path, "pid"), 0, math.MaxInt64); err != nil {
			return err
		}
	}
	for _, k := range []string{"name", "cwd", "command_line"} {
		if x, ok := m[k]; ok {
			if _, err := asNonEmptyString(x, join(path, k)); err != nil {
				return err
			}
		}
	}
	if x, ok := m["executable"]; ok {
		if err := checkFile(x, join(path, "executable")); err != nil {
			return err
		}
	}
	if x, ok := m["parent"]; ok {
		return checkProcess(x, join(path, "parent"))
	}
	return nil
}

func checkConnection(v any, path string, v6 bool) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "src_addr", "src_port", "dst_addr", "dst_port", "protocol"); err != nil {
		return err
	}
	for _, k := range []string{"src_addr", "dst_addr"} {
		if x, ok := m[k]; ok {
			if err := checkNet(x, join(path, k), v6); err != nil {
				return err
			}
		}
	}
	proto := ""
	if x, ok := m["protocol"]; ok {
		if proto, err = oneOf(x, join(path, "protocol"), "icmp", "tcp", "udp", "sctp"); err != nil {
			return err
		}
	}
	for _, k := range []string{"src_port", "dst_port"} {
		if x, ok := m[k]; ok {
			if _, err := asInt(x, join(path, k), 0, 65535); err != nil {
				return err
			}
			if proto == "icmp" {
				return errf(join(path, k), "ports are not valid with protocol icmp")
			}
		}
	}
	return nil
}

func checkArtifact(v any, path string) error {
	m, err := asObject(v, path)
	if err != nil {
		return err
	}
	if err := closed(m, path, true, "mime_type", "payload", "hashes"); err != nil {
		return err
	}
	if x, ok := m["mime_type"]; ok {
		s, err := asString(x, join(path, "mime_type"))
		if err != nil {
			return err
		}
		if t, sub, ok := strings.Cut(s, "/"); !ok || t == "" || sub == "" {
			return errf(join(path, "mime_type"), "%q is not a MIME type", s)
		}
	}
	if x, ok := m["payload"]; ok {
		pp := join(path, "payload")
		pm, err := asObject(x, pp)
		if err != nil {
			return err
		}
		if err := closed(pm, pp, true, "bin", "url"); err != nil {
			return err
		}
		if len(pm) != 1 {
			return errf(pp, "is a choice: exactly one of bin, url")
		}
		if b, ok := pm["bin"]; ok {
			s, err := asString(b, join(pp, "bin"))
			if err != nil {
				return err
			}
			if _, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "=")); err != nil {
				return errf(join(pp, "bin"), "is not base64url")
			}
		} else if err := checkURI(pm["url"], join(pp, "url")); err != nil {
			return err
		}
	}
	if x, ok := m["hashes"]; ok {
		return checkHashes(x, join(path, "hashes"))
	}
	return nil
}

func checkFeatures(v any, path string) error {
	a, ok := v.([]any)
	if !ok {
		return errf(path, "must be an array, got %s", typeName(v))
	}
	if len(a) > 10 {
		return errf(path, "has %d items, at most 10 allowed", len(a))
	}
	seen := map[string]bool{}
	for i, x := range a {
		p := fmt.Sprintf("%s[%d]", path, i)
		s, err := oneOf(x, p, "versions", "profiles", "pairs", "rate_limit")
		if err != nil {
			return err
		}
		if seen[s] {
			return errf(p, "duplicate feature %q", s)
		}
		seen[s] = true
	}
	return nil
}

func checkStringArray(v any, path string, nonEmpty bool) error {
	a, ok := v.([]any)
	if !ok {
		return errf(path, "must be an array, got %s", typeName(v))
	}
	if nonEmpty && len(a) == 0 {
		return errf(path, "must not be empty")
	}
	for i, x := range a {
		if _, err := asNonEmptyString(x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func checkArray(v any, path string, each func(any, string) error) error {
	a, ok := v.([]any)
	if !ok {
		return errf(path, "must be an array, got %s", typeName(v))
	}
	for i, x := range a {
		if err := each(x, fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}
