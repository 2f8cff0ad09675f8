// Package set is the set connector: a playbook step that names values for
// later steps. It is pure: no side effect, so Execute and Simulate return the
// same outputs, and retries are always safe.
package set

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// SampleConfig is the part of riposte.yaml the set connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "set"

// DefaultMaxBytes bounds the JSON size of one step's values: they are
// stored in the run's journal.
const DefaultMaxBytes = 256 << 10

// Config is the set connector's configuration.
type Config struct {
	// MaxBytes is the largest JSON encoding of the values of one call;
	// larger calls fail permanently (values are never cut: a cut value
	// would be wrong data). 0 means DefaultMaxBytes.
	MaxBytes int `yaml:"max_bytes" json:"max_bytes,omitempty"`
}

// Connector implements connector.Connector.
type Connector struct{ max int }

// New makes the connector.
func New(cfg Config) *Connector {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	return &Connector{max: cfg.MaxBytes}
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Names values for later steps of the run; no side effect.",
	Operations: map[string]connector.Operation{
		"vars": {
			Description: "Return the given values as the step's outputs.",
			Args: map[string]connector.ArgSpec{
				"values": {Type: "map", Required: true, Description: "names and values (any JSON) to set"},
			},
			Outputs:    map[string]string{"*": "each value given, under its name"},
			Idempotent: true,
		},
	},
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

// Execute returns the values.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.run(call)
}

// Simulate is Execute: the connector has no side effect.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.run(call)
}

func (c *Connector) run(call connector.Call) (connector.Result, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return connector.Result{}, connector.Errorf(connector.Permanent, "set: unknown operation %q (want vars)", call.Operation)
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return connector.Result{}, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("set.vars: %w", err)}
	}
	values := call.Args["values"].(map[string]any)
	for name := range values {
		if name == "" {
			return connector.Result{}, connector.Errorf(connector.Permanent, "set.vars: a value has an empty name")
		}
	}
	b, err := json.Marshal(values)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Permanent, "set.vars: values are not JSON: %v", err)
	}
	if len(b) > c.max {
		return connector.Result{}, connector.Errorf(connector.Permanent, "set.vars: values are %d bytes as JSON, over the limit of %d", len(b), c.max)
	}
	names := slices.Sorted(maps.Keys(values))
	return connector.Result{
		Outputs:  maps.Clone(values),
		Summary:  limit.Text(fmt.Sprintf("set %d value(s): %s", len(names), strings.Join(names, ", ")), limit.Command),
		Commands: nil,
	}, nil
}
