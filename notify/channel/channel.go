// Package channel holds what every notification channel shares: the Message
// it sends, the Channel interface, the error classes that tell the
// dispatcher whether a failed send is worth retrying, the templates with
// their escaped data, and the HTTP delivery used by the webhook, Slack and
// Teams channels.
//
// Package notify re-exports these types; most code should use those names.
package channel

import (
	"context"
	"time"
)

// Events a Message can be about.
const (
	EventNew           = "new"
	EventEscalated     = "escalated"
	EventNeedsApproval = "needs_approval"
	EventContained     = "contained"
	EventResolved      = "resolved"
	EventSLABreach     = "sla_breach"
	// EventSummary is produced by the dispatcher only: it stands for
	// messages collapsed because a channel's queue overflowed.
	EventSummary = "summary"
)

// Events lists the events callers may send, in the order of an incident's
// life.
var Events = []string{EventNew, EventEscalated, EventNeedsApproval, EventContained, EventResolved, EventSLABreach}

// KnownEvent reports whether e is one of Events.
func KnownEvent(e string) bool {
	for _, k := range Events {
		if e == k {
			return true
		}
	}
	return false
}

// Incident is what a notification says about an incident. Every string in
// it may come from event data (a host name, a user name, a rule title built
// from fields) and is treated as untrusted by every channel.
type Incident struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Priority string `json:"priority"` // P1 (most urgent) .. P4
	Severity string `json:"severity,omitempty"`
	Status   string `json:"status,omitempty"` // new, triaged, contained, eradicated, recovered, closed
	Assignee string `json:"assignee,omitempty"`
	// Owners are the owners of the assets involved.
	Owners     []string `json:"owners,omitempty"`
	Tags       []string `json:"tags,omitempty"`
	Hosts      []string `json:"hosts,omitempty"`
	Users      []string `json:"users,omitempty"`
	AlertCount int      `json:"alert_count"`
	URL        string   `json:"url,omitempty"` // link to the incident in the UI
	Summary    string   `json:"summary,omitempty"`
}

// Message is one notification about an incident.
type Message struct {
	Event    string    `json:"event"`
	Time     time.Time `json:"time"`
	Incident Incident  `json:"incident"`
	// Text is an optional extra line: which SLA breached, what approval is
	// asked.
	Text string `json:"text,omitempty"`
	// Collapsed is set on EventSummary messages only.
	Collapsed *Collapsed `json:"collapsed,omitempty"`
}

// Collapsed describes messages the dispatcher folded into one summary
// because a channel's queue overflowed.
type Collapsed struct {
	Messages  int `json:"messages"`
	Incidents int `json:"incidents"`
	// IDs are the first incident IDs collapsed (at most MaxCollapsedIDs).
	IDs        []string       `json:"ids,omitempty"`
	ByPriority map[string]int `json:"by_priority,omitempty"`
}

// MaxCollapsedIDs bounds Collapsed.IDs.
const MaxCollapsedIDs = 100

// Channel sends notifications somewhere. msgs holds one message, or
// several (a digest) when the dispatcher groups them. Send must honour ctx,
// must not retry by itself (the dispatcher does), and must return errors
// that carry no secret; wrap them with Permanent when retrying cannot help.
type Channel interface {
	Name() string
	Send(ctx context.Context, msgs []Message) error
}

// PriorityRank orders priorities: P1 is 1, P4 is 4, anything else 5.
func PriorityRank(p string) int {
	if len(p) == 2 && (p[0] == 'P' || p[0] == 'p') && p[1] >= '1' && p[1] <= '4' {
		return int(p[1] - '0')
	}
	return 5
}
