package engine

// Everything the engine needs from package playbook goes through this file,
// so changes to the playbook model touch one place.

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/playbook/expr"
)

// encodePlan serialises a playbook version for pinning in the store.
func encodePlan(pb *playbook.Playbook) ([]byte, error) {
	c := *pb
	c.Source = nil
	return json.Marshal(&c)
}

func decodePlan(b []byte) (*playbook.Playbook, error) {
	var pb playbook.Playbook
	if err := json.Unmarshal(b, &pb); err != nil {
		return nil, err
	}
	return &pb, nil
}

// initialVars gives the run's playbook-scope variables: declared values,
// external ones overridden by input. An external variable with neither
// value nor input refuses the run.
func initialVars(pb *playbook.Playbook, input map[string]any) (map[string]any, error) {
	vars := map[string]any{}
	for name, v := range pb.Variables {
		vars[name] = v.Value
	}
	for k, v := range input {
		name := k
		if !strings.HasPrefix(name, "__") {
			name = "__" + name + "__"
		}
		if d, ok := pb.Variables[name]; ok && !d.External {
			return nil, fmt.Errorf("variable %s is not external", name)
		}
		vars[name] = v
	}
	for name, v := range pb.Variables {
		if v.External && vars[name] == nil {
			return nil, fmt.Errorf("external variable %s has no value", name)
		}
	}
	return vars, nil
}

func stepVars(st *playbook.Step) map[string]any {
	if len(st.Variables) == 0 {
		return nil
	}
	m := map[string]any{}
	for k, v := range st.Variables {
		m[k] = v.Value
	}
	return m
}

// scope is the resolved variable scope of an instance: innermost step
// scope, then playbook scope.
func scope(s *Snapshot, in *Inst) playbook.Scope {
	sc := playbook.Scope{}
	for k, v := range s.Vars {
		sc[k] = v
	}
	if in != nil {
		for k, v := range in.Vars {
			sc[k] = v
		}
	}
	return sc
}

func varTypes(pb *playbook.Playbook, st *playbook.Step) map[string]string {
	t := map[string]string{}
	for k, v := range pb.Variables {
		t[k] = v.Type
	}
	if st != nil {
		for k, v := range st.Variables {
			t[k] = v.Type
		}
	}
	return t
}

func evalCondition(pb *playbook.Playbook, st *playbook.Step, sc playbook.Scope) (bool, error) {
	p, err := expr.CompileTyped(st.Condition, varTypes(pb, st))
	if err != nil {
		return false, fmt.Errorf("condition: %v", err)
	}
	env := make(map[string]any, len(sc))
	for k, v := range sc {
		env[k] = v
	}
	return p.EvalBool(env)
}

func switchValue(st *playbook.Step, sc playbook.Scope) (string, error) {
	name := strings.TrimSuffix(st.Switch, ":value")
	if name == "" {
		return "", fmt.Errorf("switch step has no switch variable")
	}
	v, ok := sc[name]
	if !ok {
		return "", fmt.Errorf("switch: undefined variable %s", name)
	}
	if v == nil {
		return "", nil
	}
	if f, ok := v.(float64); ok && f == math.Trunc(f) {
		return fmt.Sprintf("%d", int64(f)), nil
	}
	return playbook.ValueText(v)
}

// isManual reports whether an action step waits on a person: an approval
// gate, or a manual command.
func isManual(st *playbook.Step) bool {
	if st.Approval != nil {
		return true
	}
	for _, c := range st.Commands {
		if c.Type == playbook.CmdManual {
			return true
		}
	}
	return false
}

// manualQuestion is the text shown to the person (substituted raw: text
// read by people).
func manualQuestion(st *playbook.Step, sc playbook.Scope) string {
	for _, c := range st.Commands {
		if c.Type == playbook.CmdManual {
			q := c.Command
			if q == "" {
				q = c.Description
			}
			if out, err := playbook.Substitute(q, sc, playbook.Raw); err == nil {
				return out
			}
			return q
		}
	}
	if st.Description != "" {
		return st.Description
	}
	return "Approve step " + stepName(st) + "?"
}

func approvalAssignees(pb *playbook.Playbook, st *playbook.Step) (users, roles []string, quorum int) {
	if a := st.Approval; a != nil {
		return a.Assignees, a.Roles, max(a.Quorum, 1)
	}
	if ag := pb.Agents[st.Agent]; ag != nil && (ag.Type == "individual" || ag.Type == "group") && ag.Name != "" {
		return []string{ag.Name}, nil, 1
	}
	return nil, nil, 1
}

func stepName(st *playbook.Step) string {
	if st.Name != "" {
		return st.Name
	}
	return st.ID
}

// buildCall turns command i of an action step into a connector call with
// variables substituted: riposte-connector Args as data; other command
// types go to the connector named by the agent's pin (or the command type)
// with the substituted command text as argument "command".
func buildCall(pb *playbook.Playbook, st *playbook.Step, i int, sc playbook.Scope) (*CallSpec, error) {
	cs, err := buildCall0(pb, st, i, sc)
	if cs != nil {
		cs.Incident = IncidentOf(sc["__incident__"])
	}
	return cs, err
}

// IncidentOf reads the incident id from a run's __incident__ variable: the
// incident document a trigger passes, or a bare id.
func IncidentOf(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		if id, ok := x["id"].(string); ok {
			return id
		}
		if val, ok := x["value"]; ok {
			return IncidentOf(val)
		}
	}
	return ""
}

func buildCall0(pb *playbook.Playbook, st *playbook.Step, i int, sc playbook.Scope) (*CallSpec, error) {
	c := st.Commands[i]
	if c.Type == playbook.CmdRiposteConnector || c.Connector != "" {
		args, err := playbook.SubstituteArgs(c.Args, sc)
		if err != nil {
			return nil, err
		}
		if args == nil {
			args = map[string]any{}
		}
		b, _ := json.Marshal(args)
		return &CallSpec{Connector: c.Connector, Operation: c.Operation, Args: args,
			Text: c.Connector + "." + c.Operation + " " + string(b)}, nil
	}
	conn := c.Type
	if ag := pb.Agents[st.Agent]; ag != nil && ag.Connector != "" {
		conn = ag.Connector
	} else if b, ok := playbook.BindCommandType(c.Type); ok {
		return bindCall(pb, st, c, b, sc)
	}
	text := c.Command
	var err error
	switch {
	case c.CommandB64 != "":
		text, err = playbook.SubstituteB64(c.CommandB64, sc, escaperFor(c.Type))
	default:
		text, err = playbook.Substitute(text, sc, escaperFor(c.Type))
	}
	if err != nil {
		return nil, err
	}
	args := map[string]any{"command": text}
	if c.Content != "" {
		body, err := playbook.Substitute(c.Content, sc, playbook.JSONStringEscape)
		if err != nil {
			return nil, err
		}
		args["content"] = body
	}
	return &CallSpec{Connector: conn, Operation: c.Type, Args: args, Text: conn + " " + text}, nil
}

// bindCall makes a CACAO command of a type Riposte binds (http-api,
// openc2-http, ssh) into a call of the connector that runs it; the
// connector's own checks (address policy, allowlist) still apply.
func bindCall(pb *playbook.Playbook, st *playbook.Step, c *playbook.Command, b playbook.Binding, sc playbook.Scope) (*CallSpec, error) {
	var args map[string]any
	switch {
	case b.Reason != "":
		return nil, errors.New(b.Reason)
	case b.Connector == playbook.BindSSHConnector:
		sshc, err := playbook.SSHArgs(pb, st, c, sc)
		if err != nil {
			return nil, err
		}
		argv := make([]any, len(sshc.Argv))
		for i, a := range sshc.Argv {
			argv[i] = a
		}
		args = map[string]any{"host": sshc.Host, "argv": argv}
		if sshc.Port != "" {
			args["port"] = sshc.Port
		}
	default:
		var err error
		if args, err = playbook.HTTPRequestArgs(pb, st, c, sc); err != nil {
			return nil, err
		}
	}
	j, _ := json.Marshal(args)
	return &CallSpec{Connector: b.Connector, Operation: b.Operation, Args: args,
		Text: b.Connector + "." + b.Operation + " " + string(j)}, nil
}

func escaperFor(typ string) playbook.Escaper {
	switch typ {
	case playbook.CmdBash, playbook.CmdSSH:
		return playbook.ShellQuote
	case playbook.CmdPowerShell:
		return playbook.PowerShellQuote
	}
	return playbook.Raw
}

// assignOutputs maps connector outputs to out_args (`__x__` or `x` output
// names), checking constants and types.
func assignOutputs(pb *playbook.Playbook, st *playbook.Step, outputs map[string]any) (run, inst map[string]any, err error) {
	for _, name := range st.OutArgs {
		v, ok := outputs[name]
		if !ok {
			v, ok = outputs[strings.TrimSuffix(strings.TrimPrefix(name, "__"), "__")]
		}
		if !ok {
			continue
		}
		decl := st.Variables[name]
		target := &inst
		if decl == nil {
			decl = pb.Variables[name]
			target = &run
		}
		if decl != nil {
			if decl.Constant {
				return nil, nil, fmt.Errorf("out_arg %s is a constant", name)
			}
			if err := playbook.ValidateValue(decl.Type, v); err != nil {
				return nil, nil, fmt.Errorf("out_arg %s: %v", name, err)
			}
		}
		if *target == nil {
			*target = map[string]any{}
		}
		(*target)[name] = v
	}
	return run, inst, nil
}

func retryDelay(p *playbook.RetryPolicy, attempt int) time.Duration {
	mult := p.Multiplier
	if mult == 0 {
		mult = 2
	}
	d := float64(p.Initial) * math.Pow(mult, float64(attempt-1))
	if p.Max > 0 && d > float64(p.Max) {
		d = float64(p.Max)
	}
	return time.Duration(d)
}

func retryable(p *playbook.RetryPolicy, class string) bool {
	for _, c := range p.NonRetryable {
		if c == class {
			return false
		}
	}
	if len(p.RetryOn) == 0 {
		return class == "transient"
	}
	for _, c := range p.RetryOn {
		if c == class || (c == "transport" && class == "transient") {
			return true
		}
	}
	return false
}

// childInput maps a playbook-action's in_args to the child's variables.
func childInput(st *playbook.Step, sc playbook.Scope) map[string]any {
	in := map[string]any{}
	for _, n := range st.InArgs {
		in[n] = sc[n]
	}
	return in
}
