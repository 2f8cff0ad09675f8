package intel

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// MaxMISPBytes bounds one MISP event file or manifest.
const MaxMISPBytes = 128 << 20

// flexString accepts a JSON string, number, bool or null (MISP writes
// timestamps and ids both ways).
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
		return nil
	}
	if b[0] == '{' || b[0] == '[' {
		return errors.New("expected a string, got " + map[byte]string{'{': "an object", '[': "an array"}[b[0]])
	}
	*f = flexString(b)
	return nil
}

// flexBool accepts true/false, "1"/"0", "true"/"false", 1/0 and null.
type flexBool bool

func (f *flexBool) UnmarshalJSON(b []byte) error {
	var s flexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	switch strings.ToLower(strings.TrimSpace(string(s))) {
	case "true", "1":
		*f = true
	case "false", "0", "":
		*f = false
	default:
		return fmt.Errorf("expected a boolean, got %q", clip(string(s)))
	}
	return nil
}

type mispTag struct {
	Name flexString `json:"name"`
}

type mispAttr struct {
	UUID      flexString `json:"uuid"`
	Type      flexString `json:"type"`
	Category  flexString `json:"category"`
	Value     flexString `json:"value"`
	ToIDs     flexBool   `json:"to_ids"`
	Deleted   flexBool   `json:"deleted"`
	Timestamp flexString `json:"timestamp"`
	FirstSeen flexString `json:"first_seen"`
	LastSeen  flexString `json:"last_seen"`
	Comment   flexString `json:"comment"`
	Tag       []mispTag  `json:"Tag"`
}

type mispObject struct {
	UUID      flexString        `json:"uuid"`
	Name      flexString        `json:"name"`
	Deleted   flexBool          `json:"deleted"`
	Attribute []json.RawMessage `json:"Attribute"`
}

type mispEvent struct {
	UUID          flexString                 `json:"uuid"`
	Info          flexString                 `json:"info"`
	Date          flexString                 `json:"date"`
	ThreatLevelID flexString                 `json:"threat_level_id"`
	Timestamp     flexString                 `json:"timestamp"`
	Orgc          *struct{ Name flexString } `json:"Orgc"`
	Tag           []mispTag                  `json:"Tag"`
	Attribute     []json.RawMessage          `json:"Attribute"`
	Object        []json.RawMessage          `json:"Object"`
	Galaxy        []struct {
		GalaxyCluster []struct {
			TagName flexString `json:"tag_name"`
		} `json:"GalaxyCluster"`
	} `json:"Galaxy"`
}

// ImportMISPEvent reads one MISP event in the core format ({"Event": …}),
// a bare event object, or a restSearch answer ({"response": [{"Event": …}]}).
func ImportMISPEvent(r io.Reader, feed string) (Result, error) {
	return ImportMISPEventOptions(r, Options{Feed: feed})
}

// ImportMISPEventOptions is ImportMISPEvent with feed settings.
func ImportMISPEventOptions(r io.Reader, o Options) (Result, error) {
	var res Result
	data, err := readLimited(r, MaxMISPBytes)
	if err != nil {
		return res, err
	}
	if err := importMISPEventData(data, &o, &res, ""); err != nil {
		return res, err
	}
	return res, nil
}

// ImportMISPFeedDir reads a MISP feed directory on disk.
func ImportMISPFeedDir(dir string, feed string) (Result, error) {
	return ImportMISPFeed(os.DirFS(dir), feed)
}

// ImportMISPFeed reads a MISP feed (manifest.json and one <uuid>.json per
// event listed in it) from fsys.
func ImportMISPFeed(fsys fs.FS, feed string) (Result, error) {
	return ImportMISPFeedOptions(fsys, Options{Feed: feed})
}

// ImportMISPFeedOptions is ImportMISPFeed with feed settings.
func ImportMISPFeedOptions(fsys fs.FS, o Options) (Result, error) {
	var res Result
	manifest, err := ReadMISPManifest(fsys)
	if err != nil {
		return res, err
	}
	uuids := make([]string, 0, len(manifest))
	for u := range manifest {
		uuids = append(uuids, u)
	}
	slices.Sort(uuids)
	for _, u := range uuids {
		where := "manifest event " + clip(u)
		if !isUUID(u) {
			res.problem(Problem{Feed: o.Feed, Where: where, Msg: "manifest key is not a uuid"})
			continue
		}
		f, err := fsys.Open(u + ".json")
		if err != nil {
			res.problem(Problem{Feed: o.Feed, Where: where, Msg: "event file: " + err.Error()})
			continue
		}
		data, err := readLimited(f, MaxMISPBytes)
		f.Close()
		if err != nil {
			res.problem(Problem{Feed: o.Feed, Where: u + ".json", Msg: err.Error()})
			continue
		}
		if err := importMISPEventData(data, &o, &res, u); err != nil {
			res.problem(Problem{Feed: o.Feed, Where: u + ".json", Msg: err.Error()})
		}
	}
	return res, nil
}

// MISPManifestEntry is one event of a feed's manifest.json.
type MISPManifestEntry struct {
	Info          string    `json:"info"`
	Date          string    `json:"date"`
	ThreatLevelID string    `json:"threat_level_id"`
	Timestamp     time.Time `json:"timestamp"`
}

// ReadMISPManifest reads manifest.json from a feed, for syncing: fetch the
// events whose Timestamp is newer than the stored one, retire the rest.
func ReadMISPManifest(fsys fs.FS) (map[string]MISPManifestEntry, error) {
	f, err := fsys.Open("manifest.json")
	if err != nil {
		return nil, fmt.Errorf("misp feed: %w", err)
	}
	data, err := readLimited(f, MaxMISPBytes)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("misp feed: manifest.json: %w", err)
	}
	var raw map[string]struct {
		Info          flexString `json:"info"`
		Date          flexString `json:"date"`
		ThreatLevelID flexString `json:"threat_level_id"`
		Timestamp     flexString `json:"timestamp"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("misp feed: manifest.json: %w", err)
	}
	out := make(map[string]MISPManifestEntry, len(raw))
	for u, m := range raw {
		ts, _ := epoch(string(m.Timestamp))
		out[u] = MISPManifestEntry{Info: string(m.Info), Date: string(m.Date),
			ThreatLevelID: string(m.ThreatLevelID), Timestamp: ts}
	}
	return out, nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if s[i] != '-' {
				return false
			}
		} else if unhex(s[i]) < 0 {
			return false
		}
	}
	return true
}

func importMISPEventData(data []byte, o *Options, res *Result, fileUUID string) error {
	var wrap struct {
		Event    json.RawMessage `json:"Event"`
		Response []struct {
			Event json.RawMessage `json:"Event"`
		} `json:"response"`
	}
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return errors.New("not a MISP event: expected a JSON object")
	}
	if err := json.Unmarshal(data, &wrap); err != nil {
		return fmt.Errorf("not a MISP event: %w", err)
	}
	switch {
	case wrap.Event != nil:
		return importMISPEventObject(wrap.Event, o, res, fileUUID)
	case wrap.Response != nil:
		for i, r := range wrap.Response {
			if r.Event == nil {
				res.problem(Problem{Feed: o.Feed, Where: fmt.Sprintf("response[%d]", i), Msg: "no Event"})
				continue
			}
			if err := importMISPEventObject(r.Event, o, res, ""); err != nil {
				res.problem(Problem{Feed: o.Feed, Where: fmt.Sprintf("response[%d]", i), Msg: err.Error()})
			}
		}
		return nil
	}
	return importMISPEventObject(data, o, res, fileUUID)
}

// Threat level → confidence (1 high, 2 medium, 3 low; 4 undefined takes
// the feed default).
var mispThreatConfidence = map[string]int{"1": 90, "2": 70, "3": 40}

// MISP taxonomy misp:confidence-level → confidence.
var mispConfidenceTags = map[string]int{
	"completely-confident": 100, "usually-confident": 75, "fairly-confident": 50,
	"rarely-confident": 25, "unconfident": 0,
}

// tagFacts sorts tags into TLP, confidence and labels.
type tagFacts struct {
	tlp        TLP
	confidence int // -1: none
	labels     []string
}

func readTags(tags []mispTag) tagFacts {
	tf := tagFacts{confidence: -1}
	for i, t := range tags {
		if i >= 256 {
			break
		}
		name := strings.TrimSpace(string(t.Name))
		lower := strings.ToLower(name)
		switch {
		case name == "":
		case strings.HasPrefix(lower, "tlp:"):
			if l, ok := ParseTLP(lower); ok {
				tf.tlp = tf.tlp.MoreRestrictive(l)
			} else {
				tf.tlp = tf.tlp.MoreRestrictive(TLPAmber)
			}
		case strings.HasPrefix(lower, "misp:confidence-level="):
			if c, ok := mispConfidenceTags[strings.Trim(lower[len("misp:confidence-level="):], `"`)]; ok {
				tf.confidence = c
			}
		default:
			tf.labels = addLabel(tf.labels, name)
			if l := attackFromTag(name); l != "" {
				tf.labels = addLabel(tf.labels, l)
			}
		}
	}
	return tf
}

// attackFromTag reads the technique id from an ATT&CK galaxy tag such as
// misp-galaxy:mitre-attack-pattern="Spearphishing Attachment - T1566.001".
func attackFromTag(tag string) string {
	if !strings.HasPrefix(tag, "misp-galaxy:mitre-") {
		return ""
	}
	tag = strings.TrimSuffix(tag, `"`)
	i := strings.LastIndex(tag, " - ")
	if i < 0 {
		return ""
	}
	id := tag[i+3:]
	if len(id) > 1 && (id[0] == 'T' || id[0] == 't') && isDigits(strings.ReplaceAll(id[1:], ".", "")) {
		return "attack." + strings.ToLower(id)
	}
	return ""
}

func importMISPEventObject(raw json.RawMessage, o *Options, res *Result, fileUUID string) error {
	var ev mispEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		return fmt.Errorf("malformed MISP event: %w", err)
	}
	evUUID := string(ev.UUID)
	if evUUID == "" {
		evUUID = fileUUID
	}
	if fileUUID != "" && evUUID != fileUUID {
		res.problem(Problem{Feed: o.Feed, Severity: SeverityWarning, Where: "event " + clip(evUUID),
			Msg: "event uuid differs from its file name " + fileUUID + ".json"})
	}
	evTags := readTags(ev.Tag)
	for _, g := range ev.Galaxy {
		for _, c := range g.GalaxyCluster {
			if n := string(c.TagName); n != "" {
				evTags.labels = addLabel(evTags.labels, n)
				if l := attackFromTag(n); l != "" {
					evTags.labels = addLabel(evTags.labels, l)
				}
			}
		}
	}
	conf := o.confidence()
	if c, ok := mispThreatConfidence[strings.TrimSpace(string(ev.ThreatLevelID))]; ok {
		conf = c
	}
	if evTags.confidence >= 0 {
		conf = evTags.confidence
	}
	evTime, _ := epoch(string(ev.Timestamp))
	ctx := &mispCtx{o: o, res: res, ev: &ev, uuid: evUUID, tags: evTags, conf: conf, evTime: evTime}
	if ev.Orgc != nil {
		ctx.org = string(ev.Orgc.Name)
	}
	for i, a := range ev.Attribute {
		ctx.attribute(a, fmt.Sprintf("Attribute[%d]", i), false)
	}
	for i, rawObj := range ev.Object {
		var obj mispObject
		where := fmt.Sprintf("Object[%d]", i)
		if err := json.Unmarshal(rawObj, &obj); err != nil {
			res.problem(Problem{Feed: o.Feed, Where: "event " + clip(evUUID) + " " + where, Msg: "malformed object: " + err.Error()})
			continue
		}
		for j, a := range obj.Attribute {
			ctx.attribute(a, fmt.Sprintf("%s.Attribute[%d]", where, j), bool(obj.Deleted))
		}
	}
	return nil
}

type mispCtx struct {
	o      *Options
	res    *Result
	ev     *mispEvent
	uuid   string
	org    string
	tags   tagFacts
	conf   int
	evTime time.Time
}

// mispPart is one typed part of a (possibly composite) attribute value.
type mispPart struct {
	kind  Kind
	value string
}

func (c *mispCtx) attribute(raw json.RawMessage, ref string, objDeleted bool) {
	c.res.Items++
	where := "event " + clip(c.uuid) + " " + ref
	var a mispAttr
	if err := json.Unmarshal(raw, &a); err != nil {
		c.res.problem(Problem{Feed: c.o.Feed, Where: where, Msg: "malformed attribute: " + err.Error()})
		return
	}
	if a.UUID != "" {
		where += " " + clip(string(a.UUID))
	}
	typ := strings.ToLower(strings.TrimSpace(string(a.Type)))
	value := strings.TrimSpace(string(a.Value))
	if value == "" {
		c.res.problem(Problem{Feed: c.o.Feed, Where: where, Msg: "attribute has no value"})
		return
	}
	left, right, composite := strings.Cut(value, "|")
	var parts []mispPart
	extra := map[string]string{}
	ip := func(v string) mispPart { return mispPart{KindIPv4, v} } // refined by Normalize
	switch typ {
	case "ip-src", "ip-dst":
		parts = []mispPart{ip(value)}
		extra["direction"] = typ[3:]
	case "ip-src|port", "ip-dst|port":
		parts = []mispPart{ip(left)}
		extra["direction"], extra["port"] = typ[3:6], right
	case "domain", "hostname":
		parts = []mispPart{{KindDomain, value}}
	case "domain|ip":
		parts = []mispPart{{KindDomain, left}, ip(right)}
	case "hostname|port":
		parts = []mispPart{{KindDomain, left}}
		extra["port"] = right
	case "url":
		parts = []mispPart{{KindURL, value}}
	case "md5", "sha1", "sha256", "sha512":
		parts = []mispPart{{Kind(typ), value}}
	case "filename|md5", "filename|sha1", "filename|sha256", "filename|sha512":
		parts = []mispPart{{Kind(typ[9:]), right}}
		extra["filename"] = left
	case "x509-fingerprint-md5", "x509-fingerprint-sha1", "x509-fingerprint-sha256":
		parts = []mispPart{{Kind(typ[17:]), value}}
		extra["x509"] = "fingerprint"
	case "email", "email-src", "email-dst", "email-reply-to":
		parts = []mispPart{{KindEmail, value}}
	case "user-agent":
		parts = []mispPart{{KindUserAgent, value}}
	case "ja3-fingerprint-md5":
		parts = []mispPart{{KindJA3, value}}
	case "mutex":
		parts = []mispPart{{KindMutex, value}}
	case "regkey":
		parts = []mispPart{{KindRegKey, value}}
	case "regkey|value":
		parts = []mispPart{{KindRegKey, left}}
		extra["value"] = right
	case "as":
		parts = []mispPart{{KindASN, value}}
	case "filename":
		parts = []mispPart{{KindFilename, value}}
	default:
		// uri, link, text, comment, vulnerability, sigma, yara, snort, ...:
		// context for people, nothing for the index.
		c.res.skip("misp:" + clip(typ))
		return
	}
	if strings.Contains(typ, "|") && !composite {
		c.res.problem(Problem{Feed: c.o.Feed, Where: where, Msg: fmt.Sprintf("composite type %s without '|' in the value", typ)})
		return
	}
	attrTags := readTags(a.Tag)
	src := Source{
		Feed:       c.o.Feed,
		ID:         string(a.UUID),
		Event:      c.uuid,
		Name:       string(c.ev.Info),
		Ref:        ref,
		Confidence: c.conf,
		TLP:        c.tags.tlp,
		Active:     bool(a.ToIDs) && !bool(a.Deleted) && !objDeleted,
	}
	if attrTags.tlp != "" {
		src.TLP = attrTags.tlp // attribute tags override event tags
	}
	if attrTags.confidence >= 0 {
		src.Confidence = attrTags.confidence
	}
	ts, _ := epoch(string(a.Timestamp))
	src.Modified = ts
	if c.org != "" {
		setContext(&src, "org", c.org)
	}
	switch {
	case bool(a.Deleted) || objDeleted:
		setContext(&src, "inactive", "deleted in MISP")
		src.Labels = addLabel(src.Labels, "misp:deleted")
	case !bool(a.ToIDs):
		setContext(&src, "inactive", "to_ids is false")
	}
	for k, v := range extra {
		if v != "" {
			setContext(&src, k, v)
		}
	}
	if cat := strings.TrimSpace(string(a.Category)); cat != "" {
		src.Labels = addLabel(src.Labels, "misp-category:"+cat)
	}
	for _, l := range c.tags.labels {
		src.Labels = addLabel(src.Labels, l)
	}
	for _, l := range attrTags.labels {
		src.Labels = addLabel(src.Labels, l)
	}
	base := ts
	if c.evTime.After(base) {
		base = c.evTime
	}
	if s := string(a.FirstSeen); s != "" {
		if t, err := parseMISPTime(s); err == nil {
			src.ValidFrom = t
		} else {
			c.res.problem(Problem{Feed: c.o.Feed, Severity: SeverityWarning, Where: where, Msg: "first_seen: " + err.Error()})
		}
	}
	if s := string(a.LastSeen); s != "" {
		if t, err := parseMISPTime(s); err == nil && t.After(base) {
			base = t
		}
	}
	for _, p := range parts {
		kind, v, err := normalize(p.kind, p.value, c.o.AllowSingleLabel)
		if err == nil && p.kind == KindIPv4 && !isIPKind(kind) {
			err = errors.New("not an address")
		}
		if err != nil {
			c.res.problem(Problem{Feed: c.o.Feed, Where: where, Msg: fmt.Sprintf("%s value: %v", typ, err)})
			continue
		}
		s := src
		s.Labels = slices.Clone(src.Labels)
		if src.Context != nil {
			s.Context = map[string]string{}
			for k, v := range src.Context {
				s.Context[k] = v
			}
		}
		in := Indicator{Kind: kind, Value: v, Match: MatchExact, Sources: []Source{s}}
		if msg := c.o.finish(&in, base); msg != "" {
			c.res.problem(Problem{Feed: c.o.Feed, Severity: SeverityWarning, Where: where, Msg: msg})
		}
		c.res.Indicators = append(c.res.Indicators, in)
	}
}

// parseMISPTime reads first_seen/last_seen: RFC 3339 (MISP writes
// microseconds and an offset) or epoch seconds.
func parseMISPTime(s string) (time.Time, error) {
	if t, ok := epoch(s); ok {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02T15:04:05.999999999-0700", s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("bad time %q", clip(s))
}
