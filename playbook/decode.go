package playbook

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// dec holds the state shared by the CACAO and YAML decoders.
type dec struct {
	errs   *errList
	strict bool
	// yaml is true when decoding CACAO-shaped objects inside a Riposte YAML
	// playbook: positions are YAML positions and the source map is filled
	// by the YAML decoder.
	yaml    bool
	secrets SecretSink
	pbID    string
	pbVars  map[string]*Variable
}

// obj reads the members of one object node, remembering which were used so
// the rest can be reported and preserved.
type obj struct {
	d    *dec
	n    *node
	path string
	used map[string]bool
}

func (d *dec) object(n *node, path string) *obj {
	if n == nil {
		return nil
	}
	if n.kind != kObject {
		d.errs.errorf("type", path, n, "must be an object, not %s", n.kind)
		return nil
	}
	return &obj{d: d, n: n, path: path, used: map[string]bool{}}
}

func (o *obj) at(key string) string { return joinPath(o.path, key) }

func (o *obj) has(key string) bool { return o.n.get(key) != nil }

// take marks key used and returns its node (nil when absent).
func (o *obj) take(key string) *node {
	o.used[key] = true
	return o.n.get(key)
}

func (o *obj) typeErr(key string, n *node, want string) {
	o.d.errs.errorf("type", o.at(key), n, "must be %s, not %s", want, n.kind)
}

func (o *obj) str(key string) string {
	n := o.take(key)
	if n == nil {
		return ""
	}
	if n.kind != kString {
		o.typeErr(key, n, "a string")
		return ""
	}
	return n.s
}

func (o *obj) reqStr(key string) string {
	if !o.has(key) {
		o.d.errs.errorf("required", o.at(key), o.n, "required property %q is missing", key)
		return ""
	}
	return o.str(key)
}

func (o *obj) boolean(key string) bool {
	n := o.take(key)
	if n == nil {
		return false
	}
	if n.kind != kBool {
		o.typeErr(key, n, "a boolean")
		return false
	}
	return n.s == "true"
}

// integer reads a whole number in [lo, hi].
func (o *obj) integer(key string, lo, hi int64) int64 {
	n := o.take(key)
	if n == nil {
		return 0
	}
	if n.kind != kNumber {
		o.typeErr(key, n, "an integer")
		return 0
	}
	v, ok := numberValue(n.s).(int64)
	if !ok {
		o.typeErr(key, n, "an integer")
		return 0
	}
	if v < lo || v > hi {
		o.d.errs.errorf("range", o.at(key), n, "%d is out of range %d..%d", v, lo, hi)
		return 0
	}
	return v
}

func (o *obj) strList(key string) []string {
	n := o.take(key)
	if n == nil {
		return nil
	}
	if n.kind != kArray {
		o.typeErr(key, n, "an array of strings")
		return nil
	}
	out := make([]string, 0, len(n.kids))
	for i, k := range n.kids {
		if k.kind != kString {
			o.d.errs.errorf("type", indexPath(o.at(key), i), k, "must be a string, not %s", k.kind)
			continue
		}
		out = append(out, k.s)
	}
	return out
}

// ref reads an identifier reference.
func (o *obj) ref(key string) string {
	s := o.str(key)
	if s != "" && !IsIdentifier(s) {
		o.d.errs.errorf("identifier", o.at(key), o.n.get(key), "%q is not a CACAO identifier (<type>--<uuid>)", s)
	}
	return s
}

func (o *obj) refList(key string) []string {
	l := o.strList(key)
	for i, s := range l {
		if !IsIdentifier(s) {
			o.d.errs.errorf("identifier", indexPath(o.at(key), i), o.n.get(key), "%q is not a CACAO identifier (<type>--<uuid>)", s)
		}
	}
	return l
}

func (o *obj) timestamp(key string) time.Time {
	n := o.take(key)
	if n == nil {
		return time.Time{}
	}
	if n.kind != kString {
		o.typeErr(key, n, "an RFC 3339 timestamp string")
		return time.Time{}
	}
	t, err := parseTimestamp(n.s, o.d.yaml)
	if err != nil {
		o.d.errs.errorf("timestamp", o.at(key), n, "%v", err)
	}
	return t
}

func parseTimestamp(s string, allowDate bool) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil && allowDate {
		t, err = time.Parse("2006-01-02", s)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 timestamp (e.g. 2025-01-01T00:00:00.000Z)", s)
	}
	return t.UTC(), nil
}

// formatTimestamp writes a CACAO timestamp: UTC, `Z`, at least millisecond
// precision (the spec's "exactly three digits"), more digits only when the
// time has them, so imported timestamps survive unchanged.
func formatTimestamp(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns%1_000_000 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1000 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	default:
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
}

// rawObject reads an object-valued member verbatim.
func (o *obj) rawObject(key string) json.RawMessage {
	n := o.take(key)
	if n == nil {
		return nil
	}
	if n.kind != kObject {
		o.typeErr(key, n, "an object")
		return nil
	}
	return n.compactJSON()
}

// rest returns the unused members verbatim, warning about each.
func (o *obj) rest(what string) map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for i, k := range o.n.keys {
		if o.used[k] {
			continue
		}
		o.used[k] = true
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = o.n.kids[i].compactJSON()
		o.d.errs.warnf("unknown-property", o.at(k), o.n.kids[i], "unknown property %q of %s (kept)", k, what)
	}
	return out
}

// externalRefs reads a list of external references.
func (o *obj) externalRefs(key string) []ExternalReference {
	n := o.take(key)
	if n == nil {
		return nil
	}
	if n.kind != kArray {
		o.typeErr(key, n, "an array of external references")
		return nil
	}
	var out []ExternalReference
	for i, k := range n.kids {
		r := o.d.object(k, indexPath(o.at(key), i))
		if r == nil {
			continue
		}
		out = append(out, ExternalReference{
			Name:        r.reqStr("name"),
			Description: r.str("description"),
			Source:      r.str("source"),
			URL:         r.str("url"),
			ExternalID:  r.str("external_id"),
			ReferenceID: r.str("reference_id"),
			Extra:       r.rest("external reference"),
		})
	}
	return out
}

// extensions reads a map of extension-definition id → object. Riposte's own
// entry is returned separately (decoded by the caller).
func (o *obj) extensions(key string) (map[string]json.RawMessage, *node) {
	n := o.take(key)
	if n == nil {
		return nil, nil
	}
	m := o.d.object(n, o.at(key))
	if m == nil {
		return nil, nil
	}
	var out map[string]json.RawMessage
	var mine *node
	for i, k := range n.keys {
		m.used[k] = true
		v := n.kids[i]
		p := joinPath(m.path, k)
		if !IsIdentifier(k) || idPrefix(k) != "extension-definition" {
			o.d.errs.errorf("identifier", p, v, "extension key %q is not an extension-definition--<uuid> identifier", k)
		}
		if v.kind != kObject {
			o.d.errs.errorf("type", p, v, "extension data must be an object, not %s", v.kind)
			continue
		}
		if k == RiposteExtensionID {
			mine = v
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = v.compactJSON()
	}
	return out, mine
}

// variables reads a map `__name__` → variable.
func (o *obj) variables(key string) map[string]*Variable {
	n := o.take(key)
	if n == nil {
		return nil
	}
	m := o.d.object(n, o.at(key))
	if m == nil {
		return nil
	}
	out := map[string]*Variable{}
	for i, k := range n.keys {
		m.used[k] = true
		p := joinPath(m.path, k)
		if !IsVariableName(k) {
			o.d.errs.errorf("variable-name", p, n.kids[i], "variable name %q must look like __name__ (letters, digits, _ and -; first a letter or _)", k)
		}
		vo := o.d.object(n.kids[i], p)
		if vo == nil {
			continue
		}
		out[k] = o.d.variable(vo)
	}
	return out
}

func (d *dec) variable(vo *obj) *Variable {
	v := &Variable{
		Type:        vo.reqStr("type"),
		Description: vo.str("description"),
		Constant:    vo.boolean("constant"),
		External:    vo.boolean("external"),
	}
	if vn := vo.take("value"); vn != nil {
		switch vn.kind {
		case kNull:
		case kString:
			v.Value = vn.s
		case kNumber, kBool:
			v.Value = vn.s
			if !d.yaml {
				sev := SeverityWarning
				if d.strict {
					sev = SeverityError
				}
				d.errs.add(sev, "variable-value", vo.at("value"), vn, "value must be a string (numbers and booleans are encoded as strings); read as %q", vn.s)
			}
		case kObject:
			v.Value = vn.value()
			if d.strict {
				d.errs.errorf("variable-value", vo.at("value"), vn, "the schema allows only a string or null here (objects are allowed by the text: use lenient mode)")
			}
		case kArray:
			v.Value = vn.value()
			d.errs.add(ternary(d.strict, SeverityError, SeverityWarning), "variable-value", vo.at("value"), vn, "value is a list; CACAO allows a string, null or (for dictionaries) an object")
		}
	}
	vo.rest("variable")
	return v
}

func ternary[T any](c bool, a, b T) T {
	if c {
		return a
	}
	return b
}

// agentTarget reads one agent-target object.
func (d *dec) agentTarget(key string, o *obj) *AgentTarget {
	a := &AgentTarget{
		Type:        o.reqStr("type"),
		Name:        o.reqStr("name"),
		Description: o.str("description"),
		Location:    o.rawObject("location"),
		Contact:     o.rawObject("contact"),
		Port:        o.str("port"),
		AuthInfo:    o.ref("authentication_info"),
		Category:    o.strList("category"),
		Logical:     o.strList("logical"),
		Sector:      o.str("sector"),
	}
	if n := o.take("address"); n != nil {
		if ao := d.object(n, o.at("address")); ao != nil {
			a.Address = map[string][]any{}
			for i, k := range n.keys {
				ao.used[k] = true
				v := n.kids[i]
				if v.kind != kArray {
					d.errs.errorf("type", joinPath(ao.path, k), v, "address %q must be a list", k)
					continue
				}
				l := make([]any, 0, len(v.kids))
				for _, e := range v.kids {
					l = append(l, e.value())
				}
				a.Address[k] = l
				switch k {
				case "dname", "ipv4", "ipv6", "l2mac", "vlan", "url":
				default:
					d.errs.warnf("unknown-property", joinPath(ao.path, k), v, "unknown address kind %q (known: dname, ipv4, ipv6, l2mac, vlan, url)", k)
				}
			}
		}
	}
	if pre := idPrefix(key); agentTargetTypes[pre] && a.Type != "" && a.Type != pre {
		d.errs.errorf("enum", o.at("type"), o.n.get("type"), "type %q does not match the key prefix %q (the schema for %s objects applies)", a.Type, pre, pre)
	}
	var mine *node
	a.Extensions, mine = o.extensions("agent_target_extensions")
	if mine != nil {
		if eo := d.object(mine, joinPath(o.at("agent_target_extensions"), RiposteExtensionID)); eo != nil {
			a.Connector = eo.str("connector")
			eo.rest("x-riposte agent-target extension")
		}
	}
	a.Extra = o.rest("agent-target")
	return a
}

// agentTargetTypes is the CACAO agent-target vocabulary.
var agentTargetTypes = map[string]bool{
	"group": true, "individual": true, "location": true, "organization": true, "sector": true,
	"http-api": true, "linux": true, "net-address": true, "security-category": true, "ssh": true,
}

// SecretSink receives secret values found inline in an imported playbook
// (authentication_info passwords and tokens) and returns a reference that
// the playbook keeps instead (written as kms_key_identifier).
type SecretSink interface {
	StoreSecret(authInfoID, field, value string) (ref string, err error)
}

func (d *dec) authInfo(id string, o *obj) *AuthInfo {
	a := &AuthInfo{
		Type:             o.reqStr("type"),
		Name:             o.str("name"),
		Description:      o.str("description"),
		UserID:           o.str("user_id"),
		Username:         o.str("username"),
		KMS:              o.boolean("kms"),
		KMSKeyIdentifier: o.str("kms_key_identifier"),
	}
	if pre := idPrefix(id); (pre == "http-basic" || pre == "oauth2" || pre == "user-auth") && a.Type != "" && a.Type != pre {
		d.errs.errorf("enum", o.at("type"), o.n.get("type"), "type %q does not match the key prefix %q", a.Type, pre)
	}
	for _, f := range []string{"password", "token", "oauth_header"} {
		n := o.take(f)
		if n == nil {
			continue
		}
		p := o.at(f)
		if n.kind != kString {
			o.typeErr(f, n, "a string")
			continue
		}
		if d.yaml {
			d.errs.errorf("secret", p, n, "secrets do not belong in a playbook: store %s in the secret store and set kms_key_identifier", f)
			continue
		}
		if a.KMSKeyIdentifier != "" {
			d.errs.warnf("secret", p, n, "inline %s dropped: kms_key_identifier is set", f)
			continue
		}
		if d.secrets == nil {
			d.errs.warnf("secret", p, n, "inline %s dropped: secrets are never kept in a playbook; store it and set kms_key_identifier", f)
			continue
		}
		ref, err := d.secrets.StoreSecret(id, f, n.s)
		if err != nil {
			d.errs.errorf("secret", p, n, "storing inline %s: %v", f, err)
			continue
		}
		a.KMS, a.KMSKeyIdentifier = true, ref
	}
	a.Extensions, _ = o.extensions("authentication_info_extensions")
	a.Extra = o.rest("authentication info")
	return a
}

func (d *dec) extensionDefinition(o *obj) *ExtensionDefinition {
	return &ExtensionDefinition{
		Type:               o.reqStr("type"),
		Name:               o.reqStr("name"),
		Description:        o.str("description"),
		CreatedBy:          o.reqStr("created_by"),
		Schema:             o.reqStr("schema"),
		Version:            o.reqStr("version"),
		ExternalReferences: o.externalRefs("external_references"),
		Extra:              o.rest("extension definition"),
	}
}

func (d *dec) dataMarking(key string, o *obj) *DataMarking {
	m := &DataMarking{
		Type:               o.reqStr("type"),
		ID:                 o.reqStr("id"),
		Name:               o.str("name"),
		Description:        o.str("description"),
		CreatedBy:          o.reqStr("created_by"),
		Created:            o.timestamp("created"),
		Revoked:            o.boolean("revoked"),
		ValidFrom:          o.timestamp("valid_from"),
		ValidUntil:         o.timestamp("valid_until"),
		Labels:             o.strList("labels"),
		ExternalReferences: o.externalRefs("external_references"),
		Statement:          o.str("statement"),
		TLPv2Level:         o.str("tlpv2_level"),
	}
	if !o.has("created") {
		d.errs.errorf("required", o.at("created"), o.n, "required property \"created\" is missing")
	}
	m.Extensions, _ = o.extensions("marking_extensions")
	// IEP's many fields are kept verbatim without a warning.
	if m.Type == "marking-iep" {
		for i, k := range o.n.keys {
			if !o.used[k] {
				o.used[k] = true
				if m.Extra == nil {
					m.Extra = map[string]json.RawMessage{}
				}
				m.Extra[k] = o.n.kids[i].compactJSON()
			}
		}
	} else {
		m.Extra = o.rest("data marking")
	}
	if m.ID != "" && m.ID != key {
		d.errs.errorf("key-mismatch", o.at("id"), o.n.get("id"), "id %q differs from its key %q", m.ID, key)
	}
	switch m.Type {
	case "marking-tlp":
		if m.TLPv2Level == "" {
			d.errs.errorf("required", o.at("tlpv2_level"), o.n, "required property \"tlpv2_level\" is missing")
		} else if _, ok := tlpMarkings[m.TLPv2Level]; !ok {
			d.errs.errorf("enum", o.at("tlpv2_level"), o.n.get("tlpv2_level"), "%q is not a TLP v2 level (TLP:RED, TLP:AMBER+STRICT, TLP:AMBER, TLP:GREEN, TLP:CLEAR)", m.TLPv2Level)
		}
	case "marking-statement":
		if m.Statement == "" {
			d.errs.errorf("required", o.at("statement"), o.n, "required property \"statement\" is missing")
		}
	}
	return m
}

// command reads one command object, checking its payload fields against the
// command type (cacao.md §3; the per-type check that the official schema
// never performs, §10.1 quirk 2).
func (d *dec) command(o *obj) *Command {
	c := &Command{
		Type:               o.reqStr("type"),
		Description:        o.str("description"),
		Version:            o.str("version"),
		PlaybookActivity:   o.str("playbook_activity"),
		ExternalReferences: o.externalRefs("external_references"),
	}
	present := func(k string) bool { return o.has(k) }
	// Payload fields allowed per known type.
	var allowed []string
	switch c.Type {
	case CmdManual, CmdBash, CmdSSH, CmdPowerShell, CmdCalderaCmd:
		allowed = []string{"command", "command_b64"}
	case CmdHTTPAPI:
		allowed = []string{"command", "headers", "content", "content_b64"}
	case CmdOpenC2HTTP:
		allowed = []string{"command", "headers", "content_b64"}
	case CmdOpenC2:
		allowed = []string{"command", "headers", "content_b64", "b64_command"}
	case CmdElastic, CmdJupyter, CmdKestrel, CmdSigma, CmdYara:
		allowed = []string{"command_b64"}
	case CmdRiposteConnector:
		allowed = []string{"connector", "operation", "args"}
	default:
		allowed = []string{"command", "command_b64", "headers", "content", "content_b64", "b64_command"}
	}
	isAllowed := map[string]bool{}
	for _, k := range allowed {
		isAllowed[k] = true
	}
	c.Command = o.str("command")
	c.CommandB64 = o.str("command_b64")
	c.Content = o.str("content")
	c.ContentB64 = o.str("content_b64")
	b64Command := o.str("b64_command")
	if n := o.take("headers"); n != nil {
		if ho := d.object(n, o.at("headers")); ho != nil {
			c.Headers = map[string][]string{}
			for i, k := range n.keys {
				ho.used[k] = true
				v := n.kids[i]
				switch v.kind {
				case kArray:
					for j, e := range v.kids {
						if e.kind != kString {
							d.errs.errorf("type", indexPath(joinPath(ho.path, k), j), e, "header value must be a string")
							continue
						}
						c.Headers[k] = append(c.Headers[k], e.s)
					}
				case kString:
					// Common mistake; CACAO wants a list.
					c.Headers[k] = []string{v.s}
					d.errs.add(ternary(d.strict, SeverityError, SeverityWarning), "type", joinPath(ho.path, k), v, "header values must be a list of strings")
				default:
					d.errs.errorf("type", joinPath(ho.path, k), v, "header values must be a list of strings, not %s", v.kind)
				}
			}
		}
	}
	c.Connector = o.str("connector")
	c.Operation = o.str("operation")
	if n := o.take("args"); n != nil {
		if n.kind != kObject {
			o.typeErr("args", n, "an object")
		} else {
			c.Args = n.value().(map[string]any)
		}
	}
	// Per-type payload rules.
	sev := ternary(d.strict, SeverityError, SeverityWarning)
	if c.Type != "" {
		for _, k := range []string{"command", "command_b64", "headers", "content", "content_b64", "b64_command", "connector", "operation", "args"} {
			if present(k) && !isAllowed[k] {
				d.errs.add(sev, "command-field", o.at(k), o.n.get(k), "property %q does not apply to %s commands", k, c.Type)
			}
		}
	}
	both := func(a, b string) {
		if present(a) && present(b) {
			d.errs.add(sev, "command-field", o.at(b), o.n.get(b), "%s and %s must not both be set", a, b)
		}
	}
	need := func(k string) {
		if !present(k) {
			d.errs.add(sev, "required", o.at(k), o.n, "%s commands require %q", c.Type, k)
		}
	}
	switch c.Type {
	case CmdManual, CmdBash, CmdSSH, CmdPowerShell, CmdCalderaCmd:
		both("command", "command_b64")
		if !present("command") && !present("command_b64") {
			d.errs.add(sev, "required", o.at("command"), o.n, "%s commands require \"command\" or \"command_b64\"", c.Type)
		}
	case CmdHTTPAPI:
		need("command")
		both("content", "content_b64")
		if c.Command != "" {
			if err := checkStartLine(c.Command, ""); err != nil {
				d.errs.add(SeverityWarning, "command-field", o.at("command"), o.n.get("command"), "%v", err)
			}
		}
	case CmdOpenC2HTTP:
		need("command")
		need("content_b64")
		if c.Command != "" {
			if err := checkStartLine(c.Command, "POST"); err != nil {
				d.errs.add(sev, "command-field", o.at("command"), o.n.get("command"), "%v", err)
			}
		}
	case CmdOpenC2:
		if !present("b64_command") && !present("content_b64") {
			d.errs.add(sev, "required", o.at("b64_command"), o.n, "openc2 commands require \"b64_command\" (or \"content_b64\")")
		}
	case CmdElastic, CmdJupyter, CmdKestrel, CmdSigma, CmdYara:
		need("command_b64")
	case CmdRiposteConnector:
		if c.Connector == "" || c.Operation == "" {
			d.errs.errorf("required", o.at("connector"), o.n, "riposte-connector commands require \"connector\" and \"operation\"")
		}
	}
	for _, f := range []struct {
		k string
		v string
	}{{"command_b64", c.CommandB64}, {"content_b64", c.ContentB64}, {"b64_command", b64Command}} {
		if f.v != "" {
			if _, err := decodeB64(f.v); err != nil {
				d.errs.errorf("base64", o.at(f.k), o.n.get(f.k), "not valid base64: %v", err)
			}
		}
	}
	c.Extra = o.rest(c.Type + " command")
	if c.Type == CmdOpenC2 {
		// The draft OpenC2 extension's transport-agnostic command: Riposte
		// holds and exports it as openc2-http (cacao.md §3).
		d.errs.warnf("command-type", o.at("type"), o.n.get("type"), "openc2 (draft extension) read as openc2-http")
		c.Type = CmdOpenC2HTTP
		if c.ContentB64 == "" {
			c.ContentB64 = b64Command
		}
		if c.Command == "" {
			c.Command = "POST / HTTP/1.1"
		}
	}
	return c
}

// decodeB64 accepts standard and URL alphabets, padded or not.
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	_, err := base64.StdEncoding.DecodeString(s)
	return nil, err
}

// checkStartLine checks an HTTP start line "METHOD target [HTTP/x.y]".
func checkStartLine(s, method string) error {
	f := strings.Fields(s)
	if len(f) < 2 || len(f) > 3 {
		return fmt.Errorf("%q is not an HTTP start line (e.g. \"POST /api/v1/block HTTP/1.1\")", s)
	}
	if method != "" && f[0] != method {
		return fmt.Errorf("the method must be %s, not %s", method, f[0])
	}
	if strings.ToUpper(f[0]) != f[0] {
		return fmt.Errorf("method %q must be upper case", f[0])
	}
	return nil
}

// riposteStepExt decodes Riposte's step extension object into s.
func (d *dec) riposteStepExt(n *node, path string, s *Step) {
	o := d.object(n, path)
	if o == nil {
		return
	}
	if rn := o.take("retry"); rn != nil {
		if ro := d.object(rn, o.at("retry")); ro != nil {
			s.Retry = &RetryPolicy{
				MaxAttempts:         int(ro.integer("max_attempts", 1, 1000)),
				Initial:             time.Duration(ro.integer("initial_interval_ms", 0, math.MaxInt32)) * time.Millisecond,
				Max:                 time.Duration(ro.integer("max_interval_ms", 0, math.MaxInt32)) * time.Millisecond,
				RetryOn:             ro.strList("retry_on"),
				NonRetryable:        ro.strList("non_retryable"),
				RetryUnknownOutcome: ro.boolean("retry_on_unknown_outcome"),
			}
			if bn := ro.take("backoff_coefficient"); bn != nil {
				f, err := strconv.ParseFloat(bn.s, 64)
				if bn.kind != kNumber || err != nil || f < 1 || f > 100 {
					d.errs.errorf("range", ro.at("backoff_coefficient"), bn, "must be a number in 1..100")
				} else {
					s.Retry.Multiplier = f
				}
			}
			ro.rest("x-riposte retry policy")
		}
	}
	if an := o.take("approval"); an != nil {
		if ao := d.object(an, o.at("approval")); ao != nil {
			s.Approval = &Approval{
				Assignees: ao.strList("assignees"),
				Roles:     ao.strList("roles"),
				Quorum:    int(ao.integer("quorum", 0, 100)),
			}
			ao.rest("x-riposte approval")
		}
	}
	s.RevertAfter = time.Duration(o.integer("revert_after_ms", 0, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	s.MaxIterations = int(o.integer("max_iterations", 0, 1_000_000))
	s.ContinueOnError = o.boolean("continue_on_error")
	s.WaitAll = o.boolean("wait_all")
	o.rest("x-riposte step extension")
}

// riposteTrigger decodes the trigger object of Riposte's playbook extension.
func (d *dec) trigger(n *node, path string) *Trigger {
	o := d.object(n, path)
	if o == nil {
		return nil
	}
	t := &Trigger{Manual: o.boolean("manual")}
	t.Alert = d.eventMatch(o.take("alert"), o.at("alert"))
	t.Incident = d.eventMatch(o.take("incident"), o.at("incident"))
	if sn := o.take("schedule"); sn != nil {
		if so := d.object(sn, o.at("schedule")); so != nil {
			t.Schedule = &Schedule{Cron: so.str("cron")}
			if d.yaml {
				t.Schedule.Every = d.duration(so, "every")
			} else {
				t.Schedule.Every = time.Duration(so.integer("every_ms", 0, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
			}
			if (t.Schedule.Cron == "") == (t.Schedule.Every == 0) {
				d.errs.errorf("schedule", so.path, sn, "a schedule needs exactly one of cron and every")
			}
			if t.Schedule.Cron != "" {
				if _, err := ParseCron(t.Schedule.Cron); err != nil {
					d.errs.errorf("schedule", so.at("cron"), so.n.get("cron"), "%v", err)
				}
			}
			so.rest("schedule")
		}
	}
	if wn := o.take("webhook"); wn != nil {
		if wo := d.object(wn, o.at("webhook")); wo != nil {
			t.Webhook = &Webhook{Name: wo.reqStr("name"), SecretRef: wo.str("secret_ref")}
			wo.rest("webhook")
		}
	}
	if bn := o.take("bind"); bn != nil {
		if bo := d.object(bn, o.at("bind")); bo != nil {
			t.Bind = map[string]string{}
			for i, k := range bn.keys {
				bo.used[k] = true
				v := bn.kids[i]
				name := k
				if d.yaml {
					name = varKey(k)
				}
				if !IsVariableName(name) {
					d.errs.errorf("variable-name", joinPath(bo.path, k), v, "%q is not a variable name", k)
				}
				if v.kind != kString {
					d.errs.errorf("type", joinPath(bo.path, k), v, "must be a field path string")
					continue
				}
				t.Bind[name] = v.s
			}
		}
	}
	o.rest("trigger")
	return t
}

func (d *dec) eventMatch(n *node, path string) *EventMatch {
	if n == nil {
		return nil
	}
	o := d.object(n, path)
	if o == nil {
		return nil
	}
	m := &EventMatch{
		Rules:          o.strList("rules"),
		Tags:           o.strList("tags"),
		Tactics:        o.strList("tactics"),
		Priorities:     o.strList("priorities"),
		EntityTypes:    o.strList("entity_types"),
		AssetTags:      o.strList("asset_tags"),
		MinCriticality: int(o.integer("min_criticality", 0, 5)),
		Condition:      o.str("condition"),
	}
	for i, p := range m.Priorities {
		switch p {
		case "P1", "P2", "P3", "P4":
		default:
			d.errs.errorf("enum", indexPath(o.at("priorities"), i), o.n.get("priorities"), "priority %q must be one of P1, P2, P3, P4", p)
		}
	}
	o.rest("trigger match")
	return m
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
