package playbook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// obuilder builds an object node with keys in insertion order.
type obuilder struct{ n *node }

func newObj() *obuilder { return &obuilder{&node{kind: kObject}} }

func (b *obuilder) set(k string, v *node) {
	if v == nil {
		return
	}
	b.n.keys = append(b.n.keys, k)
	b.n.kids = append(b.n.kids, v)
}

func (b *obuilder) str(k, v string) {
	if v != "" {
		b.set(k, &node{kind: kString, s: v})
	}
}

func (b *obuilder) boolean(k string, v bool) {
	if v {
		b.set(k, &node{kind: kBool, s: "true"})
	}
}

func (b *obuilder) integer(k string, v int64) {
	if v != 0 {
		b.set(k, &node{kind: kNumber, s: strconv.FormatInt(v, 10)})
	}
}

func (b *obuilder) strs(k string, v []string) {
	if len(v) > 0 {
		b.set(k, strList(v))
	}
}

func (b *obuilder) time(k string, t time.Time) {
	if !t.IsZero() {
		b.str(k, formatTimestamp(t))
	}
}

func (b *obuilder) raw(k string, r json.RawMessage) {
	if len(r) > 0 {
		b.set(k, rawToNode(r))
	}
}

func (b *obuilder) extra(m map[string]json.RawMessage) {
	for _, k := range sortedKeys(m) {
		if b.n.get(k) == nil {
			b.raw(k, m[k])
		}
	}
}

func (b *obuilder) extMap(k string, m map[string]json.RawMessage, mine *node) {
	if len(m) == 0 && mine == nil {
		return
	}
	o := newObj()
	for _, id := range sortedKeys(m) {
		o.raw(id, m[id])
	}
	if mine != nil {
		o.set(RiposteExtensionID, mine)
	}
	b.set(k, o.n)
}

func strList(v []string) *node {
	n := &node{kind: kArray}
	for _, s := range v {
		n.kids = append(n.kids, &node{kind: kString, s: s})
	}
	return n
}

func ms(d time.Duration) int64 { return d.Milliseconds() }

// CACAO exports the playbook as CACAO 2.0 JSON (indented, deterministic).
// Riposte additions go into the x-riposte extension, whose definition is
// added when used. Secrets are never written (there are none in the model).
func (p *Playbook) CACAO() ([]byte, error) {
	var missing []string
	if p.ID == "" {
		missing = append(missing, "id")
	}
	if p.Name == "" {
		missing = append(missing, "name")
	}
	if p.Modified.IsZero() {
		missing = append(missing, "modified")
	}
	if p.WorkflowStart == "" {
		missing = append(missing, "workflow_start")
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("CACAO export: the playbook has no %s", strings.Join(missing, ", "))
	}
	n, usesExt := p.cacaoNode()
	_ = usesExt
	var buf bytes.Buffer
	n.writeJSON(&buf)
	var out bytes.Buffer
	if err := json.Indent(&out, buf.Bytes(), "", "  "); err != nil {
		return nil, errors.New("CACAO export: internal error: " + err.Error())
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

func (p *Playbook) cacaoNode() (*node, bool) {
	usesExt := false
	b := newObj()
	b.str("type", "playbook")
	b.str("spec_version", "cacao-2.0")
	b.str("id", p.ID)
	b.str("name", p.Name)
	b.str("description", p.Description)
	b.strs("playbook_types", p.PlaybookTypes)
	b.strs("playbook_activities", p.PlaybookActivities)
	if p.ProcessingSummary != nil {
		o := newObj()
		for _, k := range sortedKeys(p.ProcessingSummary) {
			o.set(k, &node{kind: kBool, s: strconv.FormatBool(p.ProcessingSummary[k])})
		}
		b.set("playbook_processing_summary", o.n)
	}
	createdBy := p.CreatedBy
	if createdBy == "" {
		createdBy = RiposteIdentity
	}
	b.str("created_by", createdBy)
	created := p.Created
	if created.IsZero() {
		created = p.Modified
	}
	b.time("created", created)
	playbookMeta(b, p)
	b.strs("markings", p.Markings)
	b.set("playbook_variables", variablesNode(p.Variables))
	b.str("workflow_start", p.WorkflowStart)
	b.str("workflow_exception", p.WorkflowException)
	if p.Steps != nil {
		w := newObj()
		for _, id := range p.StepOrder() {
			sn, ext := p.Steps[id].cacaoNode()
			usesExt = usesExt || ext
			w.set(id, sn)
		}
		b.set("workflow", w.n)
	}
	var mine *node
	if p.Trigger != nil {
		mine = newObj().n
		mine.keys = []string{"trigger"}
		mine.kids = []*node{p.Trigger.cacaoNode(false)}
		usesExt = true
	}
	b.extMap("playbook_extensions", p.Extensions, mine)
	if len(p.AuthInfo) > 0 {
		o := newObj()
		for _, id := range sortedKeys(p.AuthInfo) {
			o.set(id, p.AuthInfo[id].cacaoNode())
		}
		b.set("authentication_info_definitions", o.n)
	}
	for _, d := range []struct {
		key string
		m   map[string]*AgentTarget
	}{{"agent_definitions", p.Agents}, {"target_definitions", p.Targets}} {
		if len(d.m) == 0 {
			continue
		}
		o := newObj()
		for _, id := range sortedKeys(d.m) {
			an, ext := d.m[id].cacaoNode()
			usesExt = usesExt || ext
			o.set(id, an)
		}
		b.set(d.key, o.n)
	}
	if len(p.ExtensionDefinitions) > 0 || usesExt {
		o := newObj()
		defs := map[string]*ExtensionDefinition{}
		for k, v := range p.ExtensionDefinitions {
			defs[k] = v
		}
		if usesExt {
			defs[RiposteExtensionID] = RiposteExtensionDefinition()
		}
		for _, id := range sortedKeys(defs) {
			o.set(id, defs[id].cacaoNode())
		}
		b.set("extension_definitions", o.n)
	}
	if len(p.DataMarkings) > 0 {
		o := newObj()
		for _, id := range sortedKeys(p.DataMarkings) {
			o.set(id, p.DataMarkings[id].cacaoNode())
		}
		b.set("data_marking_definitions", o.n)
	}
	if len(p.Signatures) > 0 {
		l := &node{kind: kArray}
		for _, s := range p.Signatures {
			l.kids = append(l.kids, rawToNode(s))
		}
		b.set("signatures", l)
	}
	b.extra(p.Extra)
	return b.n, usesExt
}

// RiposteExtensionDefinition returns the definition of the x-riposte
// extension, as written into exported playbooks.
func RiposteExtensionDefinition() *ExtensionDefinition {
	return &ExtensionDefinition{
		Type:        "extension-definition",
		Name:        RiposteExtensionName,
		Description: "Riposte additions: trigger (playbook), retry, approval, revert-after, loop cap and failure policy (steps), connector pin (agents and targets). Consumers that ignore it still get a valid, runnable playbook.",
		CreatedBy:   RiposteIdentity,
		Schema:      RiposteExtensionSchemaURL,
		Version:     RiposteExtensionVersion,
	}
}

// StepOrder returns the step ids in reading order: breadth-first from the
// start step (then the exception step), then any unreachable ones by id.
func (p *Playbook) StepOrder() []string {
	seen := map[string]bool{}
	var order []string
	queue := []string{p.WorkflowStart, p.WorkflowException}
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		s, ok := p.Steps[id]
		if id == "" || seen[id] || !ok {
			continue
		}
		seen[id] = true
		order = append(order, id)
		queue = append(queue, s.successors()...)
	}
	for _, id := range sortedKeys(p.Steps) {
		if !seen[id] {
			order = append(order, id)
		}
	}
	return order
}

// successors lists every step a step can hand control to, branches first.
func (s *Step) successors() []string {
	var out []string
	add := func(ids ...string) {
		for _, id := range ids {
			if id != "" {
				out = append(out, id)
			}
		}
	}
	add(s.OnTrue, s.OnFalse)
	add(s.NextSteps...)
	for _, k := range sortedCaseKeys(s.Cases) {
		add(s.Cases[k])
	}
	add(s.OnCompletion, s.OnSuccess, s.OnFailure)
	return out
}

// sortedCaseKeys sorts switch cases with "default" last.
func sortedCaseKeys(m map[string]string) []string {
	keys := sortedKeys(m)
	sort.SliceStable(keys, func(i, j int) bool {
		if (keys[i] == "default") != (keys[j] == "default") {
			return keys[j] == "default"
		}
		return false
	})
	return keys
}

func (s *Step) riposteExt() *node {
	o := newObj()
	if r := s.Retry; r != nil {
		ro := newObj()
		ro.integer("max_attempts", int64(r.MaxAttempts))
		ro.integer("initial_interval_ms", ms(r.Initial))
		if r.Multiplier != 0 {
			ro.set("backoff_coefficient", &node{kind: kNumber, s: strconv.FormatFloat(r.Multiplier, 'g', -1, 64)})
		}
		ro.integer("max_interval_ms", ms(r.Max))
		ro.strs("retry_on", r.RetryOn)
		ro.strs("non_retryable", r.NonRetryable)
		ro.boolean("retry_on_unknown_outcome", r.RetryUnknownOutcome)
		o.set("retry", ro.n)
	}
	if a := s.Approval; a != nil {
		ao := newObj()
		ao.strs("assignees", a.Assignees)
		ao.strs("roles", a.Roles)
		ao.integer("quorum", int64(a.Quorum))
		o.set("approval", ao.n)
	}
	o.integer("revert_after_ms", ms(s.RevertAfter))
	o.integer("max_iterations", int64(s.MaxIterations))
	o.boolean("continue_on_error", s.ContinueOnError)
	o.boolean("wait_all", s.WaitAll)
	if len(o.n.keys) == 0 {
		return nil
	}
	return o.n
}

func (s *Step) cacaoNode() (*node, bool) {
	b := newObj()
	b.str("type", string(s.Type))
	b.str("name", s.Name)
	b.str("description", s.Description)
	b.set("external_references", extRefsNode(s.ExternalReferences))
	b.str("owner", s.Owner)
	b.integer("delay", ms(s.Delay))
	b.integer("timeout", ms(s.Timeout))
	b.set("step_variables", variablesNode(s.Variables))
	// type-specific
	if len(s.Commands) > 0 {
		l := &node{kind: kArray}
		for _, c := range s.Commands {
			l.kids = append(l.kids, c.cacaoNode())
		}
		b.set("commands", l)
	}
	b.str("agent", s.Agent)
	b.strs("targets", s.Targets)
	b.str("playbook_id", s.PlaybookID)
	b.time("playbook_version", s.PlaybookVersion)
	b.strs("in_args", s.InArgs)
	b.strs("out_args", s.OutArgs)
	b.strs("next_steps", s.NextSteps)
	b.str("condition", s.Condition)
	b.str("on_true", s.OnTrue)
	b.str("on_false", s.OnFalse)
	b.str("switch", s.Switch)
	if s.Cases != nil {
		o := newObj()
		for _, k := range sortedCaseKeys(s.Cases) {
			o.str(k, s.Cases[k])
		}
		b.set("cases", o.n)
	}
	b.str("on_completion", s.OnCompletion)
	b.str("on_success", s.OnSuccess)
	b.str("on_failure", s.OnFailure)
	mine := s.riposteExt()
	b.extMap("step_extensions", s.Extensions, mine)
	b.extra(s.Extra)
	return b.n, mine != nil
}

func (c *Command) cacaoNode() *node {
	b := newObj()
	b.str("type", c.Type)
	b.str("description", c.Description)
	b.str("version", c.Version)
	b.str("playbook_activity", c.PlaybookActivity)
	b.set("external_references", extRefsNode(c.ExternalReferences))
	b.str("command", c.Command)
	b.str("command_b64", c.CommandB64)
	if c.Headers != nil {
		o := newObj()
		for _, k := range sortedKeys(c.Headers) {
			o.set(k, strList(c.Headers[k]))
		}
		b.set("headers", o.n)
	}
	b.str("content", c.Content)
	b.str("content_b64", c.ContentB64)
	b.str("connector", c.Connector)
	b.str("operation", c.Operation)
	if c.Args != nil {
		b.set("args", valueToNode(c.Args))
	}
	b.extra(c.Extra)
	return b.n
}

func variablesNode(vars map[string]*Variable) *node {
	if vars == nil {
		return nil
	}
	o := newObj()
	for _, k := range sortedKeys(vars) {
		o.set(k, vars[k].cacaoNode())
	}
	return o.n
}

func (v *Variable) cacaoNode() *node {
	b := newObj()
	b.str("type", v.Type)
	b.str("description", v.Description)
	if v.Value != nil {
		b.set("value", valueToNode(v.Value))
	}
	b.boolean("constant", v.Constant)
	b.boolean("external", v.External)
	return b.n
}

func extRefsNode(refs []ExternalReference) *node {
	if len(refs) == 0 {
		return nil
	}
	l := &node{kind: kArray}
	for _, r := range refs {
		b := newObj()
		b.str("name", r.Name)
		b.str("description", r.Description)
		b.str("source", r.Source)
		b.str("url", r.URL)
		b.str("external_id", r.ExternalID)
		b.str("reference_id", r.ReferenceID)
		b.extra(r.Extra)
		l.kids = append(l.kids, b.n)
	}
	return l
}

func (a *AgentTarget) cacaoNode() (*node, bool) {
	b := newObj()
	b.str("type", a.Type)
	b.str("name", a.Name)
	b.str("description", a.Description)
	b.raw("location", a.Location)
	b.raw("contact", a.Contact)
	if a.Address != nil {
		o := newObj()
		for _, k := range sortedKeys(a.Address) {
			o.set(k, valueToNode(a.Address[k]))
		}
		b.set("address", o.n)
	}
	b.str("port", a.Port)
	b.str("authentication_info", a.AuthInfo)
	b.strs("category", a.Category)
	b.strs("logical", a.Logical)
	b.str("sector", a.Sector)
	var mine *node
	if a.Connector != "" {
		o := newObj()
		o.str("connector", a.Connector)
		mine = o.n
	}
	b.extMap("agent_target_extensions", a.Extensions, mine)
	b.extra(a.Extra)
	return b.n, mine != nil
}

func (a *AuthInfo) cacaoNode() *node {
	b := newObj()
	b.str("type", a.Type)
	b.str("name", a.Name)
	b.str("description", a.Description)
	b.str("user_id", a.UserID)
	b.str("username", a.Username)
	b.boolean("kms", a.KMS)
	b.str("kms_key_identifier", a.KMSKeyIdentifier)
	b.extMap("authentication_info_extensions", a.Extensions, nil)
	b.extra(a.Extra)
	return b.n
}

func (e *ExtensionDefinition) cacaoNode() *node {
	b := newObj()
	b.str("type", e.Type)
	b.str("name", e.Name)
	b.str("description", e.Description)
	b.str("created_by", e.CreatedBy)
	b.str("schema", e.Schema)
	b.str("version", e.Version)
	b.set("external_references", extRefsNode(e.ExternalReferences))
	b.extra(e.Extra)
	return b.n
}

func (m *DataMarking) cacaoNode() *node {
	b := newObj()
	b.str("type", m.Type)
	b.str("id", m.ID)
	b.str("name", m.Name)
	b.str("description", m.Description)
	b.str("created_by", m.CreatedBy)
	b.time("created", m.Created)
	b.boolean("revoked", m.Revoked)
	b.time("valid_from", m.ValidFrom)
	b.time("valid_until", m.ValidUntil)
	b.strs("labels", m.Labels)
	b.set("external_references", extRefsNode(m.ExternalReferences))
	b.str("statement", m.Statement)
	b.str("tlpv2_level", m.TLPv2Level)
	b.extMap("marking_extensions", m.Extensions, nil)
	b.extra(m.Extra)
	return b.n
}

// cacaoNode writes the trigger; yaml selects the YAML spelling (durations
// as text, bare variable names in bind).
func (t *Trigger) cacaoNode(yaml bool) *node {
	b := newObj()
	b.set("alert", t.Alert.node())
	b.set("incident", t.Incident.node())
	if s := t.Schedule; s != nil {
		o := newObj()
		o.str("cron", s.Cron)
		if yaml {
			if s.Every != 0 {
				o.str("every", formatDuration(s.Every))
			}
		} else {
			o.integer("every_ms", ms(s.Every))
		}
		b.set("schedule", o.n)
	}
	if w := t.Webhook; w != nil {
		o := newObj()
		o.str("name", w.Name)
		o.str("secret_ref", w.SecretRef)
		b.set("webhook", o.n)
	}
	b.boolean("manual", t.Manual)
	if len(t.Bind) > 0 {
		o := newObj()
		for _, k := range sortedKeys(t.Bind) {
			key := k
			if yaml {
				key = shortVar(k)
			}
			o.str(key, t.Bind[k])
		}
		b.set("bind", o.n)
	}
	return b.n
}

func (m *EventMatch) node() *node {
	if m == nil {
		return nil
	}
	b := newObj()
	b.strs("rules", m.Rules)
	b.strs("tags", m.Tags)
	b.strs("tactics", m.Tactics)
	b.strs("priorities", m.Priorities)
	b.strs("entity_types", m.EntityTypes)
	b.strs("asset_tags", m.AssetTags)
	b.integer("min_criticality", int64(m.MinCriticality))
	b.str("condition", m.Condition)
	return b.n
}

// playbookMeta writes the playbook properties that both export formats
// carry under the same names, in the same order.
func playbookMeta(b *obuilder, p *Playbook) {
	b.time("modified", p.Modified)
	b.boolean("revoked", p.Revoked)
	b.time("valid_from", p.ValidFrom)
	b.time("valid_until", p.ValidUntil)
	b.strs("derived_from", p.DerivedFrom)
	b.strs("related_to", p.RelatedTo)
	b.integer("priority", int64(p.Priority))
	b.integer("severity", int64(p.Severity))
	b.integer("impact", int64(p.Impact))
	b.strs("industry_sectors", p.IndustrySectors)
	b.strs("labels", p.Labels)
	b.set("external_references", extRefsNode(p.ExternalReferences))
}
