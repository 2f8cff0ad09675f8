package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

// Trace is what a run did (or, dry, would do): its steps in order with the
// commands they sent, its final variables and its outcome.
type Trace struct {
	Playbook string         `json:"playbook"`
	Outcome  string         `json:"outcome"`
	Error    string         `json:"error,omitempty"`
	Steps    []TraceStep    `json:"steps"`
	Vars     map[string]any `json:"vars,omitempty"`
}

// TraceStep is one step instance.
type TraceStep struct {
	Inst string `json:"inst"`
	Step string `json:"step"`
	// Name is the step's name as its author wrote it (the YAML key, the
	// CACAO name), empty when the author gave none.
	Name    string `json:"name,omitempty"`
	Type    string `json:"type"`
	Outcome string `json:"outcome"` // succeeded | failed | cancelled | pending
	// Entered and Ended are journal times (in a dry run, the virtual
	// clock's: waits and retries advance it without taking wall time).
	Entered  time.Time  `json:"entered_at"`
	Ended    *time.Time `json:"ended_at,omitempty"`
	Reason   string     `json:"reason,omitempty"`
	Message  string     `json:"message,omitempty"`
	Commands []string   `json:"commands,omitempty"` // calls as scheduled
	Sent     []string   `json:"sent,omitempty"`     // what the connector says it sent (or would send)
	Results  []string   `json:"results,omitempty"`  // outcome: summary, per attempt
	// Outputs are what the step's commands returned, merged in order.
	Outputs map[string]any `json:"outputs,omitempty"`
	Inquiry string         `json:"inquiry,omitempty"`
	Answer  string         `json:"answer,omitempty"`
	Child   *Trace         `json:"child,omitempty"`
}

// JSON renders the trace as indented JSON.
func (t Trace) JSON() []byte {
	b, _ := json.MarshalIndent(t, "", "  ")
	return b
}

// Trace builds a run's trace from its journal (child runs nested).
func (e *Engine) Trace(ctx context.Context, runID string) (Trace, error) {
	v, err := e.GetRun(ctx, runID)
	if err != nil {
		return Trace{}, err
	}
	t := Trace{Playbook: v.Snapshot.PlaybookID, Outcome: v.Snapshot.Status, Error: v.Snapshot.Error, Vars: v.Snapshot.Vars}
	// The plan gives the names people wrote; a run whose plan is gone
	// still has a trace, by step ids.
	var pb *playbook.Playbook
	_ = e.st.Update(ctx, func(tx Tx) error {
		p, err := e.plan(tx, v.Snapshot.PlaybookID, v.Snapshot.Version)
		pb = p
		return err
	})
	idx := map[string]int{}
	for _, ev := range v.Journal {
		i, ok := idx[ev.Inst]
		var st *TraceStep
		if ok {
			st = &t.Steps[i]
		}
		switch ev.Type {
		case EvStepEntered:
			idx[ev.Inst] = len(t.Steps)
			ts := TraceStep{Inst: ev.Inst, Step: ev.Step, Type: ev.SType, Outcome: "pending", Entered: ev.At}
			if pb != nil && pb.Steps[ev.Step] != nil {
				ts.Name = pb.Steps[ev.Step].Name
			}
			t.Steps = append(t.Steps, ts)
		case EvTaskScheduled:
			if st != nil {
				st.Commands = append(st.Commands, ev.Call.Text)
			}
		case EvCommandResult:
			if st != nil {
				r := ev.Outcome
				if ev.Result != nil {
					st.Sent = append(st.Sent, ev.Result.Commands...)
					for k, o := range ev.Result.Outputs {
						if st.Outputs == nil {
							st.Outputs = map[string]any{}
						}
						st.Outputs[k] = o
					}
					if ev.Result.Summary != "" {
						r += ": " + ev.Result.Summary
					}
				}
				if ev.Msg != "" {
					r += " (" + ev.Msg + ")"
				}
				st.Results = append(st.Results, r)
			}
		case EvStepSucceeded:
			if st != nil {
				st.Outcome, st.Ended = "succeeded", &ev.At
			}
		case EvStepFailed:
			if st != nil {
				st.Outcome, st.Reason, st.Message, st.Ended = "failed", ev.Reason, ev.Msg, &ev.At
			}
		case EvStepCancelled:
			if st != nil {
				st.Outcome, st.Ended = "cancelled", &ev.At
			}
		case EvInquiryOpened:
			if st != nil {
				st.Inquiry = ev.Inquiry.Kind + ": " + ev.Inquiry.Question
			}
		case EvInquiryAnswered:
			if st != nil {
				a := "denied"
				if ev.Approve {
					a = "approved"
				}
				st.Answer = a + " by " + ev.Actor
			}
		case EvInquiryExpired:
			if st != nil {
				st.Answer = "expired"
			}
		case EvChildRunStarted:
			if st != nil {
				ct, err := e.Trace(ctx, ev.Child)
				if err == nil {
					st.Child = &ct
				}
			}
		}
	}
	return t, nil
}

// fakeClock is the dry run's virtual clock: it jumps to the next due
// timer when nothing else can happen.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// DryRun runs pb with every connector's Simulate instead of Execute,
// against a temporary store and a virtual clock (delays, retries and
// timeouts take no wall time). Approvals are answered "approve" by
// "dry-run". The engine's own database is not touched.
func (e *Engine) DryRun(ctx context.Context, pb *playbook.Playbook, input map[string]any) (Trace, error) {
	dir, err := os.MkdirTemp("", "riposte-dryrun-")
	if err != nil {
		return Trace{}, err
	}
	defer os.RemoveAll(dir)
	clk := &fakeClock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	opts := e.opts
	opts.Store, opts.Hook, opts.Sync, opts.Now = nil, nil, "off", clk.Now
	d, err := Open(filepath.Join(dir, "dry.db"), e.reg, opts)
	if err != nil {
		return Trace{}, err
	}
	defer d.Close()
	d.simulate = true
	// Child playbooks the engine knows are copied into the dry store.
	if err := d.copyPlans(ctx, e); err != nil {
		return Trace{}, err
	}
	id, err := d.Start(ctx, pb, 1, input, "")
	if err != nil {
		return Trace{}, err
	}
	if err := d.Drive(ctx, id, clk, "dry-run"); err != nil {
		return Trace{}, err
	}
	return d.Trace(ctx, id)
}

func (d *Engine) copyPlans(ctx context.Context, src *Engine) error {
	src.mu.Lock()
	var pbs []*playbook.Playbook
	var vs []int
	for k, pb := range src.plans {
		var v int
		fmt.Sscanf(k[len(pb.ID)+1:], "%d", &v)
		pbs, vs = append(pbs, pb), append(vs, v)
	}
	src.mu.Unlock()
	for i, pb := range pbs {
		if err := d.Register(ctx, pb, vs[i]); err != nil {
			return err
		}
	}
	return nil
}

// Drive executes run id synchronously in the calling goroutine until it
// ends: tasks inline, due timers, and — when approver is not empty — open
// inquiries approved by approver. With clk set, the clock jumps to the
// next due time when idle; without, Drive sleeps until then.
func (e *Engine) Drive(ctx context.Context, id string, clk *fakeClock, approver string) error {
	for i := 0; ; i++ {
		if i > 1_000_000 {
			return errors.New("drive: run does not end")
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		n, err := e.workOnce(ctx)
		if err != nil {
			return err
		}
		m, err := e.fireTimers(ctx)
		if err != nil {
			return err
		}
		if n+m > 0 {
			continue
		}
		v, err := e.GetRun(ctx, id)
		if err != nil {
			return err
		}
		if Terminal(v.Snapshot.Status) {
			return nil
		}
		if approver != "" {
			qs, err := e.Inquiries(ctx, InquiryFilter{State: "open"})
			if err != nil {
				return err
			}
			if len(qs) > 0 {
				for _, q := range qs {
					if err := e.answer(ctx, q.ID, true, "dry run", fmt.Sprintf("%s#%d", approver, i), nil, false, nil); err != nil && !errors.Is(err, ErrInquiryClosed) {
						return err
					}
				}
				continue
			}
		}
		due, ok, err := e.st.NextDue(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("drive: run %s is %s with nothing due", id, v.Snapshot.Status)
		}
		if clk != nil {
			clk.Set(due)
		} else if w := time.Until(due); w > 0 {
			time.Sleep(min(w, e.opts.Poll))
		}
	}
}
