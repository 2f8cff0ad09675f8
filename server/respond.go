package server

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/store"
)

// EngineDB is the durable engine's database in the data directory.
const EngineDB = "engine.db"

// setupRespond builds the connector registry, the durable engine and the
// playbook service.
func setupRespond(ctx context.Context, cfg config.Config, ctl *store.DB, alarmSvc *alarm.Service, n *notifier, log *slog.Logger) (*respond.Service, error) {
	reg := connector.NewRegistry()
	deps := all.Deps{Incidents: alarmSvc}
	if n != nil && n.d != nil {
		deps.Notifier = n.d
	}
	if err := all.Register(reg, deps); err != nil {
		return nil, err
	}
	eng, err := engine.Open(filepath.Join(cfg.Data, EngineDB), reg, engine.Options{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("playbook engine: %w", err)
	}
	svc := &respond.Service{
		Lib:    &respond.Library{Store: rulestore.NewPlaybooks(ctl), Reg: reg},
		Engine: eng, Log: log, Assets: alarmSvc.Inventory().Lookup,
	}
	if err := svc.Reload(ctx); err != nil {
		return nil, err
	}
	return svc, nil
}

// fanout tells several listeners about incident events: people (notify)
// and playbooks (triggers).
type fanout struct {
	n       *notifier
	respond func(ev string, inc *alarm.Incident)
}

func (f *fanout) Notify(ev string, inc *alarm.Incident, text string) {
	f.n.Notify(ev, inc, text)
	if f.respond != nil {
		f.respond(ev, inc)
	}
}
