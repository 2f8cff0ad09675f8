package recovery

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
)

type ledger struct {
	steps []Step
	err   error
	asked []string
}

func (l *ledger) Recover(_ context.Context, incident, actor string) ([]Step, error) {
	l.asked = append(l.asked, incident+" by "+actor)
	return l.steps, l.err
}

func TestUndoAll(t *testing.T) {
	ctx := context.Background()
	c := New()
	call := connector.Call{Operation: "undo_all", RunID: "r1", Incident: "INC1", Args: map[string]any{}}
	if _, err := c.Execute(ctx, call); connector.ClassOf(err) != connector.Transient {
		t.Fatalf("before Bind: %v", err)
	}
	l := &ledger{steps: []Step{{OK: true, Summary: "unblock 203.0.113.7"}, {OK: true, Summary: "release web-1"}}}
	c.Bind(l)
	res, err := c.Execute(ctx, call)
	if err != nil || res.Outputs["undone"] != 2 || res.Outputs["failed"] != 0 || l.asked[0] != "INC1 by playbook:r1" {
		t.Fatalf("%+v %v %v", res, err, l.asked)
	}
	// A failed undo stays pending: the step fails transiently so its
	// retry policy tries again.
	l.steps = append(l.steps, Step{OK: false, Summary: "restore /etc/ssh/sshd_config: agent offline"})
	res, err = c.Execute(ctx, call)
	if connector.ClassOf(err) != connector.Transient || !strings.Contains(err.Error(), "agent offline") || res.Outputs["failed"] != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	l.err = errors.New("database locked")
	if _, err := c.Execute(ctx, call); connector.ClassOf(err) != connector.Transient {
		t.Fatalf("ledger error: %v", err)
	}
	// No incident at all: nothing to recover, permanently.
	if _, err := c.Execute(ctx, connector.Call{Operation: "undo_all", Args: map[string]any{}}); connector.ClassOf(err) != connector.Permanent {
		t.Fatalf("no incident: %v", err)
	}
	if _, err := c.Execute(ctx, connector.Call{Operation: "undo_all", Args: map[string]any{"incident": 7}}); connector.ClassOf(err) != connector.Permanent {
		t.Fatalf("bad argument: %v", err)
	}
	res, err = c.Simulate(ctx, call)
	if err != nil || len(l.asked) != 3 {
		t.Fatalf("simulate acted: %+v %v %v", res, err, l.asked)
	}
}
