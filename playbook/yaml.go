package playbook

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook/expr"
)

// ParseYAML reads a playbook in Riposte's YAML format (README.md). Every
// finding carries the YAML path and line of the value concerned. The
// returned playbook is nil only when the document is not a YAML mapping.
func ParseYAML(data []byte) (*Playbook, []Error) {
	el := &errList{}
	root, err := parseYAML(data)
	if err != nil {
		e := Error{Code: "yaml", Path: "$", Msg: err.Error()}
		var ye *yamlError
		if errors.As(err, &ye) {
			e.Line, e.Column = ye.line, ye.col
		}
		return nil, append(el.errs, e)
	}
	if root.kind != kObject {
		el.errorf("type", "$", root, "a playbook must be a YAML mapping, not %s", root.kind)
		return nil, el.errs
	}
	d := &dec{errs: el, yaml: true}
	p := d.yamlPlaybook(root)
	sortErrors(el.errs)
	return p, el.errs
}

// varKey maps a YAML variable name to the CACAO name: `x` → `__x__`
// (names already written `__x__` stay).
func varKey(k string) string {
	if IsVariableName(k) {
		return k
	}
	return "__" + k + "__"
}

// shortVar is the inverse of varKey for display.
func shortVar(name string) string {
	if len(name) > 4 && strings.HasPrefix(name, "__") && strings.HasSuffix(name, "__") {
		s := name[2 : len(name)-2]
		if varKey(s) == name {
			return s
		}
	}
	return name
}

// duration reads a YAML duration: "90s", "10m", "4h", "2d", "1h30m",
// "250ms", or an integer number of milliseconds.
func (d *dec) duration(o *obj, key string) time.Duration {
	n := o.take(key)
	if n == nil {
		return 0
	}
	dur, err := parseDuration(n)
	if err != nil {
		d.errs.errorf("duration", o.at(key), n, "%v", err)
	}
	return dur
}

func parseDuration(n *node) (time.Duration, error) {
	switch n.kind {
	case kNumber:
		v, ok := numberValue(n.s).(int64)
		if !ok || v < 0 || v > math.MaxInt64/int64(time.Millisecond) {
			return 0, fmt.Errorf("%s is not a whole number of milliseconds", n.s)
		}
		return time.Duration(v) * time.Millisecond, nil
	case kString:
		s := strings.TrimSpace(n.s)
		var total time.Duration
		// Expand a leading "<n>d" (days), which time.ParseDuration lacks.
		if i := strings.IndexByte(s, 'd'); i > 0 {
			days, err := strconv.Atoi(s[:i])
			if err == nil && days >= 0 && days < 100000 {
				total = time.Duration(days) * 24 * time.Hour
				s = s[i+1:]
			}
		}
		if s != "" {
			v, err := time.ParseDuration(s)
			if err != nil || v < 0 {
				return 0, fmt.Errorf("%q is not a duration (e.g. 30s, 10m, 4h, 2d, 1h30m)", n.s)
			}
			total += v
		}
		if total%time.Millisecond != 0 {
			return 0, fmt.Errorf("%q is finer than a millisecond", n.s)
		}
		return total, nil
	}
	return 0, fmt.Errorf("a duration must be text like 30s or 10m, not %s", n.kind)
}

// formatDuration writes a duration the way parseDuration reads it, short.
func formatDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var b strings.Builder
	h := d / time.Hour
	d -= h * time.Hour
	m := d / time.Minute
	d -= m * time.Minute
	s := d / time.Second
	d -= s * time.Second
	msec := d / time.Millisecond
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	if msec > 0 {
		fmt.Fprintf(&b, "%dms", msec)
	}
	return b.String()
}

// yamlStep is a step being read, before references are resolved.
type yamlStep struct {
	key  string
	n    *node
	o    *obj
	step *Step
	refs []yamlRef
}

// yamlRef is a step reference to resolve once all keys are known.
type yamlRef struct {
	path  string // YAML path of the reference
	n     *node
	key   string // the key written
	apply func(id string)
}

func (d *dec) yamlPlaybook(root *node) *Playbook {
	o := d.object(root, "$")
	src := &SourceMap{}
	src.set("$", "$", root)
	p := &Playbook{Source: src}
	mapTop := func(cacao, yaml string) {
		if n := root.get(yaml); n != nil {
			src.set("$."+cacao, "$."+yaml, n)
		}
	}
	for _, k := range []string{"id", "name", "description", "playbook_types", "playbook_activities", "playbook_processing_summary", "created_by", "created", "modified", "revoked", "valid_from", "valid_until", "derived_from", "related_to", "priority", "severity", "impact", "industry_sectors", "labels", "external_references", "markings", "workflow_exception", "extension_definitions", "signatures"} {
		mapTop(k, k)
	}
	mapTop("workflow_start", "start")
	mapTop("workflow", "steps")
	mapTop("agent_definitions", "agents")
	mapTop("target_definitions", "targets")
	mapTop("authentication_info_definitions", "auth")
	mapTop("data_marking_definitions", "data_markings")
	mapTop("playbook_extensions", "extensions")

	p.Name = o.reqStr("name")
	p.ID = o.str("id")
	if p.ID == "" {
		if p.Name != "" {
			p.ID = derivedID("playbook", "", "name", p.Name)
			d.errs.warnf("id", "$.id", root, "no id: derived %s from the name (write it into the file so renaming keeps the playbook's identity)", p.ID)
		}
	} else if !IsIdentifier(p.ID) || idPrefix(p.ID) != "playbook" {
		d.errs.errorf("identifier", "$.id", root.get("id"), "%q is not a playbook--<uuid> identifier", p.ID)
	}
	d.pbID = p.ID
	p.Description = o.str("description")
	p.PlaybookTypes = o.strList("playbook_types")
	p.PlaybookActivities = o.strList("playbook_activities")
	if n := o.take("playbook_processing_summary"); n != nil {
		if so := d.object(n, "$.playbook_processing_summary"); so != nil {
			p.ProcessingSummary = map[string]bool{}
			for _, k := range n.keys {
				p.ProcessingSummary[k] = so.boolean(k)
			}
		}
	}
	p.CreatedBy = o.ref("created_by")
	if p.CreatedBy == "" {
		p.CreatedBy = RiposteIdentity
	}
	if !o.has("modified") {
		d.errs.errorf("required", "$.modified", root, "required: modified, the version timestamp of this playbook (e.g. 2025-06-01T00:00:00Z); bump it on every change")
	}
	p.Modified = o.timestamp("modified")
	p.Created = o.timestamp("created")
	if p.Created.IsZero() {
		p.Created = p.Modified
	}
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
	p.DataMarkings = mapOf(d, o, "data_markings", d.dataMarking)
	if n := o.take("tlp"); n != nil {
		lvl := strings.ToUpper(strings.TrimSpace(n.s))
		if !strings.HasPrefix(lvl, "TLP:") {
			lvl = "TLP:" + lvl
		}
		id, ok := tlpMarkings[lvl]
		if n.kind != kString || !ok {
			d.errs.errorf("enum", "$.tlp", n, "tlp must be one of RED, AMBER+STRICT, AMBER, GREEN, CLEAR")
		} else {
			p.Markings = append(p.Markings, id)
			if p.DataMarkings == nil {
				p.DataMarkings = map[string]*DataMarking{}
			}
			p.DataMarkings[id] = canonicalTLP(lvl)
		}
	}

	// Variables: inputs are the external ones.
	p.Variables = d.yamlVariables(o, "vars", false, src, "$.playbook_variables")
	if in := d.yamlVariables(o, "inputs", true, src, "$.playbook_variables"); in != nil {
		if p.Variables == nil {
			p.Variables = map[string]*Variable{}
		}
		for k, v := range in {
			if _, dup := p.Variables[k]; dup {
				d.errs.errorf("duplicate", joinPath("$.inputs", shortVar(k)), root.get("inputs"), "variable %s is declared in both inputs and vars", k)
			}
			p.Variables[k] = v
		}
	}
	d.pbVars = p.Variables

	p.AuthInfo = mapOf(d, o, "auth", func(k string, so *obj) *AuthInfo { return d.authInfo(k, so) })
	p.Agents = mapOf(d, o, "agents", d.agentTarget)
	p.Targets = mapOf(d, o, "targets", d.agentTarget)
	p.ExtensionDefinitions = mapOf(d, o, "extension_definitions", func(k string, so *obj) *ExtensionDefinition { return d.extensionDefinition(so) })
	var mine *node
	p.Extensions, mine = o.extensions("extensions")
	if mine != nil {
		d.errs.errorf("extension", joinPath("$.extensions", RiposteExtensionID), mine, "write Riposte's playbook extension as trigger: at the top level")
	}
	if tn := o.take("trigger"); tn != nil {
		p.Trigger = d.trigger(tn, "$.trigger")
		// The trigger lives in the x-riposte extension in CACAO terms; map
		// its secret_ref so problems found on the model (SecretRefs) point
		// at the YAML line.
		if rn := nodeAt(tn, "$.webhook.secret_ref"); rn != nil {
			src.set(joinPath(joinPath("$.playbook_extensions", RiposteExtensionID), "trigger")+".webhook.secret_ref", "$.trigger.webhook.secret_ref", rn)
		}
	}
	if n := o.take("signatures"); n != nil {
		if n.kind != kArray {
			o.typeErr("signatures", n, "a list")
		} else {
			for _, s := range n.kids {
				p.Signatures = append(p.Signatures, s.compactJSON())
			}
		}
	}
	if n := o.take("extra"); n != nil {
		if eo := d.object(n, "$.extra"); eo != nil {
			p.Extra = map[string]json.RawMessage{}
			for i, k := range n.keys {
				eo.used[k] = true
				p.Extra[k] = n.kids[i].compactJSON()
			}
		}
	}

	// Steps.
	sn := o.take("steps")
	var steps []*yamlStep
	byKey := map[string]*yamlStep{}
	if sn == nil {
		d.errs.errorf("required", "$.steps", root, "required: steps")
	} else if so := d.object(sn, "$.steps"); so != nil {
		for i, k := range sn.keys {
			so.used[k] = true
			ys := d.yamlStep(k, sn.kids[i], src)
			if ys != nil {
				steps = append(steps, ys)
				byKey[k] = ys
			}
		}
	}
	p.Steps = map[string]*Step{}
	ids := map[string]string{} // step id → key, for duplicates
	for _, ys := range steps {
		id := ys.step.ID
		if prev, dup := ids[id]; dup {
			d.errs.errorf("duplicate", joinPath("$.steps", ys.key), ys.n, "step id %s is also used by step %q", id, prev)
			continue
		}
		ids[id] = ys.key
		p.Steps[id] = ys.step
	}
	resolve := func(r yamlRef) {
		if t, ok := byKey[r.key]; ok {
			r.apply(t.step.ID)
			return
		}
		if _, ok := p.Steps[r.key]; ok && IsIdentifier(r.key) {
			r.apply(r.key)
			return
		}
		d.errs.errorf("missing-step", r.path, r.n, "references unknown step %q", r.key)
		r.apply(r.key)
	}
	for _, ys := range steps {
		for _, r := range ys.refs {
			resolve(r)
		}
	}
	// Start: `start: <first step>` creates the start step; `workflow_start:
	// <step>` names the step the workflow starts at, as CACAO does.
	sn2, wn := o.take("start"), o.take("workflow_start")
	switch {
	case sn2 != nil && wn != nil:
		d.errs.errorf("start", "$.workflow_start", wn, "use start (shorthand) or workflow_start, not both")
	case sn2 != nil:
		if sn2.kind != kString || sn2.s == "" {
			d.errs.errorf("type", "$.start", sn2, "start must name the first step")
			break
		}
		st := &Step{ID: derivedID("start", p.ID, "start", ""), Type: StepStart}
		resolve(yamlRef{path: "$.start", n: sn2, key: sn2.s, apply: func(id string) { st.OnCompletion = id }})
		if _, dup := p.Steps[st.ID]; dup {
			d.errs.errorf("duplicate", "$.start", sn2, "a start step already exists")
		}
		for _, ys := range steps {
			if ys.step.Type == StepStart {
				d.errs.errorf("start", "$.start", sn2, "start: creates the start step, but step %q is one too: name it with workflow_start instead", ys.key)
			}
		}
		p.Steps[st.ID] = st
		p.WorkflowStart = st.ID
		src.set(joinPath("$.workflow", st.ID), "$.start", sn2)
		src.set(joinPath(joinPath("$.workflow", st.ID), "on_completion"), "$.start", sn2)
	case wn != nil:
		if wn.kind != kString || wn.s == "" {
			d.errs.errorf("type", "$.workflow_start", wn, "workflow_start must name a step")
			break
		}
		resolve(yamlRef{path: "$.workflow_start", n: wn, key: wn.s, apply: func(id string) { p.WorkflowStart = id }})
		src.set("$.workflow_start", "$.workflow_start", wn)
	default:
		var starts []string
		for _, ys := range steps {
			if ys.step.Type == StepStart {
				starts = append(starts, ys.step.ID)
			}
		}
		switch len(starts) {
		case 0:
			d.errs.errorf("required", "$.start", root, "no start: add `start: <first step>`")
		case 1:
			p.WorkflowStart = starts[0]
		default:
			d.errs.errorf("start", "$.workflow_start", root, "%d start steps: say which one with `workflow_start: <step>`", len(starts))
		}
	}
	if n := o.take("workflow_exception"); n != nil {
		if n.kind != kString {
			d.errs.errorf("type", "$.workflow_exception", n, "must name a step")
		} else {
			resolve(yamlRef{path: "$.workflow_exception", n: n, key: n.s, apply: func(id string) { p.WorkflowException = id }})
		}
	}
	// Implicit agents.
	for _, s := range p.Steps {
		if def := defaultAgent(s.Agent); def != nil {
			if p.Agents == nil {
				p.Agents = map[string]*AgentTarget{}
			}
			if _, ok := p.Agents[s.Agent]; !ok {
				p.Agents[s.Agent] = def
			}
		}
	}
	o.rest("the playbook")
	return p
}

// canonicalTLP returns the CACAO TC's TLP v2 marking object for a level.
func canonicalTLP(level string) *DataMarking {
	id := tlpMarkings[level]
	return &DataMarking{Type: "marking-tlp", ID: id, CreatedBy: cacaoTCIdentity, Created: time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC), TLPv2Level: level}
}

// yamlVariables reads `vars:` or `inputs:`: name → type, or name → object.
func (d *dec) yamlVariables(o *obj, key string, external bool, src *SourceMap, cacaoBase string) map[string]*Variable {
	n := o.take(key)
	if n == nil {
		return nil
	}
	mo := d.object(n, o.at(key))
	if mo == nil {
		return nil
	}
	out := map[string]*Variable{}
	for i, k := range n.keys {
		mo.used[k] = true
		vn := n.kids[i]
		p := joinPath(mo.path, k)
		name := varKey(k)
		if !IsVariableName(name) {
			d.errs.errorf("variable-name", p, vn, "%q is not a variable name (letters, digits, _ and -; first a letter)", k)
		}
		if src != nil {
			src.set(joinPath(cacaoBase, name), p, vn)
		}
		var v *Variable
		switch vn.kind {
		case kString:
			v = &Variable{Type: vn.s}
		case kObject:
			vo := d.object(vn, p)
			v = d.variable(vo)
		default:
			d.errs.errorf("type", p, vn, "a variable is a type name (string, integer, ipv4-addr, dictionary, …) or an object with type, value, description, constant")
			continue
		}
		if external {
			if v.External && vn.kind == kObject && vn.get("external") != nil {
				d.errs.warnf("redundant", joinPath(p, "external"), vn.get("external"), "inputs are external already")
			}
			v.External = true
		}
		out[name] = v
	}
	return out
}

var stepKinds = []struct {
	key string
	typ StepType
}{
	{"connector", StepAction}, {"approve", StepAction}, {"commands", StepAction},
	{"playbook", StepPlaybookAction}, {"parallel", StepParallel},
	{"if", StepIfCondition}, {"while", StepWhileCondition}, {"switch", StepSwitchCondition},
}

// yamlStep reads one step; references are recorded for later resolution.
func (d *dec) yamlStep(key string, n *node, src *SourceMap) *yamlStep {
	path := joinPath("$.steps", key)
	ys := &yamlStep{key: key, n: n}
	s := &Step{Name: key}
	ys.step = s
	if n.kind == kString && n.s == "end" {
		s.Type = StepEnd
		s.ID = derivedID("end", d.pbID, "step", key)
		src.set(joinPath("$.workflow", s.ID), path, n)
		return ys
	}
	o := d.object(n, path)
	if o == nil {
		return nil
	}
	ys.o = o
	// The type: explicit, or from the keys present.
	if o.has("type") {
		s.Type = StepType(o.str("type"))
	} else {
		for _, k := range stepKinds {
			if o.has(k.key) {
				s.Type = k.typ
				break
			}
		}
		if s.Type == "" {
			d.errs.errorf("step-type", path, n, "cannot tell what kind of step this is: add one of connector, approve, commands, playbook, parallel, if, while, switch (or type: start / end)")
			s.Type = "unknown"
		}
	}
	if s.Type != "" && !s.Type.Known() && s.Type != "unknown" {
		d.errs.warnf("step-type", o.at("type"), o.n.get("type"), "unknown step type %q: kept, but it cannot run", s.Type)
	}
	if o.has("id") {
		s.ID = o.ref("id")
	} else {
		s.ID = derivedID(string(s.Type), d.pbID, "step", key)
	}
	if o.has("name") {
		s.Name = o.str("name")
	}
	cpath := joinPath("$.workflow", s.ID)
	src.set(cpath, path, n)
	mapField := func(cacao, yaml string) {
		if fn := n.get(yaml); fn != nil {
			src.set(joinPath(cpath, cacao), joinPath(path, yaml), fn)
		}
	}
	for _, f := range [][2]string{
		{"on_completion", "next"}, {"on_success", "on_success"}, {"on_failure", "on_failure"},
		{"on_true", "then"}, {"on_true", "do"}, {"on_false", "else"}, {"next_steps", "parallel"},
		{"cases", "cases"}, {"condition", "if"}, {"condition", "while"}, {"switch", "switch"},
		{"commands", "commands"}, {"commands", "connector"}, {"commands", "approve"},
		{"agent", "agent"}, {"targets", "targets"}, {"in_args", "in_args"}, {"out_args", "out_args"},
		{"step_variables", "vars"}, {"playbook_id", "playbook"}, {"step_extensions", "extensions"},
		{"delay", "delay"}, {"timeout", "timeout"}, {"description", "description"},
	} {
		mapField(f[0], f[1])
	}

	ref := func(yamlKey string, apply func(string)) {
		rn := o.take(yamlKey)
		if rn == nil {
			return
		}
		if rn.kind != kString || rn.s == "" {
			d.errs.errorf("type", o.at(yamlKey), rn, "must name a step")
			return
		}
		ys.refs = append(ys.refs, yamlRef{path: o.at(yamlKey), n: rn, key: rn.s, apply: apply})
	}

	s.Description = o.str("description")
	s.ExternalReferences = o.externalRefs("external_references")
	s.Owner = o.ref("owner")
	s.Delay = d.duration(o, "delay")
	s.Timeout = d.duration(o, "timeout")
	if vars := d.yamlVariables(o, "vars", false, src, joinPath(cpath, "step_variables")); vars != nil {
		s.Variables = vars
	}
	ref("next", func(id string) { s.OnCompletion = id })
	ref("on_success", func(id string) { s.OnSuccess = id })
	ref("on_failure", func(id string) { s.OnFailure = id })
	var mine *node
	s.Extensions, mine = o.extensions("extensions")
	if mine != nil {
		d.riposteStepExt(mine, joinPath(o.at("extensions"), RiposteExtensionID), s)
	}
	// Riposte step options.
	if rn := o.take("retry"); rn != nil {
		if ro := d.object(rn, o.at("retry")); ro != nil {
			r := &RetryPolicy{
				MaxAttempts:         int(ro.integer("attempts", 1, 1000)),
				Initial:             d.duration(ro, "initial"),
				Max:                 d.duration(ro, "max"),
				RetryOn:             ro.strList("retry_on"),
				NonRetryable:        ro.strList("non_retryable"),
				RetryUnknownOutcome: ro.boolean("unknown_outcome"),
			}
			if mn := ro.take("multiplier"); mn != nil {
				f, err := strconv.ParseFloat(mn.s, 64)
				if mn.kind != kNumber || err != nil || f < 1 || f > 100 {
					d.errs.errorf("range", ro.at("multiplier"), mn, "must be a number in 1..100")
				} else {
					r.Multiplier = f
				}
			}
			if !ro.has("attempts") {
				d.errs.errorf("required", ro.at("attempts"), rn, "retry needs attempts (the total number of attempts, first included)")
			}
			ro.rest("retry")
			s.Retry = r
		}
	}
	s.RevertAfter = d.duration(o, "revert_after")
	s.ContinueOnError = o.boolean("continue_on_error")
	s.WaitAll = o.boolean("wait_all")
	s.MaxIterations = int(o.integer("max_iterations", 0, 1_000_000))
	if an := o.take("approval"); an != nil {
		s.Approval = d.yamlApproval(an, o.at("approval"), nil)
	}
	inArgs := func() {
		for _, k := range []string{"in_args", "out_args"} {
			l := o.strList(k)
			for i := range l {
				l[i] = varKey(l[i])
			}
			if k == "in_args" {
				s.InArgs = l
			} else {
				s.OutArgs = l
			}
		}
	}

	switch s.Type {
	case StepAction:
		forms := 0
		for _, k := range []string{"connector", "approve", "commands"} {
			if o.has(k) {
				forms++
			}
		}
		if forms > 1 {
			d.errs.errorf("step-form", path, n, "use one of connector, approve and commands in a step")
		}
		defaultAgent := RiposteAgentID
		switch {
		case o.has("connector"):
			cn := o.take("connector")
			c := &Command{Type: CmdRiposteConnector}
			if cn.kind != kString {
				d.errs.errorf("type", o.at("connector"), cn, "connector must be connector.operation, e.g. agent.block_ip")
			} else if conn, op, ok := strings.Cut(cn.s, "."); !ok || conn == "" || op == "" {
				d.errs.errorf("connector", o.at("connector"), cn, "%q must be connector.operation, e.g. agent.block_ip", cn.s)
			} else {
				c.Connector, c.Operation = conn, op
			}
			if an := o.take("args"); an != nil {
				if an.kind != kObject {
					d.errs.errorf("type", o.at("args"), an, "args must be a mapping of argument names to values")
				} else {
					c.Args = an.value().(map[string]any)
				}
			}
			s.Commands = []*Command{c}
			c0 := indexPath(joinPath(cpath, "commands"), 0)
			src.set(joinPath(c0, "operation"), o.at("connector"), cn)
			src.set(joinPath(c0, "connector"), o.at("connector"), cn)
			if an := n.get("args"); an != nil {
				src.set(joinPath(c0, "args"), o.at("args"), an)
			}
		case o.has("approve"):
			an := o.take("approve")
			c := &Command{Type: CmdManual}
			s.Approval = d.yamlApproval(an, o.at("approve"), &c.Command)
			if q := an.get("question"); q != nil {
				src.set(joinPath(indexPath(joinPath(cpath, "commands"), 0), "command"), joinPath(o.at("approve"), "question"), q)
			}
			s.Commands = []*Command{c}
			defaultAgent = ApproversAgentID
		case o.has("commands"):
			d.actionFields(s, o, false)
			allManual := len(s.Commands) > 0
			for _, c := range s.Commands {
				allManual = allManual && c.Type == CmdManual
			}
			if allManual || s.Approval != nil {
				defaultAgent = ApproversAgentID
			}
		}
		if s.Approval != nil {
			defaultAgent = ApproversAgentID
		}
		if o.has("agent") {
			s.Agent = o.ref("agent")
		} else {
			s.Agent = defaultAgent
		}
		s.Targets = o.refList("targets")
		inArgs()
	case StepPlaybookAction:
		s.PlaybookID = o.ref("playbook")
		s.PlaybookVersion = o.timestamp("playbook_version")
		inArgs()
	case StepParallel:
		pn := o.take("parallel")
		if pn == nil || pn.kind != kArray || len(pn.kids) == 0 {
			d.errs.errorf("type", o.at("parallel"), n, "parallel must list the first step of each branch")
		} else {
			s.NextSteps = make([]string, len(pn.kids))
			for i, e := range pn.kids {
				i := i
				if e.kind != kString {
					d.errs.errorf("type", indexPath(o.at("parallel"), i), e, "must name a step")
					continue
				}
				ys.refs = append(ys.refs, yamlRef{path: indexPath(o.at("parallel"), i), n: e, key: e.s, apply: func(id string) { s.NextSteps[i] = id }})
			}
		}
	case StepIfCondition, StepWhileCondition:
		ck := "if"
		if s.Type == StepWhileCondition {
			ck = "while"
		}
		if !o.has(ck) {
			d.errs.errorf("required", o.at(ck), n, "%s steps need %s: <condition>", s.Type, ck)
		}
		s.Condition = d.condition(o, ck, d.declared(s))
		if s.Type == StepIfCondition {
			ref("then", func(id string) { s.OnTrue = id })
			ref("else", func(id string) { s.OnFalse = id })
			if !o.has("then") {
				d.errs.errorf("required", o.at("then"), n, "if steps need then: <step>")
			}
		} else {
			ref("do", func(id string) { s.OnTrue = id })
			if !o.has("do") {
				d.errs.errorf("required", o.at("do"), n, "while steps need do: <first step of the loop body>")
			}
		}
	case StepSwitchCondition:
		sw := o.str("switch")
		if sw != "" && !strings.HasPrefix(sw, "__") {
			sw = varKey(sw) + ":value"
		}
		s.Switch = sw
		if cn := o.take("cases"); cn == nil {
			d.errs.errorf("required", o.at("cases"), n, "switch steps need cases: {value: step, default: step}")
		} else if co := d.object(cn, o.at("cases")); co != nil {
			s.Cases = map[string]string{}
			for i, k := range cn.keys {
				k := k
				co.used[k] = true
				e := cn.kids[i]
				if e.kind != kString {
					d.errs.errorf("type", joinPath(co.path, k), e, "must name a step")
					continue
				}
				ys.refs = append(ys.refs, yamlRef{path: joinPath(co.path, k), n: e, key: e.s, apply: func(id string) { s.Cases[k] = id }})
			}
		}
	}
	if xn := o.take("extra"); xn != nil {
		if xo := d.object(xn, o.at("extra")); xo != nil {
			s.Extra = map[string]json.RawMessage{}
			for i, k := range xn.keys {
				xo.used[k] = true
				s.Extra[k] = xn.kids[i].compactJSON()
			}
		}
	}
	o.rest(string(s.Type) + " step")
	return ys
}

// yamlApproval reads `approve:` (question set) or `approval:` (policy only).
func (d *dec) yamlApproval(n *node, path string, question *string) *Approval {
	ao := d.object(n, path)
	if ao == nil {
		return nil
	}
	a := &Approval{
		Assignees: ao.strList("assignees"),
		Roles:     ao.strList("roles"),
		Quorum:    int(ao.integer("quorum", 0, 100)),
	}
	if question != nil {
		*question = ao.reqStr("question")
	}
	ao.rest("approval")
	return a
}

// conditionShort is the YAML display form of a canonical condition.
func conditionShort(cond string, declared []string) string {
	return expr.Short(cond, declared)
}
