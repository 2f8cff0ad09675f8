package server

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/store"
)

// setupAlarm builds the alarm stage and its consumer on the alerts stream.
func setupAlarm(ctx context.Context, cfg config.Config, b *bus.Bus, ctl *store.DB, reg prometheus.Registerer, log *slog.Logger) (*alarm.Service, *fanout, jetstream.Consumer, error) {
	acfg := alarm.DefaultConfig()
	acfg.DedupWindow, acfg.GroupWindow = cfg.Alarm.DedupWindow.D(), cfg.Alarm.GroupWindow.D()
	acfg.MaxSilence = cfg.Alarm.Silences.MaxDuration.D()
	// Validated by config: resolved is the recovered status (docs/alarm.md).
	switch cfg.Alarm.Grouping.NewIncidentAfter {
	case "contained":
		acfg.NewIncidentAfter = alarm.StatusContained
	case "resolved":
		acfg.NewIncidentAfter = alarm.StatusRecovered
	case "never":
		acfg.NewIncidentAfter = ""
	}
	if len(cfg.Alarm.IgnoreEntities) > 0 {
		acfg.IgnoreEntities = cfg.Alarm.IgnoreEntities
	}
	if len(cfg.Alarm.Matrix) > 0 {
		acfg.Policy.Matrix = nil
		for _, r := range cfg.Alarm.Matrix {
			acfg.Policy.Matrix = append(acfg.Policy.Matrix, alarm.PriorityRule{Priority: r.Priority,
				MinSeverity: r.MinSeverity, MinUrgency: r.MinUrgency, MinCriticality: r.MinCriticality})
		}
	}
	for _, x := range cfg.Alarm.SLA {
		acfg.Policy.SLA[x.Priority] = alarm.SLA{Acknowledge: x.Acknowledge.D(), Contain: x.Contain.D(), Resolve: x.Resolve.D()}
	}
	for _, u := range cfg.Alarm.Urgency {
		acfg.Policy.TacticUrgency[strings.ToLower(strings.TrimPrefix(u.Tactic, "attack."))] = u.Urgency
	}
	n, err := newNotifier(cfg, log)
	if err != nil {
		return nil, nil, nil, err
	}
	fan := &fanout{n: n}
	svc, err := alarm.NewService(ctx, acfg, ctl, fan, log)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("alarm: %w", err)
	}
	n.svc = svc
	_, js, err := b.Connect("alarm")
	if err != nil {
		return nil, nil, nil, err
	}
	cons, err := alarm.EnsureConsumer(ctx, js)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("alarm consumer: %w", err)
	}
	registerAlarmMetrics(svc, reg)
	return svc, fan, cons, nil
}
