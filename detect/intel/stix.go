package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// MaxSTIXBytes bounds one STIX bundle or TAXII envelope.
const MaxSTIXBytes = 256 << 20

// The STIX 2.1 built-in TLP 1.0 marking definitions and the TLP 2.0 ones
// published with the OASIS TLP 2.0 extension.
var wellKnownMarkings = map[string]TLP{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": TLPRed,
	"marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487": TLPClear,
	"marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb": TLPGreen,
	"marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421": TLPAmber,
	"marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003": TLPAmberStrict,
	"marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1": TLPRed,
}

// tlp2Extension is the extension definition TLP 2.0 markings use.
const tlp2Extension = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"

// ImportSTIX reads a STIX 2.1 bundle (or a TAXII envelope, or a JSON array
// of objects) and returns its indicators. The error is non-nil only when
// the input as a whole is unreadable; problems with single objects are in
// Result.Problems.
func ImportSTIX(r io.Reader, feed string) (Result, error) {
	return ImportSTIXOptions(r, Options{Feed: feed})
}

// ImportSTIXOptions is ImportSTIX with feed settings.
func ImportSTIXOptions(r io.Reader, o Options) (Result, error) {
	var res Result
	data, err := readLimited(r, MaxSTIXBytes)
	if err != nil {
		return res, err
	}
	objs, err := stixObjects(data)
	if err != nil {
		return res, err
	}
	st := newSTIXState(&o, &res, nil)
	for i, raw := range objs {
		st.add(raw, fmt.Sprintf("objects[%d]", i))
	}
	st.finish()
	return res, nil
}

func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("input larger than %d bytes", max)
	}
	return data, nil
}

// stixObjects returns the objects of a bundle, envelope, array or single
// object.
func stixObjects(data []byte) ([]json.RawMessage, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, errors.New("empty input")
	}
	if data[0] == '[' {
		var objs []json.RawMessage
		if err := json.Unmarshal(data, &objs); err != nil {
			return nil, fmt.Errorf("not a JSON array of STIX objects: %w", err)
		}
		return objs, nil
	}
	var top struct {
		Type    string            `json:"type"`
		ID      string            `json:"id"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("not a STIX bundle: %w", err)
	}
	switch {
	case top.Type == "bundle" || top.Objects != nil:
		return top.Objects, nil
	case top.Type != "":
		return []json.RawMessage{data}, nil
	}
	return nil, errors.New("not a STIX bundle: no type and no objects")
}

type stixHead struct {
	Type string `json:"type"`
	ID   string `json:"id"`
}

type stixExtRef struct {
	SourceName string `json:"source_name"`
	ExternalID string `json:"external_id"`
}

type stixObject struct {
	Type              string          `json:"type"`
	SpecVersion       string          `json:"spec_version"`
	ID                string          `json:"id"`
	Created           string          `json:"created"`
	Modified          string          `json:"modified"`
	Revoked           bool            `json:"revoked"`
	Confidence        *float64        `json:"confidence"`
	Labels            []string        `json:"labels"`
	ObjectMarkingRefs []string        `json:"object_marking_refs"`
	Name              string          `json:"name"`
	IndicatorTypes    []string        `json:"indicator_types"`
	Pattern           *string         `json:"pattern"`
	PatternType       string          `json:"pattern_type"`
	ValidFrom         string          `json:"valid_from"`
	ValidUntil        string          `json:"valid_until"`
	KillChainPhases   []killChain     `json:"kill_chain_phases"`
	ExternalRefs      []stixExtRef    `json:"external_references"`
	DefinitionType    string          `json:"definition_type"`
	Definition        json.RawMessage `json:"definition"`
	Extensions        map[string]struct {
		TLP20 string `json:"tlp_2_0"`
	} `json:"extensions"`
	RelationshipType string `json:"relationship_type"`
	SourceRef        string `json:"source_ref"`
	TargetRef        string `json:"target_ref"`
}

type killChain struct {
	KillChainName string `json:"kill_chain_name"`
	PhaseName     string `json:"phase_name"`
}

type stixIndicator struct {
	obj      stixObject
	modified time.Time
	where    string
}

// stixState collects the objects of one bundle (or of one TAXII poll) and
// turns indicators into Indicators once markings and relationships are
// known.
type stixState struct {
	o        *Options
	res      *Result
	markings map[string]TLP      // marking-definition id -> TLP; "" = not a TLP marking
	names    map[string][]string // SDO id -> labels it contributes
	rels     map[string][]string // indicator id -> target ids of "indicates"
	inds     map[string]*stixIndicator
	order    []string
}

func newSTIXState(o *Options, res *Result, markings map[string]TLP) *stixState {
	if markings == nil {
		markings = map[string]TLP{}
	}
	return &stixState{o: o, res: res, markings: markings,
		names: map[string][]string{}, rels: map[string][]string{}, inds: map[string]*stixIndicator{}}
}

func (st *stixState) problem(where string, sev Severity, f string, a ...any) {
	st.res.problem(Problem{Feed: st.o.Feed, Severity: sev, Where: where, Msg: fmt.Sprintf(f, a...)})
}

func parseStamp(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("bad timestamp %q", clip(s))
	}
	return t.UTC(), nil
}

// add reads one object.
func (st *stixState) add(raw json.RawMessage, where string) {
	st.res.Items++
	var h stixHead
	if err := json.Unmarshal(raw, &h); err != nil {
		st.problem(where, SeverityError, "not a STIX object: %v", err)
		return
	}
	if h.ID != "" {
		where += " " + clip(h.ID)
	}
	var obj stixObject
	switch h.Type {
	case "indicator", "marking-definition", "relationship", "malware", "threat-actor",
		"intrusion-set", "campaign", "tool", "attack-pattern", "infrastructure":
		if err := json.Unmarshal(raw, &obj); err != nil {
			st.problem(where, SeverityError, "malformed %s: %v", h.Type, err)
			return
		}
	case "":
		st.problem(where, SeverityError, "object has no type")
		return
	default:
		st.res.skip("stix:" + clip(h.Type))
		return
	}
	switch h.Type {
	case "indicator":
		st.addIndicator(obj, where)
		return
	case "marking-definition":
		st.markings[obj.ID] = markingTLP(obj)
	case "relationship":
		if obj.RelationshipType == "indicates" && strings.HasPrefix(obj.SourceRef, "indicator--") && !obj.Revoked {
			if len(st.rels[obj.SourceRef]) < 64 {
				st.rels[obj.SourceRef] = append(st.rels[obj.SourceRef], obj.TargetRef)
			}
		}
	default:
		var ls []string
		if obj.Name != "" {
			ls = append(ls, h.Type+":"+obj.Name)
		}
		ls = append(ls, attackLabels(obj.ExternalRefs)...)
		if len(ls) > 0 {
			st.names[obj.ID] = ls
		}
	}
	st.res.skip("stix:" + h.Type)
}

// markingTLP returns the TLP a marking definition states ("" for
// statement and other non-TLP markings).
func markingTLP(obj stixObject) TLP {
	if t, ok := wellKnownMarkings[obj.ID]; ok {
		return t
	}
	if ext, ok := obj.Extensions[tlp2Extension]; ok {
		if t, ok := ParseTLP(ext.TLP20); ok {
			return t
		}
		return TLPAmber
	}
	if strings.EqualFold(obj.DefinitionType, "tlp") {
		var d struct {
			TLP string `json:"tlp"`
		}
		_ = json.Unmarshal(obj.Definition, &d)
		if t, ok := ParseTLP(d.TLP); ok {
			return t
		}
		return TLPAmber
	}
	if t, ok := ParseTLP(obj.Name); ok && strings.HasPrefix(strings.ToUpper(obj.Name), "TLP:") {
		return t
	}
	if obj.DefinitionType == "statement" {
		return ""
	}
	return TLPAmber
}

// attackLabels turns ATT&CK external references into Sigma-style tags.
func attackLabels(refs []stixExtRef) []string {
	var out []string
	for _, r := range refs {
		if strings.HasPrefix(r.SourceName, "mitre-") && len(r.ExternalID) > 1 &&
			(r.ExternalID[0] == 'T' || r.ExternalID[0] == 't') && isDigits(strings.ReplaceAll(r.ExternalID[1:], ".", "")) {
			out = append(out, "attack."+strings.ToLower(r.ExternalID))
		}
	}
	return out
}

func (st *stixState) addIndicator(obj stixObject, where string) {
	if !strings.HasPrefix(obj.ID, "indicator--") {
		st.problem(where, SeverityError, "indicator id %q does not start with \"indicator--\"", clip(obj.ID))
		return
	}
	var mod time.Time
	for _, s := range []string{obj.Modified, obj.Created} {
		if s == "" {
			continue
		}
		t, err := parseStamp(s)
		if err != nil {
			st.problem(where, SeverityWarning, "modified/created: %v", err)
			continue
		}
		mod = t
		break
	}
	if prev, ok := st.inds[obj.ID]; ok {
		if !mod.After(prev.modified) {
			return // older or same version: ignore
		}
		prev.obj, prev.modified, prev.where = obj, mod, where
		return
	}
	if len(st.inds) >= 1<<22 {
		st.problem(where, SeverityError, "too many indicators in one input")
		return
	}
	st.inds[obj.ID] = &stixIndicator{obj: obj, modified: mod, where: where}
	st.order = append(st.order, obj.ID)
}

// finish converts the collected indicators.
func (st *stixState) finish() {
	for _, id := range st.order {
		si := st.inds[id]
		st.convert(si)
	}
	st.inds = map[string]*stixIndicator{}
	st.order = nil
}

func (st *stixState) convert(si *stixIndicator) {
	obj, where := si.obj, si.where
	if obj.SpecVersion != "2.1" {
		if obj.SpecVersion == "" {
			st.problem(where, SeverityWarning, "no spec_version: read as STIX 2.0")
		} else {
			st.problem(where, SeverityWarning, "spec_version %q read as 2.1", clip(obj.SpecVersion))
		}
	}
	if obj.Pattern == nil || strings.TrimSpace(*obj.Pattern) == "" {
		st.problem(where, SeverityError, "indicator has no pattern")
		return
	}
	pattern := strings.TrimSpace(*obj.Pattern)
	src := Source{
		Feed:     st.o.Feed,
		ID:       obj.ID,
		Name:     obj.Name,
		Modified: si.modified,
		Ref:      strings.SplitN(where, " ", 2)[0],
		Revoked:  obj.Revoked,
		Active:   true,
	}
	switch {
	case obj.Confidence == nil:
		src.Confidence = st.o.confidence()
	case *obj.Confidence < 0 || *obj.Confidence > 100 || *obj.Confidence != math.Trunc(*obj.Confidence):
		st.problem(where, SeverityWarning, "confidence %v is not an integer 0-100: using the feed default", *obj.Confidence)
		src.Confidence = st.o.confidence()
	default:
		src.Confidence = int(*obj.Confidence)
	}
	if obj.ValidFrom != "" {
		t, err := parseStamp(obj.ValidFrom)
		if err != nil {
			st.problem(where, SeverityWarning, "valid_from: %v: using modified", err)
			src.ValidFrom = si.modified
		} else {
			src.ValidFrom = t
		}
	} else {
		st.problem(where, SeverityWarning, "indicator has no valid_from: using modified")
		src.ValidFrom = si.modified
	}
	if obj.ValidUntil != "" {
		t, err := parseStamp(obj.ValidUntil)
		if err != nil {
			st.problem(where, SeverityWarning, "valid_until: %v: default TTL applies", err)
		} else {
			if !t.After(src.ValidFrom) {
				st.problem(where, SeverityWarning, "valid_until %s is not after valid_from: the indicator never detects", obj.ValidUntil)
			}
			src.ValidUntil = t
		}
	}
	for _, ref := range obj.ObjectMarkingRefs {
		t, ok := st.markings[ref]
		if !ok {
			t, ok = wellKnownMarkings[ref]
		}
		if !ok {
			t = TLPAmber // spec §2.1: unknown marking
		}
		src.TLP = src.TLP.MoreRestrictive(t)
	}
	for _, l := range obj.IndicatorTypes {
		src.Labels = addLabel(src.Labels, l)
	}
	for _, l := range obj.Labels {
		src.Labels = addLabel(src.Labels, l)
	}
	for _, k := range obj.KillChainPhases {
		if strings.HasPrefix(k.KillChainName, "mitre-") && k.PhaseName != "" {
			src.Labels = addLabel(src.Labels, "attack."+strings.ReplaceAll(strings.ToLower(k.PhaseName), "-", "_"))
		}
	}
	for _, l := range attackLabels(obj.ExternalRefs) {
		src.Labels = addLabel(src.Labels, l)
	}
	for _, target := range st.rels[obj.ID] {
		for _, l := range st.names[target] {
			src.Labels = addLabel(src.Labels, l)
		}
	}
	if len(src.Labels) > 64 {
		src.Labels = src.Labels[:64]
	}
	base := si.modified
	if src.ValidFrom.After(base) {
		base = src.ValidFrom
	}

	ptype := strings.ToLower(strings.TrimSpace(obj.PatternType))
	if ptype == "" && obj.SpecVersion != "2.1" {
		ptype = "stix"
	}
	if ptype != "stix" {
		st.keepPattern(src, pattern, base, where, fmt.Sprintf("pattern_type %q has no matcher in the index", clip(ptype)))
		return
	}
	tree, warns, err := parsePattern(pattern)
	for _, w := range warns {
		st.problem(where, SeverityWarning, "pattern: %s", w)
	}
	if err != nil {
		setContext(&src, "error", err.Error())
		st.keepPattern(src, pattern, base, where, "pattern does not parse: "+err.Error())
		return
	}
	lookups, reason := tier1(tree)
	if reason != "" {
		st.keepPattern(src, pattern, base, where, reason)
		return
	}
	seen := map[string]bool{}
	for _, l := range lookups {
		kind, value, err := normalize(l.kind, l.value, st.o.AllowSingleLabel)
		if err == nil && (l.kind == KindIPv4 && kind != KindIPv4 && kind != KindCIDR4 ||
			l.kind == KindIPv6 && kind != KindIPv6 && kind != KindCIDR6) {
			err = fmt.Errorf("%s does not hold an address of its family", l.path)
		}
		if err != nil {
			st.problem(where, SeverityError, "pattern literal for %s: %v", l.path, err)
			continue
		}
		if seen[string(kind)+value] {
			continue
		}
		seen[string(kind)+value] = true
		s := src
		s.Labels = append([]string(nil), src.Labels...)
		in := Indicator{Kind: kind, Value: value, Match: MatchExact, Sources: []Source{s}}
		if msg := st.o.finish(&in, base); msg != "" {
			st.problem(where, SeverityWarning, "%s", msg)
		}
		st.res.Indicators = append(st.res.Indicators, in)
	}
}

// keepPattern stores a pattern the index cannot look up as context.
func (st *stixState) keepPattern(src Source, pattern string, base time.Time, where, why string) {
	st.problem(where, SeverityWarning, "kept as context, not matched: %s", why)
	src.Active = false
	setContext(&src, "inactive", why)
	in := Indicator{Kind: KindPattern, Value: pattern, Match: MatchExact, Sources: []Source{src}}
	st.o.finish(&in, base)
	st.res.Indicators = append(st.res.Indicators, in)
}
