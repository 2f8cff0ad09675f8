package respond

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/playbook"
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
			minute := now.Truncate(time.Minute)
			if !cronFires(sch.Cron, minute) {
				continue
			}
			slot = "cron:" + minute.Format(time.RFC3339)
		default:
			continue
		}
		if last[a.pb.ID] == slot {
			continue
		}
		if s.ClaimSlot != nil {
			claimed, err := s.ClaimSlot(ctx, a.pb.ID, slot)
			if err != nil {
				s.Log.Warn("schedule slot not claimed, trying again", "playbook", a.pb.ID, "slot", slot, "err", err)
				continue
			}
			if !claimed {
				last[a.pb.ID] = slot
				continue
			}
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

// cronFires reports whether a cron expression fires at minute (a UTC time
// on a minute boundary): its next firing after the second before is that
// minute. The expression is read by playbook.ParseCron, the same function
// that refuses at import what could not fire.
func cronFires(expr string, minute time.Time) bool {
	s, err := playbook.ParseCron(expr)
	if err != nil {
		return false // import refuses such a playbook; be safe anyway
	}
	return s.Next(minute.Add(-time.Second)).Equal(minute)
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

// WebhookSecret returns the secret reference of the enabled webhook
// trigger called name ("env:VAR" or "secret://NAME"; "" when the trigger
// has none); ok is false when no enabled playbook has that trigger.
func (s *Service) WebhookSecret(name string) (ref string, ok bool) {
	list := s.enabled.Load()
	if list == nil {
		return "", false
	}
	for _, a := range *list {
		if w := a.pb.Trigger; w != nil && w.Webhook != nil && w.Webhook.Name == name {
			return w.Webhook.SecretRef, true
		}
	}
	return "", false
}
