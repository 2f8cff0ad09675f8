// Package recovery is the connector a playbook's recovery step uses: it
// undoes, in reverse order, everything the incident's playbooks did that
// can be undone (unblock, un-isolate, restore quarantined files and
// configuration lines, re-enable accounts, restart services), each undo
// recorded on the incident's timeline.
package recovery

import (
	"context"
	_ "embed"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/riposte-soar/riposte/connector"
)

// SampleConfig documents the connector (it needs no configuration).
//
//go:embed sample.conf
var SampleConfig string

// Name is the connector's name in playbooks.
const Name = "recovery"

// Step is one undo as the recoverer reports it.
type Step struct {
	OK      bool
	Summary string
}

// Recoverer undoes an incident's recorded actions (respond.Service).
type Recoverer interface {
	Recover(ctx context.Context, incident, actor string) ([]Step, error)
}

// Connector implements connector.Connector. The recoverer is set after
// the registry is built, since the recoverer runs the undos through it.
type Connector struct{ r atomic.Pointer[Recoverer] }

// New makes the connector; call Bind before the first run.
func New() *Connector { return &Connector{} }

// Bind sets the recoverer.
func (c *Connector) Bind(r Recoverer) { c.r.Store(&r) }

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	return connector.Spec{Name: Name, Description: "Undoes what playbooks did for an incident, newest first.", SampleConfig: SampleConfig,
		Operations: map[string]connector.Operation{
			"undo_all": {Description: "Undo every recorded action of the incident that is not undone yet, in reverse order; failed undos stay pending.",
				Args:       map[string]connector.ArgSpec{"incident": {Type: "string", Description: "incident id (default: the run's incident)"}},
				Outputs:    map[string]string{"undone": "how many undos succeeded", "failed": "how many failed (still pending)", "steps": "one line per undo"},
				Idempotent: true},
		}}
}

func (c *Connector) incident(call connector.Call) (string, error) {
	inc, _ := call.Args["incident"].(string)
	if inc == "" {
		inc = call.Incident
	}
	if inc == "" {
		return "", connector.Errorf(connector.Permanent, "no incident: the run responds to none and none was given")
	}
	return inc, nil
}

// Execute undoes the incident's actions.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	if err := connector.CheckArgs(c.Spec().Operations["undo_all"], call.Args); err != nil || call.Operation != "undo_all" {
		return connector.Result{}, connector.Errorf(connector.Permanent, "recovery.%s: %v", call.Operation, err)
	}
	inc, err := c.incident(call)
	if err != nil {
		return connector.Result{}, err
	}
	r := c.r.Load()
	if r == nil {
		return connector.Result{}, connector.Errorf(connector.Transient, "recovery is not ready yet")
	}
	steps, err := (*r).Recover(ctx, inc, "playbook:"+call.RunID)
	if err != nil {
		return connector.Result{}, connector.Errorf(connector.Transient, "recovery of %s: %v", inc, err)
	}
	var lines []string
	ok, failed := 0, 0
	for _, s := range steps {
		mark := "ok"
		if s.OK {
			ok++
		} else {
			failed++
			mark = "FAILED"
		}
		lines = append(lines, mark+": "+s.Summary)
	}
	res := connector.Result{Summary: fmt.Sprintf("recovery of %s: %d undone, %d failed", inc, ok, failed),
		Outputs: map[string]any{"undone": ok, "failed": failed, "steps": lines}}
	if failed > 0 {
		// The failed undos stay pending: a retry of this step tries them
		// again and skips what is already undone.
		return res, connector.Errorf(connector.Transient, "%s: %s", res.Summary, strings.Join(lines, "; "))
	}
	return res, nil
}

// Simulate says what it would do without doing it.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	inc, err := c.incident(call)
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{Summary: "would undo the recorded actions of " + inc + ", newest first", Outputs: map[string]any{"undone": 0, "failed": 0}}, nil
}
