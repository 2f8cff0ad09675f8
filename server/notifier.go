package server

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/notify"
)

// notifier turns alarm events into notify messages, and notify's delivery
// reports into incident timeline entries, so a person can see in the case
// who was told, and which deliveries failed and were retried.
type notifier struct {
	d         *notify.Dispatcher
	svc       *alarm.Service // set once the service exists
	publicURL string
	log       *slog.Logger
}

type notifyConfig struct {
	Channels []notify.ChannelConfig `yaml:"channels"`
	Routes   []notify.Route         `yaml:"routes"`
}

// newNotifier reads the notify section. Without channels, incident events
// go to the log, so a new installation still shows what it would send.
func newNotifier(cfg config.Config, log *slog.Logger) (*notifier, error) {
	n := &notifier{publicURL: strings.TrimRight(cfg.PublicURL, "/"), log: log}
	if n.publicURL == "" {
		n.publicURL = "http://" + cfg.HTTP.Listen
	}
	if len(bytes.TrimSpace(cfg.Notify.YAML)) == 0 {
		return n, nil
	}
	var nc notifyConfig
	if err := yaml.UnmarshalWithOptions(cfg.Notify.YAML, &nc, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("notify (from line %d): %v", cfg.Notify.Line, err)
	}
	d, err := notify.NewDispatcher(nc.Channels, nc.Routes, n.report, log)
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	n.d = d
	return n, nil
}

func (n *notifier) Notify(ev string, inc *alarm.Incident, text string) {
	if ev == "alert" {
		return // one per alert: for playbook triggers, not for people
	}
	if n.d == nil {
		n.log.Info("incident "+ev, "incident", inc.ID, "priority", inc.Priority, "title", inc.Title, "text", text)
		return
	}
	m := notify.Message{Event: ev, Time: time.Now().UTC(), Text: text, Incident: notify.Incident{
		ID: inc.ID, Title: inc.Title, Priority: inc.Priority, Severity: severityName(inc.Severity), Status: string(inc.Status),
		Assignee: inc.Assignee, Tags: append([]string{}, inc.Tags...), AlertCount: inc.AlertCount,
		URL: n.publicURL + "/api/v1/incidents/" + inc.ID,
	}}
	for _, t := range inc.Tactics {
		m.Incident.Tags = append(m.Incident.Tags, "attack."+t)
	}
	m.Incident.Tags = append(m.Incident.Tags, fmt.Sprintf("tier:%d", inc.Escalation+1))
	for _, e := range inc.Entities {
		switch e.Kind {
		case "host":
			m.Incident.Hosts = append(m.Incident.Hosts, e.Value)
		case "user":
			m.Incident.Users = append(m.Incident.Users, e.Value)
		}
		if n.svc != nil {
			if a := n.svc.Inventory().Lookup(e); a != nil && a.Owner != "" && !contains(m.Incident.Owners, a.Owner) {
				m.Incident.Owners = append(m.Incident.Owners, a.Owner)
			}
		}
	}
	n.d.Notify(m)
}

func (n *notifier) report(d notify.Delivery) {
	if n.svc == nil {
		return
	}
	var text string
	switch {
	case d.Err == nil:
		text = fmt.Sprintf("notified %s (%s)", d.Channel, d.Event)
	case d.Final:
		text = fmt.Sprintf("notification to %s (%s) failed for good after %d attempt(s): %v", d.Channel, d.Event, d.Attempt, d.Err)
	default:
		text = fmt.Sprintf("notification to %s (%s) failed (attempt %d), will retry: %v", d.Channel, d.Event, d.Attempt, d.Err)
	}
	for _, id := range d.IncidentIDs {
		if err := n.svc.Note(context.Background(), id, "notify", "notify", text, map[string]any{"channel": d.Channel,
			"attempt": d.Attempt, "final": d.Final}); err != nil {
			n.log.Warn("delivery not recorded", "incident", id, "err", err)
		}
	}
}

// Close flushes queued notifications.
func (n *notifier) Close(ctx context.Context) {
	if n.d != nil {
		_ = n.d.Close(ctx)
	}
}

func severityName(s int) string {
	switch s {
	case 4:
		return "critical"
	case 3:
		return "high"
	case 2:
		return "medium"
	}
	return "low"
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
