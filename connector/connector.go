// Package connector is the registry of what playbooks can act with. A
// connector declares its operations, their argument schemas, whether each
// is idempotent, and how it simulates, so the playbook linter, the dry run,
// the API and the docs all read the same declarations, and retries stay
// safe. Connectors are the last stage of the flow (respond → act): they
// import nothing from the engine.
package connector

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// ArgSpec describes one argument of an operation.
type ArgSpec struct {
	// Type is string, int, bool, number, strings (list of strings), map or any.
	Type        string `json:"type"`
	Required    bool   `json:"required,omitempty"`
	Description string `json:"description"`
}

// Operation is one thing a connector does.
type Operation struct {
	Description string             `json:"description"`
	Args        map[string]ArgSpec `json:"args"`
	// Outputs names what a successful call returns in Result.Outputs.
	Outputs map[string]string `json:"outputs,omitempty"`
	// Idempotent says that applying the same call twice has the effect of
	// applying it once even without the idempotency key (a set, a block
	// of an address already blocked). Non-idempotent operations rely on
	// the key, or on reconciliation after an unknown outcome.
	Idempotent bool `json:"idempotent"`
	// Reversible names the operation that undoes this one, if any
	// ("deny_ip" → "allow_ip"), for automatic recovery.
	Reversible string `json:"reversible,omitempty"`
}

// Spec is what a connector declares about itself.
type Spec struct {
	Name        string               `json:"name"`
	Description string               `json:"description"`
	Operations  map[string]Operation `json:"operations"`
	// SampleConfig is the connector's configuration example (its folder's
	// sample.conf), for `riposte connectors list`.
	SampleConfig string `json:"sample_config,omitempty"`
}

// Call is one invocation of an operation by a playbook step.
type Call struct {
	Operation string
	Args      map[string]any
	// IdempotencyKey is stable across retries and crash recoveries of the
	// same step attempt of the same run: a connector that talks to a
	// system able to deduplicate passes it on; others use it to find out
	// whether a call they may have made already took effect.
	IdempotencyKey string
	RunID, StepID  string
	Attempt        int
	// Incident is the incident the run responds to, when there is one.
	Incident string
}

// Result is what a call did.
type Result struct {
	Outputs map[string]any `json:"outputs,omitempty"`
	// Summary is one line for the run trace and the incident timeline.
	Summary string `json:"summary"`
	// Commands lists what was (or, simulated, would be) sent: an HTTP
	// request line, an OpenC2 command, an argv. Secrets never appear here.
	Commands []string `json:"commands,omitempty"`
	// Undo says how to reverse what the call did (unblock what it
	// blocked, restore what it quarantined); recovery of an incident
	// runs the undos of its calls in reverse order.
	Undo *Undo `json:"undo,omitempty"`
}

// Undo is the call that reverses another.
type Undo struct {
	Connector string         `json:"connector"`
	Operation string         `json:"operation"`
	Args      map[string]any `json:"args"`
	// Summary says what the undo restores, for the timeline.
	Summary string `json:"summary"`
}

// Connector is implemented by every connector.
type Connector interface {
	Spec() Spec
	// Execute performs the call for real.
	Execute(ctx context.Context, c Call) (Result, error)
	// Simulate validates the call and says what Execute would do, without
	// any side effect: dry runs of playbooks use it.
	Simulate(ctx context.Context, c Call) (Result, error)
}

// Class says how the engine should treat an error.
type Class int

const (
	// Permanent: retrying cannot help (bad arguments, 4xx, refused).
	Permanent Class = iota
	// Transient: nothing happened; retry per the step's retry policy.
	Transient
	// Unknown: the call may or may not have taken effect (timeout after
	// sending); the engine reconciles or hands it to a person.
	Unknown
)

func (c Class) String() string {
	switch c {
	case Transient:
		return "transient"
	case Unknown:
		return "unknown_outcome"
	}
	return "permanent"
}

// Error is a classified connector error.
type Error struct {
	Class Class
	Err   error
}

func (e *Error) Error() string { return e.Class.String() + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf makes a classified error.
func Errorf(c Class, format string, a ...any) error {
	return &Error{Class: c, Err: fmt.Errorf(format, a...)}
}

// ClassOf returns an error's class; unclassified errors are permanent.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Permanent
}

// Registry holds the connectors a node can use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Connector
}

// NewRegistry makes an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Connector{}} }

// Register adds a connector; a second one with the same name is an error.
func (r *Registry) Register(c Connector) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := c.Spec().Name
	if _, dup := r.m[name]; dup {
		return fmt.Errorf("connector %q registered twice", name)
	}
	r.m[name] = c
	return nil
}

// Get returns a connector by name.
func (r *Registry) Get(name string) (Connector, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	c, ok := r.m[name]
	return c, ok
}

// Operation returns an operation's declaration (the playbook linter's
// view of the registry).
func (r *Registry) Operation(connector, op string) (Operation, bool) {
	c, ok := r.Get(connector)
	if !ok {
		return Operation{}, false
	}
	o, ok := c.Spec().Operations[op]
	return o, ok
}

// List returns every connector's spec, by name.
func (r *Registry) List() []Spec {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Spec, 0, len(r.m))
	for _, c := range r.m {
		out = append(out, c.Spec())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// CheckArgs validates call arguments against an operation's schema and
// names every problem.
func CheckArgs(op Operation, args map[string]any) error {
	var errs []error
	for name, spec := range op.Args {
		v, ok := args[name]
		if !ok || v == nil {
			if spec.Required {
				errs = append(errs, fmt.Errorf("argument %q is required", name))
			}
			continue
		}
		if !typeOK(spec.Type, v) {
			errs = append(errs, fmt.Errorf("argument %q must be %s, got %T", name, spec.Type, v))
		}
	}
	for name := range args {
		if _, ok := op.Args[name]; !ok {
			errs = append(errs, fmt.Errorf("unknown argument %q", name))
		}
	}
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errors.Join(errs...)
}

func typeOK(t string, v any) bool {
	switch t {
	case "string":
		_, ok := v.(string)
		return ok
	case "int":
		switch x := v.(type) {
		case int, int64:
			return true
		case float64:
			return x == float64(int64(x))
		}
		return false
	case "number":
		switch v.(type) {
		case int, int64, float64:
			return true
		}
		return false
	case "bool":
		_, ok := v.(bool)
		return ok
	case "strings":
		switch x := v.(type) {
		case []string:
			return true
		case []any:
			for _, e := range x {
				if _, ok := e.(string); !ok {
					return false
				}
			}
			return true
		}
		return false
	case "map":
		_, ok := v.(map[string]any)
		return ok
	}
	return true
}
