package protocol

// Subjects names the NATS subjects of one agent.
type Subjects struct {
	Command string // riposte.agent.<id>.cmd: the agent subscribes only
	Result  string // riposte.agent.<id>.result: the agent publishes only
	// Heartbeat is riposte.agent.<id>.hb: the agent publishes only.
	Heartbeat string
}

// SubjectFor returns agentID's subjects. The id must be a single subject
// token of [A-Za-z0-9_-] (no '.', '*', '>' or spaces), else ErrMalformed:
// a wildcard in an id would widen the agent's permissions.
func SubjectFor(agentID string) (Subjects, error) {
	if err := checkID("agent id", agentID); err != nil {
		return Subjects{}, err
	}
	p := "riposte.agent." + agentID
	return Subjects{Command: p + ".cmd", Result: p + ".result", Heartbeat: p + ".hb"}, nil
}

// SubjectPermission is an allow/deny list, shaped like nats-server's
// "permissions" configuration block.
type SubjectPermission struct {
	Allow []string `json:"allow,omitempty"`
	Deny  []string `json:"deny,omitempty"`
}

// Permissions is one NATS user's publish and subscribe permissions.
type Permissions struct {
	Publish   SubjectPermission `json:"publish"`
	Subscribe SubjectPermission `json:"subscribe"`
}

// NATSPermissions returns the permissions for agentID's NATS user: publish
// only to its result and heartbeat subjects, subscribe only to its command
// subject.
// Everything else is denied by the allow lists being exhaustive.
func NATSPermissions(agentID string) (Permissions, error) {
	s, err := SubjectFor(agentID)
	if err != nil {
		return Permissions{}, err
	}
	return Permissions{
		Publish:   SubjectPermission{Allow: []string{s.Result, s.Heartbeat}},
		Subscribe: SubjectPermission{Allow: []string{s.Command}},
	}, nil
}
