package jira

import (
	_ "embed"

	"github.com/riposte-soar/riposte/connector/internal/apiclient"
)

// SampleConfig is the part of riposte.yaml the jira connector reads.
//
//go:embed sample.conf
var SampleConfig string

// Config is the jira connector's configuration. URL, APIToken and Project
// are required.
type Config struct {
	apiclient.Options `yaml:",inline"`
	// Email and APIToken authenticate: with Email, HTTP basic
	// email:token (Jira Cloud API tokens); without, a bearer token (a
	// personal access token of Jira Data Center). APIToken is
	// secret://NAME only.
	Email    string `yaml:"email" json:"email,omitempty"`
	APIToken string `yaml:"api_token" json:"api_token"`
	// Project is the key of the project issues are opened in.
	Project string `yaml:"project" json:"project"`
	// IssueType is the issue type's name; "" means Task.
	IssueType string `yaml:"issue_type" json:"issue_type,omitempty"`
	// Priorities maps P1..P4 to Jira priority names; missing ones are not
	// sent (the project's default). nil means Highest, High, Medium, Low.
	Priorities map[string]string `yaml:"priorities" json:"priorities,omitempty"`
	// Transitions maps a Riposte incident status to the name of the
	// transition an update takes; nil means recovered and closed → Done.
	Transitions map[string]string `yaml:"transitions" json:"transitions,omitempty"`
	// CloseTransition is the transition close takes; "" means Done.
	CloseTransition string `yaml:"close_transition" json:"close_transition,omitempty"`
}

// References lists the secret:// names the config uses, by key.
func (c Config) References() map[string]string {
	out := map[string]string{}
	if n, ok := apiclient.Reference(c.APIToken); ok {
		out["connectors.jira.api_token"] = n
	}
	return out
}
