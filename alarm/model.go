package alarm

import (
	"fmt"
	"strings"
	"time"
)

// Status is an incident's place in the NIST SP 800-61 life cycle.
type Status string

const (
	StatusNew        Status = "new"
	StatusTriaged    Status = "triaged"
	StatusContained  Status = "contained"
	StatusEradicated Status = "eradicated"
	StatusRecovered  Status = "recovered"
	StatusClosed     Status = "closed"
)

// Statuses in life-cycle order.
var Statuses = []Status{StatusNew, StatusTriaged, StatusContained, StatusEradicated, StatusRecovered, StatusClosed}

// ParseStatus checks a status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == strings.ToLower(s) {
			return st, nil
		}
	}
	return "", fmt.Errorf("unknown status %q (want new, triaged, contained, eradicated, recovered or closed)", s)
}

func (s Status) rank() int {
	for i, st := range Statuses {
		if st == s {
			return i
		}
	}
	return -1
}

// Verdict is the analyst's conclusion.
type Verdict string

const (
	VerdictNone          Verdict = ""
	VerdictTruePositive  Verdict = "true_positive"
	VerdictFalsePositive Verdict = "false_positive"
	VerdictBenign        Verdict = "benign"
)

// ParseVerdict checks a verdict name.
func ParseVerdict(s string) (Verdict, error) {
	switch v := Verdict(strings.ToLower(s)); v {
	case VerdictTruePositive, VerdictFalsePositive, VerdictBenign:
		return v, nil
	}
	return "", fmt.Errorf("unknown verdict %q (want true_positive, false_positive or benign)", s)
}

// Incident is a case: the alerts of one intrusion and what people did.
type Incident struct {
	ID          string     `json:"id"`
	Title       string     `json:"title"`
	Status      Status     `json:"status"`
	Priority    string     `json:"priority"` // P1..P4
	Severity    int        `json:"severity"` // 1..4
	Urgency     int        `json:"urgency"`  // 1..3
	Criticality int        `json:"criticality"`
	Assignee    string     `json:"assignee,omitempty"`
	Verdict     Verdict    `json:"verdict,omitempty"`
	Tags        []string   `json:"tags"`
	Entities    []Entity   `json:"entities"`
	AlertCount  int        `json:"alert_count"` // distinct alerts
	HitCount    int64      `json:"hit_count"`   // alerts including repeats
	Rules       []string   `json:"rules"`
	Tactics     []string   `json:"tactics,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	FirstEvent  time.Time  `json:"first_event_at"`
	FirstAlert  time.Time  `json:"first_alert_at"`
	AckedAt     *time.Time `json:"acknowledged_at,omitempty"`
	ContainedAt *time.Time `json:"contained_at,omitempty"`
	ResolvedAt  *time.Time `json:"resolved_at,omitempty"`
	ClosedAt    *time.Time `json:"closed_at,omitempty"`
	MergedInto  string     `json:"merged_into,omitempty"`
	// Follows is the earlier incident about the same entities that was
	// contained (or further) when a new attacker's alert started this one;
	// FollowedBy lists the incidents that follow this one.
	Follows    string   `json:"follows,omitempty"`
	FollowedBy []string `json:"followed_by,omitempty"`
	// Escalation counts SLA breaches escalated so far.
	Escalation int `json:"escalation"`
	// SLA deadlines for this incident's priority.
	AckDue     time.Time `json:"ack_due"`
	ContainDue time.Time `json:"contain_due"`
	ResolveDue time.Time `json:"resolve_due"`
	// Breaches names the SLA clocks that ran out ("ack", "contain", "resolve").
	Breaches []string `json:"breaches,omitempty"`
	// Override is a person's rating, which detection keeps until it is
	// cleared.
	Override *Override `json:"override,omitempty"`
	// Rev counts writes of this incident: a write never replaces a newer
	// one, whatever order batches and people's changes reach the database.
	Rev int64 `json:"rev"`
}

// Override is a person's priority or severity for an incident. New alerts
// still join it and raise the figures detection computes, but the rating
// stays the person's until they clear it: someone who knows the host is a
// test box must not be overruled by the next alert.
type Override struct {
	Priority string    `json:"priority,omitempty"` // P1..P4; empty: from the matrix
	Severity int       `json:"severity,omitempty"` // 1..4; 0: from the alerts
	By       string    `json:"by"`
	At       time.Time `json:"at"`
	Reason   string    `json:"reason"`
}

// applyOverride puts a person's rating over the computed one: their
// severity, then the priority the matrix gives for it, or theirs.
func applyOverride(inc *Incident, p Policy) {
	o := inc.Override
	if o == nil {
		return
	}
	if o.Severity > 0 {
		inc.Severity = o.Severity
		inc.Priority = p.Priority(inc.Severity, inc.Urgency, inc.Criticality)
	}
	if o.Priority != "" {
		inc.Priority = o.Priority
	}
}

// Open reports whether the incident still takes new alerts.
func (i *Incident) Open() bool { return i.Status != StatusClosed && i.MergedInto == "" }

// Entity is something an incident is about.
type Entity struct {
	Kind  string `json:"kind"` // host, user, ip, hash, domain, process
	Value string `json:"value"`
}

func (e Entity) key() string { return e.Kind + ":" + strings.ToLower(e.Value) }

// Alert is a deduplicated alert: repeats within the dedup window update it.
type Alert struct {
	ID             string    `json:"id"`
	Fingerprint    string    `json:"fingerprint"`
	IncidentID     string    `json:"incident_id,omitempty"`
	Kind           string    `json:"kind"`
	RuleID         string    `json:"rule_id"`
	RuleTitle      string    `json:"rule_title"`
	Level          string    `json:"level"`
	Severity       int       `json:"severity"`
	Tags           []string  `json:"tags,omitempty"`
	Entities       []Entity  `json:"entities"`
	Count          int64     `json:"count"`
	FirstSeen      time.Time `json:"first_seen"`
	LastSeen       time.Time `json:"last_seen"`
	FirstEventTime time.Time `json:"first_event_time"`
	EventIDs       []string  `json:"event_ids"`
	// SuppressedBy names the silence or inhibiting alert that holds this
	// alert; held alerts are stored and counted but join no incident.
	SuppressedBy string `json:"suppressed_by,omitempty"`
	Confidence   int    `json:"confidence,omitempty"`
	// AfterContainment: the alert was seen while its incident was
	// contained or later, and the timeline says so (once per alert).
	AfterContainment bool `json:"after_containment,omitempty"`
}

// TimelineEntry is one line of an incident's history.
type TimelineEntry struct {
	Seq        int64          `json:"seq"`
	IncidentID string         `json:"incident_id"`
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	Kind       string         `json:"kind"` // alert, status, assign, comment, verdict, tag, merge, split, link, sla, notify, action, approval
	Text       string         `json:"text"`
	Detail     map[string]any `json:"detail,omitempty"`
}
