package playbook

import (
	"math"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook/expr"
)

// Mode selects how ParseCACAO validates (cacao.md §10.2).
//
//   - Strict: the official CACAO JSON schemas, playbook.json evaluated as
//     draft 2020-12 so its closed maps bite, plus Riposte's per-command-type
//     check. For conformance claims and for checking exports. Requires a
//     SchemaValidator.
//   - Lenient: accepts the deviations real playbooks have (missing
//     spec_version, unknown properties, unknown step or agent types,
//     variables in typed fields, non-string variable values), reporting
//     them as warnings. With a SchemaValidator it also runs the schemas with
//     every closure removed. The default for import.
//
// In both modes a finding of severity error means the document was not
// accepted; ParseCACAO still returns as much of the model as it could read.
type Mode struct {
	strict  bool
	schemas *SchemaValidator
	secrets SecretSink
}

// Strict returns the strict mode. v must not be nil: ParseCACAO refuses to
// claim strict validity without the schemas.
func Strict(v *SchemaValidator) Mode { return Mode{strict: true, schemas: v} }

// Lenient returns the lenient mode; v may be nil (no schema pass).
func Lenient(v *SchemaValidator) Mode { return Mode{schemas: v} }

// WithSecrets returns m with a sink for inline secrets (see AuthInfo).
func (m Mode) WithSecrets(s SecretSink) Mode { m.secrets = s; return m }

// IsStrict reports whether m is the strict mode.
func (m Mode) IsStrict() bool { return m.strict }

// ParseCACAO reads a CACAO 2.0 JSON playbook. It returns the playbook (nil
// only when the input is not a JSON object) and every finding, errors and
// warnings, each with the JSON path and line of the offending value.
func ParseCACAO(data []byte, mode Mode) (*Playbook, []Error) {
	el := &errList{}
	if mode.strict && mode.schemas == nil {
		el.errorf("mode", "$", nil, "strict mode needs the CACAO JSON schemas: use Strict(NewSchemaValidator(dir))")
		return nil, el.errs
	}
	root, warns, err := parseJSON(data)
	if err != nil {
		el.errorf("json", "$", nil, "%v", err)
		return nil, el.errs
	}
	el.errs = append(el.errs, warns...)
	if root.kind != kObject {
		el.errorf("type", "$", root, "a CACAO playbook must be a JSON object, not %s", root.kind)
		return nil, el.errs
	}
	src := &SourceMap{root: root}
	d := &dec{errs: el, strict: mode.strict, secrets: mode.secrets}
	p := d.playbook(root, src)
	p.Source = src
	if mode.schemas != nil {
		serrs := mode.schemas.validate(data, mode.strict)
		for i := range serrs {
			if pos, ok := src.Lookup(serrs[i].Path); ok && serrs[i].Line == 0 {
				serrs[i].Line, serrs[i].Column = pos.Line, pos.Column
			}
		}
		el.errs = mergeSchemaErrors(serrs, el.errs)
	}
	for i := range el.errs {
		if el.errs[i].Line == 0 {
			if pos, ok := src.Lookup(el.errs[i].Path); ok {
				el.errs[i].Line, el.errs[i].Column = pos.Line, pos.Column
			}
		}
	}
	sortErrors(el.errs)
	return p, el.errs
}

// mergeSchemaErrors drops decoder findings the schema already reported at
// the same place, so one mistake gives one error.
func mergeSchemaErrors(schema, own []Error) []Error {
	if len(schema) == 0 {
		return own
	}
	at := map[string]bool{}
	for _, e := range schema {
		at[e.Path] = true
	}
	out := append([]Error(nil), schema...)
	for _, e := range own {
		dup := e.Code == "required" || e.Code == "type" || e.Code == "identifier" || e.Code == "enum" || e.Code == "range"
		if e.Severity == SeverityError && dup && (at[e.Path] || (e.Code == "required" && at[parentPath(e.Path)])) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (d *dec) playbook(root *node, src *SourceMap) *Playbook {
	o := d.object(root, "$")
	d.errs.src = src
	p := &Playbook{}
	if !o.has("type") {
		d.errs.warnf("required", "$.type", root, "\"type\" is missing; read as \"playbook\"")
	} else if t := o.str("type"); t != "playbook" {
		d.errs.errorf("enum", "$.type", root.get("type"), "type must be \"playbook\", not %q", t)
	}
	if !o.has("spec_version") {
		d.errs.warnf("required", "$.spec_version", root, "\"spec_version\" is missing; read as \"cacao-2.0\"")
	} else if v := o.str("spec_version"); v != "cacao-2.0" {
		d.errs.add(ternary(d.strict || strings.HasPrefix(v, "cacao-1"), SeverityError, SeverityWarning), "spec-version", "$.spec_version", root.get("spec_version"), "spec_version %q is not supported (cacao-2.0)", v)
	}
	p.ID = o.reqStr("id")
	if p.ID != "" && (!IsIdentifier(p.ID) || idPrefix(p.ID) != "playbook") {
		d.errs.errorf("identifier", "$.id", root.get("id"), "%q is not a playbook--<uuid> identifier", p.ID)
	}
	d.pbID = p.ID
	p.Name = o.reqStr("name")
	p.Description = o.str("description")
	p.PlaybookTypes = o.strList("playbook_types")
	p.PlaybookActivities = o.strList("playbook_activities")
	if n := o.take("playbook_processing_summary"); n != nil {
		if so := d.object(n, "$.playbook_processing_summary"); so != nil {
			p.ProcessingSummary = map[string]bool{}
			for _, k := range n.keys {
				if v := so.boolean(k); true {
					p.ProcessingSummary[k] = v
				}
			}
		}
	}
	p.CreatedBy = o.reqStr("created_by")
	if p.CreatedBy != "" && !IsIdentifier(p.CreatedBy) {
		d.errs.errorf("identifier", "$.created_by", root.get("created_by"), "%q is not an identity--<uuid> identifier", p.CreatedBy)
	}
	for _, k := range []string{"created", "modified"} {
		if !o.has(k) {
			d.errs.errorf("required", joinPath("$", k), root, "required property %q is missing", k)
		}
	}
	p.Created = o.timestamp("created")
	p.Modified = o.timestamp("modified")
	p.Revoked = o.boolean("revoked")
	p.ValidFrom = o.timestamp("valid_from")
	p.ValidUntil = o.timestamp("valid_until")
	p.DerivedFrom = o.refList("derived_from")
	p.RelatedTo = o.refList("related_to")
	p.Priority = int(o.integer("priority", 0, 100))
	p.Severity = int(o.integer("severity", 0, 100))
	p.Impact = int(o.integer("impact", 0, 100))
	p.IndustrySectors = o.strList("industry_sectors")
	p.Labels = o.strList("labels")
	p.ExternalReferences = o.externalRefs("external_references")
	p.Markings = o.refList("markings")
	p.Variables = o.variables("playbook_variables")
	d.pbVars = p.Variables
	p.WorkflowStart = o.ref("workflow_start")
	if !o.has("workflow_start") {
		d.errs.errorf("required", "$.workflow_start", root, "required property \"workflow_start\" is missing")
	}
	p.WorkflowException = o.ref("workflow_exception")

	// Definitions first, so steps can be checked against them.
	p.AuthInfo = mapOf(d, o, "authentication_info_definitions", func(k string, so *obj) *AuthInfo { return d.authInfo(k, so) })
	p.Agents = mapOf(d, o, "agent_definitions", d.agentTarget)
	p.Targets = mapOf(d, o, "target_definitions", d.agentTarget)
	p.ExtensionDefinitions = mapOf(d, o, "extension_definitions", func(k string, so *obj) *ExtensionDefinition { return d.extensionDefinition(so) })
	if def, ok := p.ExtensionDefinitions[RiposteExtensionID]; ok {
		// Riposte adds its definition on export whenever its data is used;
		// the model does not keep it.
		if def.Name != RiposteExtensionName {
			d.errs.warnf("extension", joinPath("$.extension_definitions", RiposteExtensionID), nil, "the x-riposte extension definition is named %q; read as x-riposte %s", def.Name, RiposteExtensionVersion)
		}
		delete(p.ExtensionDefinitions, RiposteExtensionID)
		if len(p.ExtensionDefinitions) == 0 {
			p.ExtensionDefinitions = nil
		}
	}
	p.DataMarkings = mapOf(d, o, "data_marking_definitions", d.dataMarking)

	var mine *node
	p.Extensions, mine = o.extensions("playbook_extensions")
	if mine != nil {
		if eo := d.object(mine, joinPath("$.playbook_extensions", RiposteExtensionID)); eo != nil {
			if tn := eo.take("trigger"); tn != nil {
				p.Trigger = d.trigger(tn, eo.at("trigger"))
			}
			eo.rest("x-riposte playbook extension")
		}
	}
	if n := o.take("signatures"); n != nil {
		if n.kind != kArray {
			o.typeErr("signatures", n, "an array")
		} else {
			for _, s := range n.kids {
				p.Signatures = append(p.Signatures, s.compactJSON())
			}
		}
	}

	// The workflow.
	wn := o.take("workflow")
	switch {
	case wn == nil:
		d.errs.errorf("required", "$.workflow", root, "required property \"workflow\" is missing")
	case wn.kind == kArray:
		d.errs.errorf("cacao-1", "$.workflow", wn, "CACAO 1.x workflow list not supported: CACAO 2.0 workflows are an object keyed by step id")
	case wn.kind != kObject:
		d.errs.errorf("type", "$.workflow", wn, "workflow must be an object keyed by step id, not %s", wn.kind)
	default:
		wo := d.object(wn, "$.workflow")
		p.Steps = map[string]*Step{}
		for i, k := range wn.keys {
			wo.used[k] = true
			path := joinPath("$.workflow", k)
			src.set(path, path, wn.kids[i])
			so := d.object(wn.kids[i], path)
			if so == nil {
				continue
			}
			s := d.step(k, so, src)
			if s != nil {
				p.Steps[k] = s
			}
		}
	}
	p.Extra = o.rest("the playbook")
	for k := range p.Extra {
		if k == "playbook_extension" {
			d.errs.warnf("unknown-property", "$.playbook_extension", root.get(k), "did you mean \"playbook_extensions\"?")
		}
	}
	return p
}

// mapOf reads an object of identifier → object.
func mapOf[T any](d *dec, o *obj, key string, read func(k string, so *obj) T) map[string]T {
	n := o.take(key)
	if n == nil {
		return nil
	}
	mo := d.object(n, o.at(key))
	if mo == nil {
		return nil
	}
	out := map[string]T{}
	for i, k := range n.keys {
		mo.used[k] = true
		path := joinPath(mo.path, k)
		if d.errs.src != nil && !d.yaml {
			d.errs.src.set(path, path, n.kids[i])
		}
		if !IsIdentifier(k) {
			d.errs.errorf("identifier", path, n.kids[i], "key %q is not a CACAO identifier (<type>--<uuid>)", k)
		}
		so := d.object(n.kids[i], path)
		if so == nil {
			continue
		}
		out[k] = read(k, so)
	}
	return out
}

// step reads one workflow step. The fields read depend on the type; fields
// of other types are reported as unknown and kept.
func (d *dec) step(id string, o *obj, src *SourceMap) *Step {
	s := &Step{ID: id}
	if !IsIdentifier(id) {
		d.errs.errorf("identifier", o.path, o.n, "step key %q is not a CACAO identifier (<type>--<uuid>)", id)
	}
	if !o.has("type") {
		d.errs.errorf("required", o.at("type"), o.n, "required property \"type\" is missing")
	}
	s.Type = StepType(o.str("type"))
	if s.Type != "" && !s.Type.Known() {
		d.errs.warnf("step-type", o.at("type"), o.n.get("type"), "unknown step type %q: imported, but it cannot run", s.Type)
	}
	d.stepCommon(s, o, src)
	d.stepBody(s, o, src)
	s.Extra = o.rest(string(s.Type) + " step")
	return s
}

// stepCommon reads the properties every step has.
func (d *dec) stepCommon(s *Step, o *obj, src *SourceMap) {
	s.Name = o.str("name")
	s.Description = o.str("description")
	s.ExternalReferences = o.externalRefs("external_references")
	s.Owner = o.ref("owner")
	if !d.yaml {
		s.Delay = time.Duration(o.integer("delay", 0, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
		s.Timeout = time.Duration(o.integer("timeout", 0, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
		if n := o.n.get("delay"); n != nil && n.s == "0" && d.strict {
			d.errs.warnf("range", o.at("delay"), n, "the schema requires delay ≥ 1; 0 is the same as no delay")
		}
	}
	s.Variables = o.variables("step_variables")
	if !d.yaml {
		for _, k := range []string{"on_completion", "on_success", "on_failure"} {
			if n := o.n.get(k); n != nil {
				src.set(o.at(k), o.at(k), n)
			}
		}
		s.OnCompletion = o.ref("on_completion")
		s.OnSuccess = o.ref("on_success")
		s.OnFailure = o.ref("on_failure")
	}
	var mine *node
	s.Extensions, mine = o.extensions("step_extensions")
	if mine != nil {
		d.riposteStepExt(mine, joinPath(o.at("step_extensions"), RiposteExtensionID), s)
	}
}

// stepBody reads the type-specific properties (CACAO shape).
func (d *dec) stepBody(s *Step, o *obj, src *SourceMap) {
	switch s.Type {
	case StepAction:
		d.actionFields(s, o, true)
	case StepPlaybookAction:
		s.PlaybookID = o.ref("playbook_id")
		if !o.has("playbook_id") {
			d.errs.errorf("required", o.at("playbook_id"), o.n, "playbook-action steps require \"playbook_id\"")
		}
		s.PlaybookVersion = o.timestamp("playbook_version")
		s.InArgs = o.strList("in_args")
		s.OutArgs = o.strList("out_args")
	case StepParallel:
		s.NextSteps = o.refList("next_steps")
		if !o.has("next_steps") {
			d.errs.errorf("required", o.at("next_steps"), o.n, "parallel steps require \"next_steps\"")
		}
	case StepIfCondition, StepWhileCondition:
		if !o.has("condition") {
			d.errs.errorf("required", o.at("condition"), o.n, "%s steps require \"condition\"", s.Type)
		}
		s.Condition = d.condition(o, "condition", d.declared(s))
		s.OnTrue = o.ref("on_true")
		if !o.has("on_true") {
			d.errs.errorf("required", o.at("on_true"), o.n, "%s steps require \"on_true\"", s.Type)
		}
		if s.Type == StepIfCondition {
			s.OnFalse = o.ref("on_false")
		}
	case StepSwitchCondition:
		if !o.has("switch") {
			d.errs.errorf("required", o.at("switch"), o.n, "switch-condition steps require \"switch\" (the variable switched on)")
		}
		s.Switch = o.str("switch")
		if !o.has("cases") {
			d.errs.errorf("required", o.at("cases"), o.n, "switch-condition steps require \"cases\"")
		}
		if n := o.take("cases"); n != nil {
			if co := d.object(n, o.at("cases")); co != nil {
				s.Cases = map[string]string{}
				for i, k := range n.keys {
					co.used[k] = true
					v := n.kids[i]
					p := joinPath(co.path, k)
					if v.kind != kString {
						d.errs.errorf("type", p, v, "a case must name a step id")
						continue
					}
					if !IsIdentifier(v.s) {
						d.errs.errorf("identifier", p, v, "%q is not a step identifier", v.s)
					}
					s.Cases[k] = v.s
				}
			}
		}
	}
	for _, k := range []string{"on_true", "on_false", "next_steps", "cases"} {
		if n := o.n.get(k); n != nil && !d.yaml {
			src.set(o.at(k), o.at(k), n)
		}
	}
}

// actionFields reads commands, agent, targets, in_args and out_args.
func (d *dec) actionFields(s *Step, o *obj, required bool) {
	if n := o.take("commands"); n != nil {
		if n.kind != kArray {
			o.typeErr("commands", n, "an array of commands")
		} else {
			if len(n.kids) == 0 {
				d.errs.errorf("required", o.at("commands"), n, "an action needs at least one command")
			}
			for i, k := range n.kids {
				if co := d.object(k, indexPath(o.at("commands"), i)); co != nil {
					s.Commands = append(s.Commands, d.command(co))
				}
			}
		}
	} else if required {
		d.errs.errorf("required", o.at("commands"), o.n, "action steps require \"commands\"")
	}
	if required && !o.has("agent") {
		d.errs.errorf("required", o.at("agent"), o.n, "action steps require \"agent\"")
	}
	s.Agent = o.ref("agent")
	s.Targets = o.refList("targets")
	s.InArgs = o.strList("in_args")
	s.OutArgs = o.strList("out_args")
}

// condition reads a condition and rewrites bare identifiers of declared
// variables (`x` → `__x__:value`), as lenient import allows (cacao.md §6).
// Undeclared names are left for the linter to report.
func (d *dec) condition(o *obj, key string, declared []string) string {
	c := o.str(key)
	if c == "" {
		return c
	}
	canon, changed, err := expr.Canonical(c, declared)
	if err == nil && changed {
		if !d.yaml {
			d.errs.warnf("condition", o.at(key), o.n.get(key), "variable references without __name__:value rewritten: %s", canon)
		}
		return canon
	}
	return c
}

// declared lists the variables visible in step s: the playbook's, the
// step's, and its in_args.
func (d *dec) declared(s *Step) []string {
	out := []string{}
	for k := range d.pbVars {
		out = append(out, k)
	}
	for k := range s.Variables {
		out = append(out, k)
	}
	out = append(out, s.InArgs...)
	return out
}
