package respond

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
)

// Format is how a playbook is written.
type Format string

const (
	FormatYAML  Format = "yaml"
	FormatCACAO Format = "cacao"
)

// Detect tells the format from the content: CACAO documents are JSON.
func Detect(data []byte) Format {
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' {
		return FormatCACAO
	}
	return FormatYAML
}

// Parse reads a playbook in either format. Strict CACAO needs schemas.
func Parse(data []byte, strict bool, schemas *playbook.SchemaValidator) (*playbook.Playbook, Format, []playbook.Error) {
	f := Detect(data)
	if f == FormatYAML {
		p, errs := playbook.ParseYAML(data)
		return p, f, errs
	}
	mode := playbook.Lenient(schemas)
	if strict {
		mode = playbook.Strict(schemas)
	}
	p, errs := playbook.ParseCACAO(data, mode)
	return p, f, errs
}

// Known lets the playbook linter check commands against a connector
// registry: which operations exist and what arguments they take.
type Known struct{ Reg *connector.Registry }

// argTypes maps connector argument types to the linter's.
var argTypes = map[string]string{"strings": "list"}

// Operation implements playbook.KnownConnectors.
func (k Known) Operation(conn, op string) (map[string]playbook.ArgSpec, bool) {
	o, ok := k.Reg.Operation(conn, op)
	if !ok {
		return nil, false
	}
	out := make(map[string]playbook.ArgSpec, len(o.Args))
	for name, a := range o.Args {
		t := a.Type
		if m, ok := argTypes[t]; ok {
			t = m
		}
		out[name] = playbook.ArgSpec{Type: t, Required: a.Required, Description: a.Description}
	}
	return out, true
}

// CommandType implements playbook.CommandTypeChecker the way the engine
// dispatches a CACAO command that is not riposte-connector or manual:
// http-api and openc2-http to the http connector, ssh to the ssh
// connector's run_argv (playbook.BindCommandType), any other type to the
// connector named after it. Without it a playbook of commands nothing runs
// validated and then failed every run.
func (k Known) CommandType(cmdType, _ string) bool {
	return k.CommandTypeProblem(cmdType) == "" && k.runs(cmdType)
}

func (k Known) runs(cmdType string) bool {
	if b, ok := playbook.BindCommandType(cmdType); ok {
		_, found := k.Reg.Operation(b.Connector, b.Operation)
		return b.Reason == "" && found
	}
	_, ok := k.Reg.Get(cmdType)
	return ok
}

// CommandTypeProblem implements playbook.CommandTypeExplainer: which
// connector a bound command type needs, when it is missing.
func (k Known) CommandTypeProblem(cmdType string) string {
	b, ok := playbook.BindCommandType(cmdType)
	switch {
	case !ok:
		return ""
	case b.Reason != "":
		return b.Reason
	case !k.runs(cmdType):
		return fmt.Sprintf("%s commands run on the %s connector, which is not configured (connectors.%s in riposte.yaml)", cmdType, b.Connector, b.Connector)
	}
	return ""
}

// Check parses and lints: errors are everything that keeps the playbook
// from running; warnings ride along.
func Check(data []byte, strict bool, schemas *playbook.SchemaValidator, reg *connector.Registry) (*playbook.Playbook, []playbook.Error) {
	p, _, errs := Parse(data, strict, schemas)
	if p == nil || playbook.HasErrors(errs) {
		return p, errs
	}
	return p, append(errs, playbook.Lint(p, Known{Reg: reg})...)
}

// CheckSecretRefs names each secret:// reference of p (webhook trigger,
// command arguments) that exists does not confirm, with its path, so a
// misspelt or deleted secret is refused when the playbook is stored, not
// when the webhook is called or the step runs.
func CheckSecretRefs(ctx context.Context, p *playbook.Playbook, exists func(ctx context.Context, name string) (bool, error)) []playbook.Error {
	var errs []playbook.Error
	for _, r := range playbook.SecretRefs(p) {
		e := playbook.Error{Severity: playbook.SeverityError, Code: "secret-ref", Path: r.Path, Line: r.Line, Column: r.Column}
		name, _, err := secret.ParseRef(r.Ref)
		if err == nil {
			var ok bool
			if ok, err = exists(ctx, name); err == nil && !ok {
				e.Msg = fmt.Sprintf("%s does not exist in the secret store (riposte secret set %s)", r.Ref, name)
			}
		}
		if err != nil {
			e.Msg = fmt.Sprintf("%s: %v", r.Ref, err)
		}
		if e.Msg != "" {
			errs = append(errs, e)
		}
	}
	return errs
}

// Library is the versioned store of playbooks: each change a new immutable
// version with author, time, reason and a diff in the audit log; runs pin
// the version they started with.
type Library struct {
	Store   *rulestore.Store
	Reg     *connector.Registry
	Schemas *playbook.SchemaValidator
	// SecretExists reports whether the secret store holds a name; with it,
	// Put refuses a playbook whose secret:// references do not exist.
	SecretExists func(ctx context.Context, name string) (bool, error)
}

// CheckError lists why a playbook was refused.
type CheckError struct{ Errors []playbook.Error }

func (e *CheckError) Error() string {
	s := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		s[i] = x.Error()
	}
	return "playbook refused: " + strings.Join(s, "; ")
}

// ValidationErrors lets the API answer 422.
func (e *CheckError) ValidationErrors() []string {
	s := make([]string, len(e.Errors))
	for i, x := range e.Errors {
		s[i] = x.Error()
	}
	return s
}

// Check is what Put checks, with warnings: the parser, the linter against
// this node's connectors, then the secret references (an editor shows the
// findings at their lines before anything is stored).
func (l *Library) Check(ctx context.Context, data []byte) (*playbook.Playbook, []playbook.Error) {
	p, errs := Check(data, false, l.Schemas, l.Reg)
	if p == nil || playbook.HasErrors(errs) || l.SecretExists == nil {
		return p, errs
	}
	return p, append(errs, CheckSecretRefs(ctx, p, l.SecretExists)...)
}

// Put checks a playbook and stores it as the next version, in our YAML
// (readable diffs, whatever format it arrived in).
func (l *Library) Put(ctx context.Context, data []byte, author, reason string) (rulestore.Version, error) {
	p, errs := l.Check(ctx, data)
	if p == nil || playbook.HasErrors(errs) {
		return rulestore.Version{}, &CheckError{Errors: playbook.Errors(errs)}
	}
	body, err := p.YAML()
	if err != nil {
		return rulestore.Version{}, fmt.Errorf("playbook %s: %w", p.ID, err)
	}
	return l.Store.Put(ctx, p.ID, p.Name, "playbook", string(body), author, reason)
}

// Version loads a stored version as a model.
func (l *Library) Version(ctx context.Context, id string, version int) (*playbook.Playbook, error) {
	vs, err := l.Store.History(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		if v.Version == version || (version == 0 && v == vs[len(vs)-1]) {
			p, errs := playbook.ParseYAML([]byte(v.Body))
			if playbook.HasErrors(errs) {
				return nil, &CheckError{Errors: playbook.Errors(errs)}
			}
			return p, nil
		}
	}
	return nil, fmt.Errorf("playbook %s version %d: %w", id, version, rulestore.ErrNotFound)
}

// ErrNotFound re-exports the store's.
var ErrNotFound = rulestore.ErrNotFound
