package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/notify"
	"github.com/riposte-soar/riposte/openc2"
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

func (offline) ByHost(string) (fleet.Agent, bool) { return fleet.Agent{}, false }

func (offline) Send(context.Context, string, string, json.RawMessage, fleet.Requester) (protocol.Result, *openc2.Response, error) {
	return protocol.Result{}, nil, errOffline
}

func (offline) Await(context.Context, decision.Decision, bool) []fleet.Outcome { return nil }

func (offline) Add(context.Context, decision.Decision, time.Duration, time.Time) (decision.Decision, error) {
	return decision.Decision{}, errOffline
}

func (offline) Revert(context.Context, string, string, string, time.Time) (decision.Decision, error) {
	return decision.Decision{}, errOffline
}

// List answers "nothing is decided": a dry run of an unblock lifts nothing.
func (offline) List(context.Context, bool, time.Time) ([]decision.Decision, error) { return nil, nil }
