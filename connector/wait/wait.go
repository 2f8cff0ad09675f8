// Package wait is the wait connector: a playbook step that pauses the run.
//
// The engine special-cases it. A wait is a durable timer in the run's
// database, not a sleeping goroutine, so a run survives restarts while it
// waits and holds no worker. The engine reads the duration with Duration
// (or from the step's outputs), schedules the timer, and resumes the run
// when it fires; Execute itself returns at once. Called directly (by a
// test, or an engine that does not special-case it), Execute still returns
// at once: it never sleeps.
package wait

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/connector"
)

// SampleConfig is the part of riposte.yaml the wait connector reads.
//
//go:embed sample.conf
var SampleConfig string

const (
	// Name is the connector's name in playbooks.
	Name = "wait"
	// Sleep is the operation the engine turns into a durable timer.
	Sleep = "sleep"
	// DefaultMax is the longest wait allowed when the config says none.
	DefaultMax = 30 * 24 * time.Hour
)

// Config is the wait connector's configuration.
type Config struct {
	// Max is the longest wait a step may ask for; 0 means DefaultMax.
	Max time.Duration `yaml:"max" json:"max,omitempty"`
}

// Connector implements connector.Connector.
type Connector struct{ max time.Duration }

// New makes the connector.
func New(cfg Config) *Connector {
	if cfg.Max <= 0 {
		cfg.Max = DefaultMax
	}
	return &Connector{max: cfg.Max}
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Pauses the run; the engine waits with a durable timer.",
	Operations: map[string]connector.Operation{
		Sleep: {
			Description: "Wait for a duration before the next step (a durable timer: it survives restarts).",
			Args: map[string]connector.ArgSpec{
				"duration": {Type: "string", Required: true, Description: `how long, as a Go duration ("90s", "15m", "2h30m")`},
			},
			Outputs:    map[string]string{"duration": "the duration, normalized (\"15m0s\")", "seconds": "the duration in seconds"},
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

// Duration validates a sleep call and returns how long it waits: the
// engine uses it to schedule the timer.
func (c *Connector) Duration(call connector.Call) (time.Duration, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return 0, connector.Errorf(connector.Permanent, "wait: unknown operation %q (want sleep)", call.Operation)
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return 0, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("wait.sleep: %w", err)}
	}
	s := call.Args["duration"].(string)
	d, err := time.ParseDuration(s)
	if err != nil {
		if len(s) > 64 {
			s = s[:64] + "…"
		}
		return 0, connector.Errorf(connector.Permanent, "wait.sleep: duration %q is not a duration like 90s, 15m or 2h", s)
	}
	if d <= 0 {
		return 0, connector.Errorf(connector.Permanent, "wait.sleep: duration %s must be positive", d)
	}
	if d > c.max {
		return 0, connector.Errorf(connector.Permanent, "wait.sleep: duration %s is over the limit of %s", d, c.max)
	}
	return d, nil
}

// Execute validates the call and returns at once with the duration: the
// engine does the waiting (see the package comment).
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.run(call)
}

// Simulate is Execute: the connector has no side effect.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.run(call)
}

func (c *Connector) run(call connector.Call) (connector.Result, error) {
	d, err := c.Duration(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{
		Outputs:  map[string]any{"duration": d.String(), "seconds": d.Seconds()},
		Summary:  "wait " + d.String(),
		Commands: []string{"timer " + d.String()},
	}, nil
}
