package playbook

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
)

// YAML exports the playbook in Riposte's YAML format. ParseYAML of the
// result gives back an equal playbook (ids included): step keys are step
// names where those are unique, and ids are written only when they differ
// from the ones a key derives.
func (p *Playbook) YAML() ([]byte, error) {
	if p.ID == "" || p.Modified.IsZero() {
		return nil, fmt.Errorf("YAML export: the playbook needs an id and a modified timestamp")
	}
	n := p.yamlNode()
	out, err := yaml.MarshalWithOptions(toYAMLValue(n), yaml.Indent(2), yaml.IndentSequence(true), yaml.UseLiteralStyleIfMultiline(true))
	if err != nil {
		return nil, fmt.Errorf("YAML export: %w", err)
	}
	return out, nil
}

// toYAMLValue converts a node tree to values goccy/go-yaml writes in order.
func toYAMLValue(n *node) any {
	switch n.kind {
	case kNull:
		return nil
	case kBool:
		return n.s == "true"
	case kNumber:
		if i, err := strconv.ParseInt(n.s, 10, 64); err == nil {
			return i
		}
		if u, err := strconv.ParseUint(n.s, 10, 64); err == nil {
			return u
		}
		f, _ := strconv.ParseFloat(n.s, 64)
		return f
	case kString:
		return n.s
	case kArray:
		l := make([]any, len(n.kids))
		for i, k := range n.kids {
			l[i] = toYAMLValue(k)
		}
		return l
	case kObject:
		m := make(yaml.MapSlice, len(n.keys))
		for i, k := range n.keys {
			m[i] = yaml.MapItem{Key: k, Value: toYAMLValue(n.kids[i])}
		}
		return m
	}
	return nil
}

// stepKeys assigns each step its YAML key: its name when that is unique
// and non-empty, else a generated one.
func (p *Playbook) stepKeys() map[string]string {
	count := map[string]int{}
	for _, s := range p.Steps {
		if s.Name != "" {
			count[s.Name]++
		}
	}
	keys := map[string]string{}
	used := map[string]bool{}
	order := p.StepOrder()
	for _, id := range order {
		s := p.Steps[id]
		if s.Name != "" && count[s.Name] == 1 {
			keys[id] = s.Name
			used[s.Name] = true
		}
	}
	n := map[string]int{}
	for _, id := range order {
		if _, ok := keys[id]; ok {
			continue
		}
		base := strings.ReplaceAll(string(p.Steps[id].Type), "-", "_")
		if base == "" {
			base = "step"
		}
		for {
			n[base]++
			k := fmt.Sprintf("%s_%d", base, n[base])
			if !used[k] && count[k] == 0 {
				keys[id] = k
				used[k] = true
				break
			}
		}
	}
	return keys
}

// startShorthand reports whether the start step is the one `start: <step>`
// creates.
func (p *Playbook) startShorthand() bool {
	s, ok := p.Steps[p.WorkflowStart]
	if !ok || s.Type != StepStart || s.OnCompletion == "" {
		return false
	}
	plain := &Step{ID: derivedID("start", p.ID, "start", ""), Type: StepStart, OnCompletion: s.OnCompletion}
	return reflect.DeepEqual(s, plain)
}

func (p *Playbook) yamlNode() *node {
	b := newObj()
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
	if p.CreatedBy != RiposteIdentity {
		b.str("created_by", p.CreatedBy)
	}
	if !p.Created.Equal(p.Modified) {
		b.time("created", p.Created)
	}
	playbookMeta(b, p)

	// Markings: a canonical TLP marking listed last becomes `tlp:`.
	markings := p.Markings
	dataMarkings := p.DataMarkings
	tlp := ""
	if len(markings) > 0 {
		last := markings[len(markings)-1]
		if m, ok := p.DataMarkings[last]; ok && tlpMarkings[m.TLPv2Level] == last && reflect.DeepEqual(m, canonicalTLP(m.TLPv2Level)) && countOf(markings, last) == 1 {
			tlp = strings.TrimPrefix(m.TLPv2Level, "TLP:")
			markings = markings[:len(markings)-1]
			dataMarkings = map[string]*DataMarking{}
			for k, v := range p.DataMarkings {
				if k != last {
					dataMarkings[k] = v
				}
			}
		}
	}
	b.str("tlp", tlp)
	b.strs("markings", markings)

	if t := p.Trigger; t != nil {
		b.set("trigger", t.cacaoNode(true))
	}
	inputs, vars := map[string]*Variable{}, map[string]*Variable{}
	for k, v := range p.Variables {
		if v.External {
			inputs[k] = v
		} else {
			vars[k] = v
		}
	}
	if len(inputs) > 0 {
		b.set("inputs", yamlVariablesNode(inputs, true))
	}
	if len(vars) > 0 || (p.Variables != nil && len(inputs) == 0) {
		b.set("vars", yamlVariablesNode(vars, false))
	}

	keys := p.stepKeys()
	keyOf := func(id string) string {
		if k, ok := keys[id]; ok {
			return k
		}
		return id // a dangling reference stays as written
	}
	short := p.startShorthand()
	if short {
		b.str("start", keyOf(p.Steps[p.WorkflowStart].OnCompletion))
	} else if p.WorkflowStart != "" {
		b.str("workflow_start", keyOf(p.WorkflowStart))
	}
	if p.WorkflowException != "" {
		b.str("workflow_exception", keyOf(p.WorkflowException))
	}
	steps := newObj()
	implicit := map[string]bool{}
	for _, id := range p.StepOrder() {
		if short && id == p.WorkflowStart {
			continue
		}
		s := p.Steps[id]
		sn, usesDefault := p.yamlStepNode(s, keys[id], keyOf)
		if usesDefault != "" {
			implicit[usesDefault] = true
		}
		steps.set(keys[id], sn)
	}
	if p.Steps != nil {
		b.set("steps", steps.n)
	}

	agents := map[string]*AgentTarget{}
	for k, a := range p.Agents {
		if implicit[k] && reflect.DeepEqual(a, defaultAgent(k)) {
			continue
		}
		agents[k] = a
	}
	if len(agents) > 0 {
		b.set("agents", agentsNode(agents))
	}
	if len(p.Targets) > 0 {
		b.set("targets", agentsNode(p.Targets))
	}
	if len(p.AuthInfo) > 0 {
		o := newObj()
		for _, id := range sortedKeys(p.AuthInfo) {
			o.set(id, p.AuthInfo[id].cacaoNode())
		}
		b.set("auth", o.n)
	}
	if len(dataMarkings) > 0 {
		o := newObj()
		for _, id := range sortedKeys(dataMarkings) {
			o.set(id, dataMarkings[id].cacaoNode())
		}
		b.set("data_markings", o.n)
	}
	if len(p.ExtensionDefinitions) > 0 {
		o := newObj()
		for _, id := range sortedKeys(p.ExtensionDefinitions) {
			o.set(id, p.ExtensionDefinitions[id].cacaoNode())
		}
		b.set("extension_definitions", o.n)
	}
	b.extMap("extensions", p.Extensions, nil)
	if len(p.Signatures) > 0 {
		l := &node{kind: kArray}
		for _, s := range p.Signatures {
			l.kids = append(l.kids, rawToNode(s))
		}
		b.set("signatures", l)
	}
	if len(p.Extra) > 0 {
		o := newObj()
		o.extra(p.Extra)
		b.set("extra", o.n)
	}
	return b.n
}

func countOf(l []string, s string) int {
	n := 0
	for _, e := range l {
		if e == s {
			n++
		}
	}
	return n
}

func agentsNode(m map[string]*AgentTarget) *node {
	o := newObj()
	for _, id := range sortedKeys(m) {
		an, _ := m[id].cacaoNode()
		// The connector pin is written in CACAO form (extension) here; YAML
		// readers get it back through the same decoder.
		o.set(id, an)
	}
	return o.n
}

func yamlVariablesNode(vars map[string]*Variable, external bool) *node {
	o := newObj()
	for _, k := range sortedKeys(vars) {
		v := vars[k]
		key := shortVar(k)
		if v.Description == "" && v.Value == nil && !v.Constant && v.Type != "" {
			o.str(key, v.Type)
			continue
		}
		b := newObj()
		b.str("type", v.Type)
		b.str("description", v.Description)
		if v.Value != nil {
			b.set("value", valueToNode(v.Value))
		}
		b.boolean("constant", v.Constant)
		if !external {
			b.boolean("external", v.External)
		}
		o.set(key, b.n)
	}
	return o.n
}

// yamlStepNode writes one step. It returns the default agent id the step
// relies on by omitting `agent:` ("" when none).
func (p *Playbook) yamlStepNode(s *Step, key string, keyOf func(string) string) (*node, string) {
	derived := derivedID(string(s.Type), p.ID, "step", key)
	// end shorthand
	if s.Type == StepEnd && reflect.DeepEqual(s, &Step{ID: derived, Type: StepEnd, Name: key}) {
		return &node{kind: kString, s: "end"}, ""
	}
	b := newObj()
	inferred := s.inferredType()
	if inferred != s.Type {
		b.str("type", string(s.Type))
	}
	if s.ID != derived {
		b.str("id", s.ID)
	}
	if s.Name != key {
		b.set("name", &node{kind: kString, s: s.Name})
	}
	b.str("description", s.Description)
	b.set("external_references", extRefsNode(s.ExternalReferences))
	b.str("owner", s.Owner)
	if s.Delay != 0 {
		b.str("delay", formatDuration(s.Delay))
	}
	if s.Timeout != 0 {
		b.str("timeout", formatDuration(s.Timeout))
	}
	if s.Variables != nil {
		b.set("vars", yamlVariablesNode(s.Variables, false))
	}
	declared := []string{}
	for k := range p.Variables {
		declared = append(declared, k)
	}
	for k := range s.Variables {
		declared = append(declared, k)
	}
	declared = append(declared, s.InArgs...)

	usesDefault := ""
	switch s.Type {
	case StepAction:
		def := RiposteAgentID
		form := "commands"
		if len(s.Commands) == 1 {
			c := s.Commands[0]
			switch {
			case s.Approval != nil && reflect.DeepEqual(c, &Command{Type: CmdManual, Command: c.Command}):
				form = "approve"
			case c.Type == CmdRiposteConnector && !strings.Contains(c.Connector, ".") && c.Connector != "" && c.Operation != "" &&
				reflect.DeepEqual(c, &Command{Type: CmdRiposteConnector, Connector: c.Connector, Operation: c.Operation, Args: c.Args}):
				form = "connector"
			}
		}
		switch form {
		case "approve":
			def = ApproversAgentID
			a := newObj()
			a.set("question", &node{kind: kString, s: s.Commands[0].Command})
			a.strs("assignees", s.Approval.Assignees)
			a.strs("roles", s.Approval.Roles)
			a.integer("quorum", int64(s.Approval.Quorum))
			b.set("approve", a.n)
		case "connector":
			c := s.Commands[0]
			b.str("connector", c.Connector+"."+c.Operation)
			if c.Args != nil {
				b.set("args", valueToNode(c.Args))
			}
		default:
			allManual := len(s.Commands) > 0
			l := &node{kind: kArray}
			for _, c := range s.Commands {
				l.kids = append(l.kids, c.cacaoNode())
				allManual = allManual && c.Type == CmdManual
			}
			if allManual || s.Approval != nil {
				def = ApproversAgentID
			}
			if s.Approval != nil {
				a := newObj()
				a.strs("assignees", s.Approval.Assignees)
				a.strs("roles", s.Approval.Roles)
				a.integer("quorum", int64(s.Approval.Quorum))
				b.set("approval", a.n)
			}
			b.set("commands", l)
		}
		if s.Agent == def {
			usesDefault = def
		} else {
			b.set("agent", &node{kind: kString, s: s.Agent})
		}
		b.strs("targets", s.Targets)
		b.strs("in_args", shortVars(s.InArgs))
		b.strs("out_args", shortVars(s.OutArgs))
	case StepPlaybookAction:
		b.str("playbook", s.PlaybookID)
		b.time("playbook_version", s.PlaybookVersion)
		b.strs("in_args", shortVars(s.InArgs))
		b.strs("out_args", shortVars(s.OutArgs))
	case StepParallel:
		l := &node{kind: kArray}
		for _, n := range s.NextSteps {
			l.kids = append(l.kids, &node{kind: kString, s: keyOf(n)})
		}
		b.set("parallel", l)
		b.boolean("wait_all", s.WaitAll)
	case StepIfCondition:
		b.set("if", &node{kind: kString, s: conditionShort(s.Condition, declared)})
		b.str("then", keyOfOpt(keyOf, s.OnTrue))
		b.str("else", keyOfOpt(keyOf, s.OnFalse))
	case StepWhileCondition:
		b.set("while", &node{kind: kString, s: conditionShort(s.Condition, declared)})
		b.str("do", keyOfOpt(keyOf, s.OnTrue))
		b.integer("max_iterations", int64(s.MaxIterations))
	case StepSwitchCondition:
		sw := s.Switch
		if strings.HasSuffix(sw, valueSuffix) {
			if bare := shortVar(strings.TrimSuffix(sw, valueSuffix)); !strings.HasPrefix(bare, "__") {
				sw = bare
			}
		}
		b.set("switch", &node{kind: kString, s: sw})
		if s.Cases != nil {
			o := newObj()
			for _, k := range sortedCaseKeys(s.Cases) {
				o.str(k, keyOf(s.Cases[k]))
			}
			b.set("cases", o.n)
		}
	}
	b.str("next", keyOfOpt(keyOf, s.OnCompletion))
	b.str("on_success", keyOfOpt(keyOf, s.OnSuccess))
	b.str("on_failure", keyOfOpt(keyOf, s.OnFailure))
	if r := s.Retry; r != nil {
		o := newObj()
		o.integer("attempts", int64(r.MaxAttempts))
		if r.Initial != 0 {
			o.str("initial", formatDuration(r.Initial))
		}
		if r.Max != 0 {
			o.str("max", formatDuration(r.Max))
		}
		if r.Multiplier != 0 {
			o.set("multiplier", &node{kind: kNumber, s: strconv.FormatFloat(r.Multiplier, 'g', -1, 64)})
		}
		o.strs("retry_on", r.RetryOn)
		o.strs("non_retryable", r.NonRetryable)
		o.boolean("unknown_outcome", r.RetryUnknownOutcome)
		b.set("retry", o.n)
	}
	if s.RevertAfter != 0 {
		b.str("revert_after", formatDuration(s.RevertAfter))
	}
	b.boolean("continue_on_error", s.ContinueOnError)
	if s.Type != StepParallel {
		b.boolean("wait_all", s.WaitAll)
	}
	if s.Type != StepWhileCondition {
		b.integer("max_iterations", int64(s.MaxIterations))
	}
	b.extMap("extensions", s.Extensions, nil)
	if len(s.Extra) > 0 {
		o := newObj()
		o.extra(s.Extra)
		b.set("extra", o.n)
	}
	return b.n, usesDefault
}

func keyOfOpt(keyOf func(string) string, id string) string {
	if id == "" {
		return ""
	}
	return keyOf(id)
}

func shortVars(l []string) []string {
	if l == nil {
		return nil
	}
	out := make([]string, len(l))
	for i, v := range l {
		out[i] = shortVar(v)
	}
	return out
}

// inferredType is the type ParseYAML infers from the keys this step will
// be written with.
func (s *Step) inferredType() StepType {
	switch s.Type {
	case StepAction:
		return StepAction // written with connector, approve or commands
	case StepPlaybookAction, StepParallel, StepIfCondition, StepWhileCondition, StepSwitchCondition:
		return s.Type
	}
	return ""
}
