package playbook

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"regexp"
	"strings"
)

// Identifier patterns (cacao.md §1). The schema accepts UUID versions 1–5.
var (
	reIdentifier = regexp.MustCompile(`^[a-z][a-z0-9-]+[a-z0-9]--[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-5][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}$`)
	reVarName    = regexp.MustCompile(`^__[a-zA-Z_][a-zA-Z0-9_-]{0,199}__$`)
)

// IsIdentifier reports whether s is a CACAO identifier `<type>--<uuid>`.
func IsIdentifier(s string) bool { return reIdentifier.MatchString(s) }

// IsVariableName reports whether s is a CACAO variable name `__name__`.
func IsVariableName(s string) bool { return reVarName.MatchString(s) }

// idPrefix returns the `<type>` part of `<type>--<uuid>`, or "" when s has
// no `--`.
func idPrefix(s string) string {
	i := strings.LastIndex(s, "--")
	if i <= 0 {
		return ""
	}
	return s[:i]
}

// NewID returns a fresh CACAO identifier with a random v4 UUID.
func NewID(typ string) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return typ + "--" + formatUUIDv4(b)
}

// derivedID returns a stable identifier for an object of a Riposte YAML
// playbook: a v4-format UUID (CACAO requires v4 for steps) whose random
// bits are taken from SHA-256(playbook id ‖ kind ‖ key). The same YAML file
// therefore always exports the same CACAO ids.
func derivedID(typ, playbookID, kind, key string) string {
	h := sha256.Sum256([]byte("riposte-yaml-id\x00" + playbookID + "\x00" + kind + "\x00" + key))
	var b [16]byte
	copy(b[:], h[:16])
	return typ + "--" + formatUUIDv4(b)
}

func formatUUIDv4(b [16]byte) string {
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Riposte's fixed CACAO objects.
const (
	// RiposteExtensionID is the extension definition that carries Riposte's
	// additions (trigger, retry, approval, revert-after, loop cap, failure
	// policy, connector pin) through CACAO export and import.
	RiposteExtensionID = "extension-definition--6c4a1b2e-8f3d-4e57-9a0b-2d7e5f1c3a94"
	// RiposteExtensionName is the extension definition's name.
	RiposteExtensionName = "x-riposte"
	// RiposteExtensionVersion is the semver of the extension's schema.
	RiposteExtensionVersion = "1.0.0"
	// RiposteExtensionSchemaURL is where the extension's JSON schema is
	// published (the file x-riposte.schema.json in this package).
	RiposteExtensionSchemaURL = "https://github.com/riposte-soar/riposte/blob/main/playbook/x-riposte.schema.json"
	// RiposteIdentity is the STIX identity used as created_by when a YAML
	// playbook names no author.
	RiposteIdentity = "identity--0f3e8c2a-5b71-4d9e-8a63-c4b2d1e7f905"
	// RiposteAgentID is the agent that runs riposte-connector commands: the
	// Riposte orchestrator itself.
	RiposteAgentID = "security-category--3a9d5e71-c2f4-4b08-9e6a-71d0c5b8f2e3"
	// ApproversAgentID is the group that answers manual commands and
	// approvals when a step names no agent; Approval narrows it down.
	ApproversAgentID = "group--8e2b7c14-d9a3-4f65-b1c0-5a4e3f92d7b6"
)

// defaultAgents are the agents a YAML step uses when it names none.
func defaultAgent(id string) *AgentTarget {
	switch id {
	case RiposteAgentID:
		return &AgentTarget{Type: "security-category", Name: "Riposte", Description: "The Riposte orchestrator; runs riposte-connector commands.", Category: []string{"orchestrator"}}
	case ApproversAgentID:
		return &AgentTarget{Type: "group", Name: "Riposte responders", Description: "People who answer manual steps and approvals; the step's approval policy names who may answer."}
	}
	return nil
}

// TLP v2 marking definitions published by the CACAO TC
// (oasis-tcs/cacao:Common-Objects/Data-Markings), used on export.
var tlpMarkings = map[string]string{
	"TLP:RED":          "marking-tlp--e828b379-4e03-4974-9ac4-e53a884c97c1",
	"TLP:AMBER+STRICT": "marking-tlp--939a9414-2ddd-4d32-a0cd-375ea402b003",
	"TLP:AMBER":        "marking-tlp--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	"TLP:GREEN":        "marking-tlp--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	"TLP:CLEAR":        "marking-tlp--94868c89-83c2-464b-929b-a1a8aa3c8487",
}

// cacaoTCIdentity created the canonical TLP objects.
const cacaoTCIdentity = "identity--5abe695c-7bd5-4c31-8824-2528696cdbf1"
