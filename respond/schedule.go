package respond

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/engine"
)

// RunSchedules starts scheduled playbooks until ctx ends. Each start is
// keyed by its time slot, so a restart, or a second node, never starts the
// same slot twice.
func (s *Service) RunSchedules(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	last := map[string]string{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s.tick(ctx, now.UTC(), last)
		}
	}
}

func (s *Service) tick(ctx context.Context, now time.Time, last map[string]string) {
	list := s.enabled.Load()
	if list == nil {
		return
	}
	for _, a := range *list {
		if a.pb.Trigger == nil || a.pb.Trigger.Schedule == nil {
			continue
		}
		sch := a.pb.Trigger.Schedule
		var slot string
		switch {
		case sch.Every > 0:
			slot = "every:" + now.Truncate(sch.Every).Format(time.RFC3339)
		case sch.Cron != "":
			c, err := parseCron(sch.Cron)
			if err != nil {
				continue // the linter refuses such a playbook; be safe anyway
			}
			minute := now.Truncate(time.Minute)
			if !c.match(minute) {
				continue
			}
			slot = "cron:" + minute.Format(time.RFC3339)
		default:
			continue
		}
		if last[a.pb.ID] == slot {
			continue
		}
		last[a.pb.ID] = slot
		id, err := s.start(ctx, a.pb, a.version, StartInput{DedupKey: slot, Trigger: "schedule", detail: map[string]any{"slot": slot}})
		switch {
		case errors.Is(err, engine.ErrDuplicateRun):
		case err != nil:
			s.Log.Error("scheduled playbook not started", "playbook", a.pb.ID, "err", err)
		default:
			s.Log.Info("scheduled playbook started", "playbook", a.pb.Name, "run", id, "slot", slot)
		}
	}
}

// cron is a five-field expression: minute hour day-of-month month day-of-week.
type cron struct {
	min, hour, dom, month, dow [64]bool
	domAny, dowAny             bool
}

func parseCron(expr string) (*cron, error) {
	f := strings.Fields(expr)
	if len(f) != 5 {
		return nil, fmt.Errorf("cron %q: want 5 fields (minute hour day month weekday)", expr)
	}
	c := &cron{domAny: f[2] == "*", dowAny: f[4] == "*"}
	for i, spec := range []struct {
		set    *[64]bool
		lo, hi int
	}{{&c.min, 0, 59}, {&c.hour, 0, 23}, {&c.dom, 1, 31}, {&c.month, 1, 12}, {&c.dow, 0, 7}} {
		if err := cronField(f[i], spec.lo, spec.hi, spec.set); err != nil {
			return nil, fmt.Errorf("cron %q field %d: %v", expr, i+1, err)
		}
	}
	if c.dow[7] {
		c.dow[0] = true // 7 is Sunday too
	}
	return c, nil
}

func cronField(s string, lo, hi int, set *[64]bool) error {
	for _, part := range strings.Split(s, ",") {
		rng, stepS, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepS)
			if err != nil || n < 1 {
				return fmt.Errorf("bad step %q", stepS)
			}
			step = n
		}
		a, b := lo, hi
		if rng != "*" {
			x, y, isRange := strings.Cut(rng, "-")
			var err error
			if a, err = strconv.Atoi(x); err != nil {
				return fmt.Errorf("bad value %q", x)
			}
			b = a
			if isRange {
				if b, err = strconv.Atoi(y); err != nil {
					return fmt.Errorf("bad value %q", y)
				}
			} else if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi || a > b {
			return fmt.Errorf("%q is outside %d-%d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			set[v] = true
		}
	}
	return nil
}

func (c *cron) match(t time.Time) bool {
	if !c.min[t.Minute()] || !c.hour[t.Hour()] || !c.month[int(t.Month())] {
		return false
	}
	dom, dow := c.dom[t.Day()], c.dow[int(t.Weekday())]
	switch {
	case c.domAny && c.dowAny:
		return true
	case c.domAny:
		return dow
	case c.dowAny:
		return dom
	}
	return dom || dow // both restricted: either matches, as cron has it
}

// Webhook starts every enabled playbook whose webhook trigger has this
// name, with the request's JSON object as input variables. key, when set
// (the caller's Idempotency-Key), makes a repeated delivery start nothing.
// actor is who called, for each run's audit entry.
func (s *Service) Webhook(ctx context.Context, name string, vars map[string]any, key, actor string) ([]string, error) {
	list := s.enabled.Load()
	if list == nil {
		return nil, nil
	}
	var ids []string
	for _, a := range *list {
		if a.pb.Trigger == nil || a.pb.Trigger.Webhook == nil || a.pb.Trigger.Webhook.Name != name {
			continue
		}
		in := StartInput{Vars: vars, Actor: actor, Trigger: "webhook", detail: map[string]any{"webhook": name}}
		if key != "" {
			in.DedupKey = "webhook:" + key
		}
		id, err := s.start(ctx, a.pb, a.version, in)
		if err != nil && !errors.Is(err, engine.ErrDuplicateRun) {
			return ids, fmt.Errorf("playbook %s: %w", a.pb.ID, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// WebhookSecret returns the environment variable named by a webhook
// trigger's secret reference "env:NAME" ("" when the trigger has none).
func (s *Service) WebhookSecret(name string) (string, bool) {
	list := s.enabled.Load()
	if list == nil {
		return "", false
	}
	for _, a := range *list {
		if w := a.pb.Trigger; w != nil && w.Webhook != nil && w.Webhook.Name == name {
			if ref, ok := strings.CutPrefix(w.Webhook.SecretRef, "env:"); ok {
				return ref, true
			}
			return "", true
		}
	}
	return "", false
}
