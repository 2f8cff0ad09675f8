package servicenow

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the servicenow connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the servicenow connector's configuration. URL, User and
// Password are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// User and Password authenticate with HTTP basic auth; Password is
	// secret://NAME only.
	User     string `yaml:"user" json:"user"`
	Password string `yaml:"password" json:"password"`
	// AssignmentGroup, Category and CallerID are set on the incidents
	// opened when not empty (a group's name or sys_id, a category value,
	// a caller's user name or sys_id).
	AssignmentGroup string `yaml:"assignment_group" json:"assignment_group,omitempty"`
	Category        string `yaml:"category" json:"category,omitempty"`
	CallerID        string `yaml:"caller_id" json:"caller_id,omitempty"`
	// States maps a Riposte incident status to the incident state an
	// update sets; nil means triaged, contained and eradicated → 2 (In
	// Progress), recovered and closed → the resolve state.
	States map[string]string `yaml:"states" json:"states,omitempty"`
	// ResolveState is the state close sets; "" means 6 (Resolved).
	ResolveState string `yaml:"resolve_state" json:"resolve_state,omitempty"`
	// CloseCode and CloseNotes go with the resolve state (the base
	// system's business rules require both); "" mean "Solution provided"
	// and a line naming the Riposte incident.
	CloseCode  string `yaml:"close_code" json:"close_code,omitempty"`
	CloseNotes string `yaml:"close_notes" json:"close_notes,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.Password); ok {
		out["connectors.servicenow.password"] = n
	}
	return out
}
