package main

import (
	"context"
	"errors"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/notify"
)

// offline stands in for the server's incident and notification services
// in commands that run without a server: connectors built on it declare
// their operations and simulate, and refuse to act.
type offline struct{}

var errOffline = errors.New("no server: this command only validates and simulates")

func (offline) Update(context.Context, string, alarm.Change, string) (*alarm.Incident, error) {
	return nil, errOffline
}

func (offline) Notify(notify.Message) {}
