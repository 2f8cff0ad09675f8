package playbook

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook/expr"
)

// ArgSpec describes one argument of a connector operation.
type ArgSpec struct {
	// Type is one of string, int, number, bool, duration, ip, list, map,
	// any. A value that contains a variable reference is checked at run
	// time instead.
	Type        string
	Required    bool
	Description string
}

// KnownConnectors is what the linter knows about the connectors installed:
// the operations each one offers and their arguments. The connector
// registry implements it.
type KnownConnectors interface {
	Operation(connector, op string) (argsSchema map[string]ArgSpec, ok bool)
}

// CommandTypeChecker may also be implemented by a KnownConnectors: it says
// whether some connector runs CACAO commands of a type (ssh, http-api, …)
// for an agent of a type (cacao.md §4: connectors are chosen by command,
// agent and target type). When it is not implemented, command and agent
// types are not checked.
type CommandTypeChecker interface {
	CommandType(cmdType, agentType string) bool
}

// CommandTypeExplainer may also be implemented by a KnownConnectors: it
// says why no connector runs a command type (e.g. which connector to
// configure), replacing the generic "no connector for command type".
type CommandTypeExplainer interface {
	CommandTypeProblem(cmdType string) string
}

// FailureVariable is set by the engine on an on_failure route with the
// failure (reason, step, message); it is always declared.
const FailureVariable = "__riposte_failure__"

// Lint checks what the schema cannot (cacao.md §10.3): the graph
// (reachability, cycles, branches ending at their own end steps), every
// reference, variables, conditions, connectors and commands. Errors block
// activation; warnings do not. known may be nil (connector operations and
// command types are then not checked). Positions come from p.Source when
// the playbook was parsed.
func Lint(p *Playbook, known KnownConnectors) []Error {
	l := &linter{p: p, known: known}
	l.run()
	for i := range l.errs {
		if pos, ok := p.Source.Lookup(l.errs[i].Path); ok {
			l.errs[i].Path, l.errs[i].Line, l.errs[i].Column = pos.Path, pos.Line, pos.Column
		}
	}
	sortErrors(l.errs)
	return l.errs
}

type linter struct {
	p     *Playbook
	known KnownConnectors
	errs  []Error
}

func (l *linter) errorf(code, path, format string, a ...any) {
	l.errs = append(l.errs, Error{Severity: SeverityError, Code: code, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func (l *linter) warnf(code, path, format string, a ...any) {
	l.errs = append(l.errs, Error{Severity: SeverityWarning, Code: code, Path: path, Msg: fmt.Sprintf(format, a...)})
}

func stepPath(id string) string { return joinPath("$.workflow", id) }

func (l *linter) run() {
	p := l.p
	l.metadata()
	if len(p.Steps) == 0 {
		l.errorf("no-steps", "$.workflow", "the workflow has no steps")
		return
	}
	l.definitions()
	l.steps()
	l.graph()
	l.usage()
}

func (l *linter) metadata() {
	p := l.p
	if p.ID == "" {
		l.errorf("required", "$.id", "the playbook has no id")
	} else if !IsIdentifier(p.ID) || idPrefix(p.ID) != "playbook" {
		l.errorf("identifier", "$.id", "%q is not a playbook--<uuid> identifier", p.ID)
	}
	if p.Name == "" {
		l.errorf("required", "$.name", "the playbook has no name")
	}
	if p.Description == "" {
		l.warnf("description", "$.description", "no description: say what the playbook does and when it runs")
	}
	if p.Modified.IsZero() {
		l.errorf("required", "$.modified", "no modified timestamp (the version)")
	} else if !p.Created.IsZero() && p.Modified.Before(p.Created) {
		l.errorf("timestamp", "$.modified", "modified %s is earlier than created %s", formatTimestamp(p.Modified), formatTimestamp(p.Created))
	}
	var fine []string
	for _, t := range []struct {
		k string
		v time.Time
	}{{"created", p.Created}, {"modified", p.Modified}, {"valid_from", p.ValidFrom}, {"valid_until", p.ValidUntil}} {
		if !t.v.IsZero() && t.v.Nanosecond()%int(time.Millisecond) != 0 {
			fine = append(fine, t.k)
		}
	}
	if len(fine) > 0 {
		l.warnf("timestamp", "$."+fine[0], "%s: sub-millisecond precision; CACAO wants exactly milliseconds", strings.Join(fine, ", "))
	}
	if !p.ValidFrom.IsZero() && !p.ValidUntil.IsZero() && !p.ValidUntil.After(p.ValidFrom) {
		l.errorf("validity", "$.valid_until", "valid_until must be later than valid_from")
	}
	if p.Revoked {
		l.errorf("revoked", "$.revoked", "the playbook is revoked and cannot be activated")
	}
	for i, m := range p.Markings {
		if _, ok := p.DataMarkings[m]; !ok {
			l.errorf("missing-ref", indexPath("$.markings", i), "marking %s is not in data_marking_definitions", m)
		}
	}
	for k, m := range p.DataMarkings {
		if idPrefix(k) != m.Type {
			l.errorf("key-type", joinPath("$.data_marking_definitions", k), "key prefix %q does not match type %q", idPrefix(k), m.Type)
		}
	}
	if t := p.Trigger; t != nil {
		for _, m := range []struct {
			k string
			v *EventMatch
		}{{"alert", t.Alert}, {"incident", t.Incident}} {
			if m.v != nil && m.v.Condition != "" {
				if _, err := expr.Compile(m.v.Condition, []string{"__alert__", "__incident__"}); err != nil {
					l.errorf("condition", "$.playbook_extensions.trigger."+m.k+".condition", "condition: %v", err)
				}
			}
		}
		for name := range t.Bind {
			if v, ok := p.Variables[name]; !ok || !v.External {
				l.errorf("bind", "$.playbook_extensions.trigger.bind", "bind names %s, which is not an external playbook variable", name)
			}
		}
	}
}

func (l *linter) definitions() {
	p := l.p
	for _, d := range []struct {
		base string
		m    map[string]*AgentTarget
	}{{"$.agent_definitions", p.Agents}, {"$.target_definitions", p.Targets}} {
		for _, k := range sortedKeys(d.m) {
			a := d.m[k]
			path := joinPath(d.base, k)
			if pre := idPrefix(k); pre != a.Type {
				l.errorf("key-type", path, "key prefix %q does not match type %q", pre, a.Type)
			}
			if a.AuthInfo != "" {
				if _, ok := p.AuthInfo[a.AuthInfo]; !ok {
					l.errorf("missing-ref", joinPath(path, "authentication_info"), "authentication_info %s is not in authentication_info_definitions", a.AuthInfo)
				}
			}
			switch a.Type {
			case "http-api", "ssh", "linux", "net-address":
				if len(a.Address) == 0 {
					l.errorf("required", joinPath(path, "address"), "%s agents and targets need an address", a.Type)
				}
			}
		}
	}
	for _, k := range sortedKeys(p.AuthInfo) {
		if pre := idPrefix(k); pre != p.AuthInfo[k].Type {
			l.errorf("key-type", joinPath("$.authentication_info_definitions", k), "key prefix %q does not match type %q", pre, p.AuthInfo[k].Type)
		}
	}
	for _, k := range sortedKeys(p.ExtensionDefinitions) {
		if idPrefix(k) != "extension-definition" {
			l.errorf("key-type", joinPath("$.extension_definitions", k), "key is not an extension-definition--<uuid>")
		}
	}
}

// scope returns the variables visible in a step (playbook, then step,
// then in_args), with their declared types.
func (l *linter) scope(s *Step) map[string]string {
	m := map[string]string{FailureVariable: "dictionary"}
	for k, v := range l.p.Variables {
		m[k] = v.Type
	}
	for k, v := range s.Variables {
		m[k] = v.Type
	}
	for _, a := range s.InArgs {
		if _, ok := m[a]; !ok {
			m[a] = ""
		}
	}
	return m
}

func (l *linter) ref(path, what, id string) bool {
	if id == "" {
		return false
	}
	if _, ok := l.p.Steps[id]; !ok {
		l.errorf("missing-step", path, "%s references missing step %q", what, id)
		return false
	}
	return true
}

func (l *linter) steps() {
	p := l.p
	starts, ends := 0, 0
	for _, id := range sortedKeys(p.Steps) {
		s := p.Steps[id]
		path := stepPath(id)
		switch s.Type {
		case StepStart:
			starts++
		case StepEnd:
			ends++
		}
		if !s.Type.Known() {
			l.errorf("step-type", joinPath(path, "type"), "unknown step type %q cannot run", s.Type)
		} else if pre := idPrefix(id); pre != string(s.Type) {
			l.errorf("key-type", path, "key prefix %q does not match type %q", pre, s.Type)
		}
		l.stepPointers(s, path)
		l.stepBody(s, path)
		l.stepVariables(s, path)
	}
	if p.WorkflowStart == "" {
		l.errorf("required", "$.workflow_start", "no workflow_start")
	} else if s, ok := p.Steps[p.WorkflowStart]; !ok {
		l.errorf("missing-step", "$.workflow_start", "references missing step %q", p.WorkflowStart)
	} else if s.Type != StepStart {
		l.errorf("start", "$.workflow_start", "must be a start step, but %s is of type %s", p.WorkflowStart, s.Type)
	}
	switch {
	case starts == 0:
		l.errorf("start", "$.workflow", "no start step")
	case starts > 1:
		l.errorf("start", "$.workflow", "%d start steps: the start step must be unique", starts)
	}
	if ends == 0 {
		l.errorf("end", "$.workflow", "no end step: every path must reach an end step")
	}
	if p.WorkflowException != "" {
		l.ref("$.workflow_exception", "workflow_exception", p.WorkflowException)
	}
}

func (l *linter) stepPointers(s *Step, path string) {
	hasOutcome := s.OnSuccess != "" || s.OnFailure != ""
	if s.OnCompletion != "" && hasOutcome {
		l.errorf("pointers", path, "on_completion must not be combined with on_success or on_failure")
	}
	switch s.Type {
	case StepEnd:
		for k, v := range map[string]string{"on_completion": s.OnCompletion, "on_success": s.OnSuccess, "on_failure": s.OnFailure} {
			if v != "" {
				l.errorf("pointers", joinPath(path, k), "an end step has no next step")
			}
		}
	case StepStart:
		if hasOutcome {
			l.errorf("pointers", path, "a start step has only on_completion")
		}
		if s.OnCompletion == "" {
			l.errorf("pointers", path, "the start step has no on_completion")
		}
	default:
		if s.Type.Known() && s.OnCompletion == "" && s.OnSuccess == "" {
			l.errorf("dead-end", path, "%s is not an end step but has no next step (on_completion or on_success)", s.Type)
		}
	}
	l.ref(joinPath(path, "on_completion"), "on_completion", s.OnCompletion)
	l.ref(joinPath(path, "on_success"), "on_success", s.OnSuccess)
	l.ref(joinPath(path, "on_failure"), "on_failure", s.OnFailure)
	if s.ContinueOnError && s.OnCompletion == "" {
		l.warnf("policy", path, "continue_on_error only matters with on_completion")
	}
	if s.MaxIterations != 0 && s.Type != StepWhileCondition {
		l.warnf("policy", path, "max_iterations only applies to while-condition steps")
	}
	if s.WaitAll && s.Type != StepParallel {
		l.warnf("policy", path, "wait_all only applies to parallel steps")
	}
	if s.RevertAfter != 0 && s.Type != StepAction {
		l.warnf("policy", path, "revert_after only applies to action steps")
	}
	if s.Retry != nil && s.Retry.MaxAttempts < 1 {
		l.errorf("retry", joinPath(path, "step_extensions"), "retry needs max_attempts ≥ 1")
	}
	if s.Retry != nil && s.Retry.Max != 0 && s.Retry.Max < s.Retry.Initial {
		l.errorf("retry", joinPath(path, "step_extensions"), "retry max interval is shorter than the initial one")
	}
}

func (l *linter) stepBody(s *Step, path string) {
	p := l.p
	scope := l.scope(s)
	switch s.Type {
	case StepAction:
		if len(s.Commands) == 0 {
			l.errorf("required", joinPath(path, "commands"), "an action needs at least one command")
		}
		if s.Agent == "" {
			l.errorf("required", joinPath(path, "agent"), "an action needs an agent")
		} else if _, ok := p.Agents[s.Agent]; !ok {
			if _, isTarget := p.Targets[s.Agent]; isTarget {
				l.errorf("missing-ref", joinPath(path, "agent"), "agent %s is defined in target_definitions, not agent_definitions", s.Agent)
			} else {
				l.errorf("missing-ref", joinPath(path, "agent"), "unknown agent %s (not in agent_definitions)", s.Agent)
			}
		}
		for i, t := range s.Targets {
			if _, ok := p.Targets[t]; !ok {
				if _, isAgent := p.Agents[t]; isAgent {
					l.errorf("missing-ref", indexPath(joinPath(path, "targets"), i), "target %s is defined in agent_definitions, not target_definitions", t)
				} else {
					l.errorf("missing-ref", indexPath(joinPath(path, "targets"), i), "unknown target %s (not in target_definitions)", t)
				}
			}
		}
		manual := false
		agentType, pin := "", ""
		if a, ok := p.Agents[s.Agent]; ok {
			agentType, pin = a.Type, a.Connector
		}
		for i, c := range s.Commands {
			l.command(c, indexPath(joinPath(path, "commands"), i), scope, agentType, pin)
			manual = manual || c.Type == CmdManual
		}
		if s.Approval != nil && !manual {
			l.errorf("approval", path, "an approval needs a manual command (the question)")
		}
	case StepPlaybookAction:
		if s.PlaybookID == "" {
			l.errorf("required", joinPath(path, "playbook_id"), "a playbook-action needs playbook_id")
		} else if s.PlaybookID == p.ID {
			l.errorf("recursion", joinPath(path, "playbook_id"), "a playbook cannot run itself")
		}
	case StepParallel:
		if len(s.NextSteps) < 2 {
			l.errorf("parallel", joinPath(path, "next_steps"), "a parallel step needs at least 2 branches")
		}
		seen := map[string]bool{}
		for i, n := range s.NextSteps {
			if seen[n] {
				l.errorf("parallel", indexPath(joinPath(path, "next_steps"), i), "branch %s is listed twice", n)
			}
			seen[n] = true
			l.ref(indexPath(joinPath(path, "next_steps"), i), "next_steps", n)
		}
	case StepIfCondition, StepWhileCondition:
		if s.OnTrue == "" {
			l.errorf("required", joinPath(path, "on_true"), "%s needs on_true", s.Type)
		}
		l.ref(joinPath(path, "on_true"), "on_true", s.OnTrue)
		l.ref(joinPath(path, "on_false"), "on_false", s.OnFalse)
		if s.Condition == "" {
			l.errorf("required", joinPath(path, "condition"), "%s needs a condition", s.Type)
		} else if _, err := expr.CompileTyped(s.Condition, scope); err != nil {
			l.errorf("condition", joinPath(path, "condition"), "condition %q: %v", s.Condition, err)
		}
	case StepSwitchCondition:
		if s.Switch == "" {
			l.errorf("required", joinPath(path, "switch"), "a switch-condition needs switch (the variable)")
		} else {
			name := strings.TrimSuffix(s.Switch, valueSuffix)
			if _, ok := scope[name]; !ok {
				l.errorf("undefined-variable", joinPath(path, "switch"), "switch names %s, which is not declared", s.Switch)
			}
		}
		if len(s.Cases) == 0 {
			l.errorf("required", joinPath(path, "cases"), "a switch-condition needs cases")
		}
		for _, k := range sortedCaseKeys(s.Cases) {
			l.ref(joinPath(joinPath(path, "cases"), k), "case "+k, s.Cases[k])
		}
	}
}

func (l *linter) command(c *Command, path string, scope map[string]string, agentType, pin string) {
	switch c.Type {
	case CmdRiposteConnector:
		if c.Connector == "" || c.Operation == "" {
			l.errorf("connector", path, "riposte-connector needs connector and operation")
			return
		}
		if l.known == nil {
			return
		}
		spec, ok := l.known.Operation(c.Connector, c.Operation)
		if !ok {
			l.errorf("connector", joinPath(path, "operation"), "unknown connector operation %s.%s", c.Connector, c.Operation)
			return
		}
		for _, k := range sortedKeys(c.Args) {
			as, ok := spec[k]
			if !ok {
				known := sortedKeys(spec)
				l.errorf("connector-arg", joinPath(joinPath(path, "args"), k), "%s.%s has no argument %q (it takes %s)", c.Connector, c.Operation, k, strings.Join(known, ", "))
				continue
			}
			if err := checkArg(as.Type, c.Args[k]); err != nil {
				l.errorf("connector-arg", joinPath(joinPath(path, "args"), k), "%v", err)
			}
		}
		for _, k := range sortedKeys(spec) {
			if _, ok := c.Args[k]; !ok && spec[k].Required {
				l.errorf("connector-arg", joinPath(path, "args"), "%s.%s needs argument %q", c.Connector, c.Operation, k)
			}
		}
	case CmdManual:
	default:
		if pin != "" && l.known != nil {
			// The engine sends the command to the pinned connector, as
			// an operation named after the command type.
			if _, ok := l.known.Operation(pin, c.Type); !ok {
				l.errorf("command-type", joinPath(path, "type"), "the agent's connector %q has no operation for %s commands", pin, c.Type)
			}
			return
		}
		if ct, ok := l.known.(CommandTypeChecker); ok {
			switch {
			case !ct.CommandType(c.Type, ""):
				why := ""
				if ex, ok := l.known.(CommandTypeExplainer); ok {
					why = ex.CommandTypeProblem(c.Type)
				}
				if why == "" {
					l.errorf("command-type", joinPath(path, "type"), "no connector for command type %q", c.Type)
				} else {
					l.errorf("command-type", joinPath(path, "type"), "no connector for command type %q: %s", c.Type, why)
				}
			case agentType != "" && !ct.CommandType(c.Type, agentType):
				l.errorf("command-type", joinPath(path, "type"), "no connector runs %s commands for agent type %q", c.Type, agentType)
			}
		}
	}
}

// checkArg checks a literal argument value against its declared type.
func checkArg(typ string, v any) error {
	if s, ok := v.(string); ok {
		if refs, _ := FindRefs(s, nil); len(refs) > 0 {
			return nil // checked after substitution
		}
	}
	bad := func(what string) error { return fmt.Errorf("%s is not %s", shortValue(v), what) }
	switch typ {
	case "", "any":
	case "string":
		if _, ok := v.(string); !ok {
			return bad("a string")
		}
	case "int":
		if _, ok := v.(int64); !ok {
			return bad("an integer")
		}
	case "number":
		switch v.(type) {
		case int64, float64:
		default:
			return bad("a number")
		}
	case "bool":
		if _, ok := v.(bool); !ok {
			return bad("a boolean")
		}
	case "duration":
		switch t := v.(type) {
		case int64:
		case string:
			if _, err := parseDuration(&node{kind: kString, s: t}); err != nil {
				return bad("a duration")
			}
		default:
			return bad("a duration")
		}
	case "ip":
		s, ok := v.(string)
		if !ok {
			return bad("an IP address")
		}
		if _, err := netip.ParseAddr(s); err != nil {
			if _, err := netip.ParsePrefix(s); err != nil {
				return bad("an IP address or CIDR")
			}
		}
	case "list":
		if _, ok := v.([]any); !ok {
			return bad("a list")
		}
	case "map":
		if _, ok := v.(map[string]any); !ok {
			return bad("a mapping")
		}
	}
	return nil
}

// stepVariables checks variable declarations and every use in the step.
func (l *linter) stepVariables(s *Step, path string) {
	p := l.p
	scope := l.scope(s)
	declared := map[string]bool{}
	for k := range scope {
		declared[k] = true
	}
	for _, k := range sortedKeys(s.Variables) {
		if _, ok := p.Variables[k]; ok {
			l.warnf("overloading", joinPath(joinPath(path, "step_variables"), k), "%s is also a playbook variable; only the step's copy is updated", k)
		}
		if s.Variables[k].External {
			l.warnf("external", joinPath(joinPath(path, "step_variables"), k), "external only applies to playbook variables")
		}
	}
	for i, a := range s.InArgs {
		_, inPB := p.Variables[a]
		_, inStep := s.Variables[a]
		if !inPB && !inStep {
			l.warnf("undefined-variable", indexPath(joinPath(path, "in_args"), i), "in_args %s is not declared; it is expected from the caller", a)
		}
	}
	for i, a := range s.OutArgs {
		v, ok := s.Variables[a]
		if !ok {
			v, ok = p.Variables[a]
		}
		if !ok {
			l.errorf("undefined-variable", indexPath(joinPath(path, "out_args"), i), "out_args %s is not declared", a)
		} else if v.Constant {
			l.errorf("constant", indexPath(joinPath(path, "out_args"), i), "out_args %s is a constant and cannot be assigned", a)
		}
	}
	// References inside the commands.
	for i, c := range s.Commands {
		cp := indexPath(joinPath(path, "commands"), i)
		check := func(fp, text string) {
			_, undeclared := FindRefs(text, declared)
			for _, u := range undeclared {
				l.errorf("undefined-variable", fp, "undefined variable %s (declare it in playbook_variables or step_variables)", u.Name)
			}
			var known, unknown []string
			for _, m := range reBareVar.FindAllStringIndex(text, -1) {
				name := text[m[0]:m[1]]
				if strings.HasPrefix(text[m[1]:], valueSuffix) {
					continue
				}
				if declared[name] {
					known = append(known, name)
				} else {
					unknown = append(unknown, name)
				}
			}
			if len(known) > 0 {
				l.warnf("variable-syntax", fp, "%s without :value is not substituted; write __name__:value", strings.Join(known, ", "))
			}
			if len(unknown) > 0 {
				l.warnf("variable-syntax", fp, "%s look like variable references, but lack :value and are not declared", strings.Join(unknown, ", "))
			}
		}
		check(joinPath(cp, "command"), c.Command)
		check(joinPath(cp, "content"), c.Content)
		if b, err := decodeB64(c.CommandB64); err == nil && c.CommandB64 != "" {
			check(joinPath(cp, "command_b64"), string(b))
		}
		if b, err := decodeB64(c.ContentB64); err == nil && c.ContentB64 != "" {
			check(joinPath(cp, "content_b64"), string(b))
		}
		for _, k := range sortedKeys(c.Headers) {
			for _, h := range c.Headers[k] {
				check(joinPath(joinPath(cp, "headers"), k), h)
			}
		}
		walkStrings(c.Args, joinPath(cp, "args"), check)
	}
}

// walkStrings calls f with every string inside a JSON-like value.
func walkStrings(v any, base string, f func(path, s string)) {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch t := v.(type) {
		case string:
			f(path, t)
		case map[string]any:
			for _, k := range sortedKeys(t) {
				walk(t[k], joinPath(path, k))
			}
		case []any:
			for i, e := range t {
				walk(e, indexPath(path, i))
			}
		}
	}
	walk(v, base)
}

// usage reports definitions that nothing uses, and variables referenced by
// agents and targets that are not declared.
func (l *linter) usage() {
	p := l.p
	usedAgents, usedTargets, usedAuth, usedAct := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	usesExt := map[string]bool{}
	for _, s := range p.Steps {
		usedAgents[s.Agent] = true
		for _, t := range s.Targets {
			usedTargets[t] = true
		}
		for _, c := range s.Commands {
			usedAct[c.PlaybookActivity] = true
		}
		for k := range s.Extensions {
			usesExt[k] = true
		}
	}
	for k := range p.Extensions {
		usesExt[k] = true
	}
	for _, m := range []map[string]*AgentTarget{p.Agents, p.Targets} {
		for _, a := range m {
			usedAuth[a.AuthInfo] = true
			for k := range a.Extensions {
				usesExt[k] = true
			}
		}
	}
	for _, k := range sortedKeys(p.Agents) {
		if !usedAgents[k] {
			l.warnf("unused", joinPath("$.agent_definitions", k), "agent %s is not used by any step", k)
		}
	}
	for _, k := range sortedKeys(p.Targets) {
		if !usedTargets[k] {
			l.warnf("unused", joinPath("$.target_definitions", k), "target %s is not used by any step", k)
		}
	}
	for _, k := range sortedKeys(p.AuthInfo) {
		if !usedAuth[k] {
			l.warnf("unused", joinPath("$.authentication_info_definitions", k), "authentication info %s is not used", k)
		}
	}
	for _, k := range sortedKeys(p.ExtensionDefinitions) {
		if !usesExt[k] {
			l.warnf("unused", joinPath("$.extension_definitions", k), "extension %s is defined but not used", k)
		}
	}
	for _, k := range sortedKeys(usesExt) {
		if _, ok := p.ExtensionDefinitions[k]; !ok {
			l.errorf("missing-ref", "$.extension_definitions", "extension %s is used but not defined in extension_definitions", k)
		}
	}
	for i, a := range p.PlaybookActivities {
		if !usedAct[a] {
			l.warnf("activity", indexPath("$.playbook_activities", i), "activity %q is not the playbook_activity of any command", a)
		}
	}
	// Variables in agent, target and auth properties (playbook scope).
	declared := map[string]bool{FailureVariable: true}
	for k := range p.Variables {
		declared[k] = true
	}
	for _, d := range []struct {
		base string
		m    map[string]*AgentTarget
	}{{"$.agent_definitions", p.Agents}, {"$.target_definitions", p.Targets}} {
		for _, k := range sortedKeys(d.m) {
			a := d.m[k]
			texts := []string{a.Name, a.Port}
			for _, vs := range a.Address {
				for _, v := range vs {
					if s, ok := v.(string); ok {
						texts = append(texts, s)
					}
				}
			}
			for _, t := range texts {
				_, undeclared := FindRefs(t, declared)
				for _, u := range undeclared {
					l.errorf("undefined-variable", joinPath(d.base, k), "undefined variable %s", u.Name)
				}
			}
		}
	}
	l.processingSummary()
}

// processingSummary compares playbook_processing_summary with the features
// the playbook uses.
func (l *linter) processingSummary() {
	p := l.p
	if p.ProcessingSummary == nil {
		return
	}
	used := map[string]bool{
		"data_markings":      len(p.Markings) > 0,
		"digital_signatures": len(p.Signatures) > 0,
		"extensions":         len(p.Extensions) > 0 || len(p.ExtensionDefinitions) > 0,
	}
	for _, s := range p.Steps {
		switch s.Type {
		case StepParallel:
			used["parallel_processing"] = true
		case StepIfCondition:
			used["if_logic"] = true
		case StepWhileCondition:
			used["while_logic"] = true
		case StepSwitchCondition:
			used["switch_logic"] = true
		case StepPlaybookAction:
			used["external_playbooks"] = true
		}
		if s.Delay != 0 || s.Timeout != 0 {
			used["temporal_logic"] = true
		}
		for _, c := range s.Commands {
			if c.Type == CmdManual {
				used["manual_playbook"] = true
			}
		}
		if len(s.Extensions) > 0 {
			used["extensions"] = true
		}
	}
	for _, k := range []string{"manual_playbook", "external_playbooks", "parallel_processing", "if_logic", "while_logic", "switch_logic", "temporal_logic", "data_markings", "digital_signatures", "extensions"} {
		declared, present := p.ProcessingSummary[k]
		if used[k] && !declared {
			l.warnf("processing-summary", "$.playbook_processing_summary", "the playbook uses %s but the summary does not say so", k)
		} else if present && declared && !used[k] {
			l.warnf("processing-summary", joinPath("$.playbook_processing_summary", k), "the summary declares %s, which the playbook does not use", k)
		}
	}
}

// ---- graph ----------------------------------------------------------------

func (l *linter) graph() {
	p := l.p
	// Reachability from the start and the exception handler.
	reach := map[string]bool{}
	var stack []string
	for _, r := range []string{p.WorkflowStart, p.WorkflowException} {
		if _, ok := p.Steps[r]; ok {
			stack = append(stack, r)
		}
	}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if reach[id] {
			continue
		}
		reach[id] = true
		for _, n := range p.Steps[id].successors() {
			if _, ok := p.Steps[n]; ok && !reach[n] {
				stack = append(stack, n)
			}
		}
	}
	if _, ok := p.Steps[p.WorkflowStart]; ok {
		for _, id := range sortedKeys(p.Steps) {
			if !reach[id] {
				l.errorf("unreachable", stepPath(id), "step is unreachable from workflow_start")
			}
		}
	}
	l.cycles()
	l.blocks()
}

// cycles reports strongly connected components, except loops that go
// through a while-condition step's body (loop back).
func (l *linter) cycles() {
	p := l.p
	ids := sortedKeys(p.Steps)
	index := map[string]int{}
	low := map[string]int{}
	onStack := map[string]bool{}
	var stack []string
	next := 0
	var comps [][]string
	var strong func(v string)
	strong = func(v string) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range p.Steps[v].successors() {
			if _, ok := p.Steps[w]; !ok {
				continue
			}
			if _, seen := index[w]; !seen {
				strong(w)
				low[v] = min(low[v], low[w])
			} else if onStack[w] {
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] == index[v] {
			var comp []string
			for {
				w := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				onStack[w] = false
				comp = append(comp, w)
				if w == v {
					break
				}
			}
			comps = append(comps, comp)
		}
	}
	for _, id := range ids {
		if _, seen := index[id]; !seen {
			strong(id)
		}
	}
	for _, comp := range comps {
		in := map[string]bool{}
		for _, c := range comp {
			in[c] = true
		}
		if len(comp) == 1 {
			self := false
			for _, n := range p.Steps[comp[0]].successors() {
				self = self || n == comp[0]
			}
			if !self {
				continue
			}
		}
		loopBack := false
		for _, c := range comp {
			s := p.Steps[c]
			if s.Type == StepWhileCondition && in[s.OnTrue] {
				loopBack = true
			}
		}
		if loopBack {
			continue
		}
		sort.Strings(comp)
		exit := false
		for _, c := range comp {
			for _, n := range p.Steps[c].successors() {
				if !in[n] {
					exit = true
				}
			}
		}
		cycle := l.cyclePath(comp[0], in)
		if exit {
			l.errorf("cycle", stepPath(comp[0]), "cycle %s: only a while-condition may loop", strings.Join(cycle, " → "))
		} else {
			l.errorf("cycle", stepPath(comp[0]), "cycle without exit %s: the run can never reach an end step", strings.Join(cycle, " → "))
		}
	}
}

// cyclePath finds one cycle through start within the component.
func (l *linter) cyclePath(start string, in map[string]bool) []string {
	prev := map[string]string{}
	queue := []string{start}
	seen := map[string]bool{start: true}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, w := range l.p.Steps[v].successors() {
			if !in[w] {
				continue
			}
			if w == start {
				var chain []string
				for x := v; x != start; x = prev[x] {
					chain = append([]string{l.label(x)}, chain...)
				}
				return append(append([]string{l.label(start)}, chain...), l.label(start))
			}
			if !seen[w] {
				seen[w] = true
				prev[w] = v
				queue = append(queue, w)
			}
		}
	}
	return []string{l.label(start), l.label(start)}
}

// label names a step in messages: its name when it has one, else its id.
func (l *linter) label(id string) string {
	if s, ok := l.p.Steps[id]; ok && s.Name != "" {
		return strconv.Quote(s.Name)
	}
	return id
}

// region returns the steps reachable from entry without passing through
// stop (the block step itself).
func (l *linter) region(entry, stop string) map[string]bool {
	r := map[string]bool{}
	stack := []string{entry}
	for len(stack) > 0 {
		id := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r[id] || id == stop {
			continue
		}
		s, ok := l.p.Steps[id]
		if !ok {
			continue
		}
		r[id] = true
		stack = append(stack, s.successors()...)
	}
	return r
}

// blocks checks that each branch of a parallel, if, while or switch step
// reaches an end step of its own and does not run into the step after the
// block, back into the block, or into a sibling branch.
func (l *linter) blocks() {
	p := l.p
	for _, id := range sortedKeys(p.Steps) {
		s := p.Steps[id]
		type branch struct {
			path  string
			entry string
		}
		var branches []branch
		switch s.Type {
		case StepParallel:
			for i, n := range s.NextSteps {
				branches = append(branches, branch{indexPath(joinPath(stepPath(id), "next_steps"), i), n})
			}
		case StepIfCondition:
			branches = append(branches, branch{joinPath(stepPath(id), "on_true"), s.OnTrue})
			if s.OnFalse != "" {
				branches = append(branches, branch{joinPath(stepPath(id), "on_false"), s.OnFalse})
			}
		case StepWhileCondition:
			branches = append(branches, branch{joinPath(stepPath(id), "on_true"), s.OnTrue})
		case StepSwitchCondition:
			seen := map[string]bool{}
			for _, k := range sortedCaseKeys(s.Cases) {
				if !seen[s.Cases[k]] {
					seen[s.Cases[k]] = true
					branches = append(branches, branch{joinPath(joinPath(stepPath(id), "cases"), k), s.Cases[k]})
				}
			}
		default:
			continue
		}
		after := map[string]bool{}
		for _, n := range []string{s.OnCompletion, s.OnSuccess, s.OnFailure} {
			if n != "" {
				after[n] = true
			}
		}
		regions := make([]map[string]bool, len(branches))
		for i, b := range branches {
			if _, ok := p.Steps[b.entry]; !ok || b.entry == "" {
				continue
			}
			r := l.region(b.entry, id)
			regions[i] = r
			hasEnd := false
			for x := range r {
				if p.Steps[x].Type == StepEnd {
					hasEnd = true
				}
			}
			if !hasEnd && s.Type != StepWhileCondition {
				if s.Type == StepParallel {
					l.warnf("branch-join", b.path, "branch %s never joins: it reaches no end step, so the parallel step cannot complete", l.label(b.entry))
				} else {
					l.errorf("branch-end", b.path, "branch %s never reaches an end step", l.label(b.entry))
				}
			}
			for _, x := range sortedKeys(r) {
				if after[x] {
					l.errorf("branch-escape", b.path, "branch %s runs into %s, the step after the block: end the branch with its own end step (control returns to the block)", l.label(b.entry), l.label(x))
					break
				}
			}
			if s.Type != StepWhileCondition {
				if l.regionReaches(b.entry, id) {
					l.errorf("branch-escape", b.path, "branch %s leads back into its own block step %s", l.label(b.entry), l.label(id))
				}
			}
		}
		if s.Type == StepParallel {
			writer := map[string]string{}
			for i, r := range regions {
				for _, x := range sortedKeys(r) {
					for _, v := range p.Steps[x].OutArgs {
						if _, stepLocal := p.Steps[x].Variables[v]; stepLocal {
							continue
						}
						if w, ok := writer[v]; ok && w != branches[i].entry {
							l.warnf("parallel-write", branches[i].path, "branches %s and %s both assign %s; the last to finish wins", l.label(w), l.label(branches[i].entry), v)
						}
						writer[v] = branches[i].entry
					}
				}
			}
		}
		for i := range regions {
			for j := i + 1; j < len(regions); j++ {
				if regions[i] == nil || regions[j] == nil {
					continue
				}
				for _, x := range sortedKeys(regions[i]) {
					if regions[j][x] {
						l.errorf("branch-shared", branches[j].path, "branches %s and %s share step %s: each branch must end at its own end step", l.label(branches[i].entry), l.label(branches[j].entry), l.label(x))
						break
					}
				}
			}
		}
	}
}

// regionReaches reports whether a branch starting at entry can reach the
// block step stop.
func (l *linter) regionReaches(entry, stop string) bool {
	if entry == stop {
		return true
	}
	r := l.region(entry, stop)
	for x := range r {
		for _, n := range l.p.Steps[x].successors() {
			if n == stop {
				return true
			}
		}
	}
	return false
}
