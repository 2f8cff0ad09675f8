package server

import (
	"log/slog"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/config"
)

// logNotifier records incident events in the log when no channel is
// configured, so a new installation still shows what it would send.
type logNotifier struct{ log *slog.Logger }

func (n logNotifier) Notify(ev string, inc *alarm.Incident, text string) {
	n.log.Info("incident "+ev, "incident", inc.ID, "priority", inc.Priority, "title", inc.Title, "text", text)
}

func newNotifier(cfg config.Config, log *slog.Logger) (alarm.Notifier, error) {
	return logNotifier{log: log}, nil
}
