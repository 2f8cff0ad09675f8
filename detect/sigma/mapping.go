package sigma

import (
	"fmt"
	"sort"
	"strings"

	"github.com/riposte-soar/riposte/event"
)

// Mapping is the configuration that ties abstract Sigma rules to concrete
// events: which event logsources a rule's logsource covers, which event
// fields a rule field may be found under, and the values of expand
// placeholders. See README.md for the YAML form LoadMapping reads.
type Mapping struct {
	// Placeholders resolve %name% in |expand values; each value is a Sigma
	// string (wildcards allowed) and the list is ORed.
	Placeholders map[string][]string
	// Fields lists, per rule logsource, the event fields a rule field is
	// looked up under when the event lacks the rule's own name. Entries are
	// tried in order; an entry applies to a rule when every logsource key it
	// sets equals the rule's.
	Fields []FieldMapping
	// Categories, Services and Products widen logsource matching: a rule
	// written for key K also sees events whose value is listed under K
	// (registry_event covers registry_set, ...).
	Categories map[string][]string
	Services   map[string][]string
	Products   map[string][]string
	// Taxonomies lists the rule taxonomies accepted besides "sigma".
	Taxonomies []string
}

// FieldMapping maps rule field names to event field names for the rules
// whose logsource matches LogSource (empty keys are wildcards).
type FieldMapping struct {
	LogSource LogSource
	Fields    map[string][]string
}

// DefaultMapping returns the built-in tables: SigmaHQ's tests/thor.yml
// field mappings (Security 4688 NewProcessName for Image, Defender
// ThreatName for Signature, ...), the umbrella categories, and ECS names
// as fallbacks for the Sysmon names, so rules also run on ECS events.
func DefaultMapping() *Mapping {
	return &Mapping{
		Placeholders: map[string][]string{},
		Fields: []FieldMapping{
			{
				LogSource: LogSource{Product: "windows", Category: "process_creation"},
				Fields: map[string][]string{
					"Image":       {"NewProcessName"},
					"ParentImage": {"ParentProcessName"},
				},
			},
			{
				LogSource: LogSource{Category: "antivirus"},
				Fields: map[string][]string{
					"Signature": {"ThreatName"},
					"Filename":  {"Path"},
				},
			},
			{
				// Linux rules written with Sysmon-for-Linux names, on auditd
				// records (the normalizer keeps their raw keys and adds
				// process.command_line/process.executable, see the ECS
				// entry).
				LogSource: LogSource{Product: "linux"},
				Fields: map[string][]string{
					"Image":            {"exe"},
					"CurrentDirectory": {"cwd"},
				},
			},
			{
				// ECS, for events from sources that do not use the Sysmon
				// names (the event's own name is always tried first).
				Fields: map[string][]string{
					"CommandLine":         {"process.command_line"},
					"Image":               {"process.executable"},
					"ParentImage":         {"process.parent.executable"},
					"ParentCommandLine":   {"process.parent.command_line"},
					"ProcessId":           {"process.pid"},
					"ParentProcessId":     {"process.parent.pid"},
					"CurrentDirectory":    {"process.working_directory"},
					"OriginalFileName":    {"process.pe.original_file_name"},
					"TargetFilename":      {"file.path"},
					"SourceIp":            {"source.ip"},
					"DestinationIp":       {"destination.ip"},
					"SourcePort":          {"source.port"},
					"DestinationPort":     {"destination.port"},
					"SourceHostname":      {"source.domain"},
					"DestinationHostname": {"destination.domain"},
					"QueryName":           {"dns.question.name"},
					"md5":                 {"file.hash.md5"},
					"sha1":                {"file.hash.sha1"},
					"sha256":              {"file.hash.sha256"},
					"Imphash":             {"file.pe.imphash"},
				},
			},
		},
		Categories: map[string][]string{
			"registry_event":    {"registry_add", "registry_delete", "registry_set", "registry_rename"},
			"clipboard_capture": {"clipboard_change"},
			"clipboard_change":  {"clipboard_capture"},
		},
		Services: map[string][]string{
			// SigmaHQ's own comment: "Change to servicebus-client once
			// validators are up to date".
			"microsoft-servicebus-client": {"servicebus-client"},
		},
		Products: map[string][]string{},
	}
}

func (m *Mapping) clone() *Mapping {
	c := &Mapping{
		Placeholders: map[string][]string{},
		Categories:   map[string][]string{},
		Services:     map[string][]string{},
		Products:     map[string][]string{},
		Taxonomies:   append([]string(nil), m.Taxonomies...),
	}
	for k, v := range m.Placeholders {
		c.Placeholders[k] = append([]string(nil), v...)
	}
	for _, pair := range []struct{ dst, src map[string][]string }{
		{c.Categories, m.Categories}, {c.Services, m.Services}, {c.Products, m.Products}} {
		for k, v := range pair.src {
			pair.dst[k] = append([]string(nil), v...)
		}
	}
	for _, f := range m.Fields {
		nf := FieldMapping{LogSource: f.LogSource, Fields: map[string][]string{}}
		for k, v := range f.Fields {
			nf.Fields[k] = append([]string(nil), v...)
		}
		c.Fields = append(c.Fields, nf)
	}
	return c
}

// LoadMapping reads a mapping file (format in README.md). Unless it says
// "replace: true", it extends DefaultMapping: its placeholders and
// logsource aliases replace the built-in entries of the same name, and its
// field mappings are tried before the built-in ones.
func LoadMapping(data []byte) (*Mapping, error) {
	docs, line, err := parseYAML(data)
	if err != nil {
		return nil, fmt.Errorf("mapping:%d: %v", line, err)
	}
	if len(docs) != 1 || docs[0].body.kind != yMap {
		return nil, fmt.Errorf("mapping: expected one YAML mapping")
	}
	b := docs[0].body
	bad := func(l int, format string, a ...any) error {
		return fmt.Errorf("mapping:%d: %s", l, fmt.Sprintf(format, a...))
	}
	base := DefaultMapping()
	if v, _ := b.get("replace"); v != nil && v.kind == yBool && v.b {
		base = &Mapping{Placeholders: map[string][]string{}, Categories: map[string][]string{},
			Services: map[string][]string{}, Products: map[string][]string{}}
	}
	strs := func(v *ynode, l int, what string) ([]string, error) {
		switch {
		case v == nil || v.kind == yNull:
			return nil, nil
		case v.isScalar():
			return []string{v.text()}, nil
		case v.kind == ySeq:
			var out []string
			for _, it := range v.items {
				if !it.isScalar() || it.kind == yNull {
					return nil, bad(it.line, "%s: list items must be single values", what)
				}
				out = append(out, it.text())
			}
			return out, nil
		}
		return nil, bad(l, "%s: expected a value or a list", what)
	}
	strMap := func(v *ynode, l int, what string) (map[string][]string, error) {
		if v == nil || v.kind == yNull {
			return nil, nil
		}
		if v.kind != yMap {
			return nil, bad(l, "%s must be a mapping", what)
		}
		out := map[string][]string{}
		for i, k := range v.keys {
			s, err := strs(v.vals[i], v.klns[i], what+"."+k)
			if err != nil {
				return nil, err
			}
			out[k] = s
		}
		return out, nil
	}
	var userFields []FieldMapping
	for i, k := range b.keys {
		v, l := b.vals[i], b.klns[i]
		switch k {
		case "replace":
		case "placeholders":
			mm, err := strMap(v, l, k)
			if err != nil {
				return nil, err
			}
			for n, vals := range mm {
				base.Placeholders[n] = vals
			}
		case "categories", "services", "products":
			mm, err := strMap(v, l, k)
			if err != nil {
				return nil, err
			}
			dst := map[string]map[string][]string{"categories": base.Categories, "services": base.Services, "products": base.Products}[k]
			for n, vals := range mm {
				dst[n] = vals
			}
		case "taxonomies":
			s, err := strs(v, l, k)
			if err != nil {
				return nil, err
			}
			base.Taxonomies = append(base.Taxonomies, s...)
		case "fieldmappings":
			if v.kind != ySeq {
				return nil, bad(l, "fieldmappings must be a list of {logsource, fields}")
			}
			for _, e := range v.items {
				if e.kind != yMap {
					return nil, bad(e.line, "fieldmappings entries must be mappings")
				}
				var fm FieldMapping
				for j, ek := range e.keys {
					ev, el := e.vals[j], e.klns[j]
					switch ek {
					case "logsource":
						mm, err := strMap(ev, el, "logsource")
						if err != nil {
							return nil, err
						}
						for lk, lv := range mm {
							if len(lv) != 1 {
								return nil, bad(el, "logsource.%s must be one value", lk)
							}
							switch lk {
							case "product":
								fm.LogSource.Product = lv[0]
							case "service":
								fm.LogSource.Service = lv[0]
							case "category":
								fm.LogSource.Category = lv[0]
							default:
								return nil, bad(el, "unknown logsource key %q (product, service, category)", lk)
							}
						}
					case "fields":
						mm, err := strMap(ev, el, "fields")
						if err != nil {
							return nil, err
						}
						fm.Fields = mm
					default:
						return nil, bad(el, "unknown fieldmappings key %q (logsource, fields)", ek)
					}
				}
				if len(fm.Fields) == 0 {
					return nil, bad(e.line, "fieldmappings entry without fields")
				}
				userFields = append(userFields, fm)
			}
		default:
			return nil, bad(l, "unknown key %q (placeholders, fieldmappings, categories, services, products, taxonomies, replace)", k)
		}
	}
	base.Fields = append(userFields, base.Fields...)
	return base, nil
}

// fieldCandidates returns the event field names a rule field is looked up
// under, in order: the rule's own name first.
func (m *Mapping) fieldCandidates(field string, ls LogSource) []string {
	out := []string{field}
	for _, f := range m.Fields {
		if !lsWithin(ls, f.LogSource) {
			continue
		}
		for _, t := range f.Fields[field] {
			dup := false
			for _, o := range out {
				if o == t {
					dup = true
				}
			}
			if !dup {
				out = append(out, t)
			}
		}
	}
	return out
}

// lsWithin reports whether a rule logsource is within a selector: every
// key the selector sets is equal.
func lsWithin(rule, sel LogSource) bool {
	return (sel.Product == "" || sel.Product == rule.Product) &&
		(sel.Service == "" || sel.Service == rule.Service) &&
		(sel.Category == "" || sel.Category == rule.Category)
}

// admits reports whether an event of logsource ev is offered to a rule
// written for ls: every key the rule sets must match (equal, or an alias
// the mapping lists); keys the rule omits are wildcards.
func (m *Mapping) admits(ls LogSource, ev event.LogSource) bool {
	return keyAdmits(ls.Product, ev.Product, m.Products) &&
		keyAdmits(ls.Service, ev.Service, m.Services) &&
		keyAdmits(ls.Category, ev.Category, m.Categories)
}

func keyAdmits(rule, ev string, aliases map[string][]string) bool {
	if rule == "" || rule == ev {
		return true
	}
	if ev == "" {
		return false
	}
	for _, a := range aliases[rule] {
		if a == ev {
			return true
		}
	}
	return false
}

func (m *Mapping) taxonomyOK(t string) bool {
	if t == "" || t == "sigma" {
		return true
	}
	for _, x := range m.Taxonomies {
		if x == t {
			return true
		}
	}
	return false
}

// PlaceholderNames returns the configured placeholder names, sorted.
func (m *Mapping) PlaceholderNames() []string {
	out := make([]string, 0, len(m.Placeholders))
	for k := range m.Placeholders {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func (ls LogSource) String() string {
	var parts []string
	for _, p := range [][2]string{{"product", ls.Product}, {"service", ls.Service}, {"category", ls.Category}} {
		if p[1] != "" {
			parts = append(parts, p[0]+"="+p[1])
		}
	}
	if len(parts) == 0 {
		return "(any)"
	}
	return strings.Join(parts, ",")
}
