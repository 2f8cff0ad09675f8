package playbook

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Playbook is one version of a playbook: the CACAO 2.0 playbook object plus
// the Riposte extensions (trigger, per-step retry, approval, revert-after,
// loop cap, failure policy). Both ParseCACAO and ParseYAML produce it; CACAO
// and YAML export it. A version is identified by (ID, Modified); the engine
// additionally pins the SHA-256 of the CACAO JCS form.
//
// Maps are keyed by CACAO identifiers (`action--<uuid>`,
// `individual--<uuid>`, `__name__`). Nothing in a Playbook is a secret:
// authentication objects carry references (KMSKeyIdentifier) only.
type Playbook struct {
	ID                 string          // playbook--<uuid>; shared by all versions
	Name               string          // display name
	Description        string          // what the playbook does
	PlaybookTypes      []string        // open vocabulary: mitigation, notification, investigation, …
	PlaybookActivities []string        // open vocabulary: restrict-access, deliver-content, …
	ProcessingSummary  map[string]bool // playbook_processing_summary; nil when absent
	CreatedBy          string          // identity--<uuid> of the author
	Created            time.Time       // first version
	Modified           time.Time       // this version; Modified ≥ Created
	Revoked            bool            // the author withdrew the playbook
	ValidFrom          time.Time       // zero: valid from any time
	ValidUntil         time.Time       // zero: no end
	DerivedFrom        []string        // playbook ids this one derives from
	RelatedTo          []string        // related STIX or CACAO ids
	Priority           int             // 1 (highest) … 100; 0 unspecified
	Severity           int             // 1 (lowest) … 100; 0 unspecified
	Impact             int             // 1 (lowest) … 100; 0 unspecified
	IndustrySectors    []string
	Labels             []string
	ExternalReferences []ExternalReference
	Markings           []string             // ids of DataMarkings (TLP, statements, IEP)
	Variables          map[string]*Variable // playbook_variables, global scope, keyed `__name__`
	WorkflowStart      string               // id of the start step
	WorkflowException  string               // step run when a failure has no on_failure route
	Steps              map[string]*Step     // workflow, keyed by step id
	Extensions         map[string]json.RawMessage
	// AuthInfo holds authentication_info_definitions. Secret values never
	// appear here: see AuthInfo.
	AuthInfo             map[string]*AuthInfo
	Agents               map[string]*AgentTarget // agent_definitions
	Targets              map[string]*AgentTarget // target_definitions
	ExtensionDefinitions map[string]*ExtensionDefinition
	DataMarkings         map[string]*DataMarking
	// Signatures are kept verbatim (compact JSON); verification lives with
	// the JCS code, not here.
	Signatures []json.RawMessage
	// Extra holds unknown top-level properties read in lenient mode, kept
	// verbatim (compact JSON) so export does not lose them.
	Extra map[string]json.RawMessage

	// Trigger says what starts the playbook (Riposte extension; not CACAO).
	Trigger *Trigger

	// Source maps CACAO paths of this playbook to positions in the document
	// it was read from (nil for playbooks built in code). The linter uses it
	// to give YAML line numbers. It is not part of the playbook's identity.
	Source *SourceMap
}

// StepType is the CACAO workflow step type.
type StepType string

// The eight CACAO 2.0 step types.
const (
	StepStart           StepType = "start"
	StepEnd             StepType = "end"
	StepAction          StepType = "action"
	StepPlaybookAction  StepType = "playbook-action"
	StepParallel        StepType = "parallel"
	StepIfCondition     StepType = "if-condition"
	StepWhileCondition  StepType = "while-condition"
	StepSwitchCondition StepType = "switch-condition"
)

// Known reports whether t is one of the eight CACAO 2.0 step types.
func (t StepType) Known() bool {
	switch t {
	case StepStart, StepEnd, StepAction, StepPlaybookAction, StepParallel,
		StepIfCondition, StepWhileCondition, StepSwitchCondition:
		return true
	}
	return false
}

// Step is one workflow step. Which fields apply depends on Type; the
// parsers and the linter enforce it.
//
// Control flow (cacao.md §2, §9; durable-engine.md §10): branch-owning steps
// (parallel, if, while, switch) are structured blocks. Each branch runs until
// it reaches an end step, which returns control to the owning step; the
// owning step then follows its own OnCompletion / OnSuccess / OnFailure.
// A while body may also lead back to its while step (loop back); both forms
// re-evaluate the condition. A failed step follows OnFailure, else the
// playbook's WorkflowException, else the run fails.
type Step struct {
	ID                 string   // the workflow key, `<type>--<uuid>`
	Type               StepType // start, end, action, playbook-action, parallel, if-condition, while-condition, switch-condition
	Name               string   // display name (in YAML: the step's key)
	Description        string
	ExternalReferences []ExternalReference
	Owner              string        // identity--<uuid> responsible for the step
	Delay              time.Duration // wait before the step starts (ms precision)
	// Timeout after which the step counts as failed with ACTION_TIMEOUT
	// (ms precision; 0: the engine default, 10 min automated, 24 h manual).
	// For an approval it is the deadline.
	Timeout      time.Duration
	Variables    map[string]*Variable // step_variables, keyed `__name__`
	OnCompletion string               // next step whatever the outcome; excludes OnSuccess/OnFailure
	OnSuccess    string
	OnFailure    string
	Extensions   map[string]json.RawMessage // step_extensions other than Riposte's

	// action
	Commands []*Command // run in order
	Agent    string     // id in Playbook.Agents that executes the commands
	Targets  []string   // ids in Playbook.Targets
	// InArgs and OutArgs (action and playbook-action) name variables
	// (`__name__`): InArgs are handed to the agent or child playbook, OutArgs
	// receive its outputs.
	InArgs  []string
	OutArgs []string

	// playbook-action
	PlaybookID      string    // child playbook--<uuid>
	PlaybookVersion time.Time // child's Modified; zero: latest known

	// parallel
	NextSteps []string // one entry per branch (≥ 2)

	// if-condition, while-condition
	Condition string // Riposte condition language (package expr), canonical `__x__:value` form
	OnTrue    string // if: then-branch; while: loop body
	OnFalse   string // if: else-branch

	// switch-condition
	Switch string            // the variable switched on (`__x__` or `__x__:value`)
	Cases  map[string]string // case value → branch step; key "default" for no match

	// Extra holds unknown properties read in lenient mode, verbatim.
	Extra map[string]json.RawMessage

	// Riposte extensions (exported in the x-riposte step extension).
	Retry           *RetryPolicy  // retry failed attempts (action, playbook-action)
	Approval        *Approval     // the step's manual command is an approval gate
	RevertAfter     time.Duration // undo the step's containment after this long (0: never)
	MaxIterations   int           // while: loop cap (0: engine default, 1000)
	ContinueOnError bool          // a failure with only OnCompletion still follows OnCompletion
	WaitAll         bool          // parallel: let all branches finish instead of failing fast
}

// Command types Riposte knows. The vocabulary is open: any other string is
// imported and reported by the linter when no connector handles it.
const (
	CmdManual           = "manual"
	CmdBash             = "bash"
	CmdSSH              = "ssh"
	CmdPowerShell       = "powershell"
	CmdHTTPAPI          = "http-api"
	CmdOpenC2HTTP       = "openc2-http"
	CmdOpenC2           = "openc2" // draft OpenC2 extension; exported as openc2-http
	CmdCalderaCmd       = "caldera-cmd"
	CmdElastic          = "elastic"
	CmdJupyter          = "jupyter"
	CmdKestrel          = "kestrel"
	CmdSigma            = "sigma"
	CmdYara             = "yara"
	CmdRiposteConnector = "riposte-connector" // Riposte: connector + operation + args
)

// Command is one CACAO command of an action step. The payload fields that
// apply depend on Type (cacao.md §3). A `riposte-connector` command names a
// Riposte connector operation and passes structured Args: variable
// references in Args are substituted as data (see Substitute), never spliced
// into a shell string.
type Command struct {
	Type               string
	Description        string
	Version            string
	PlaybookActivity   string
	ExternalReferences []ExternalReference

	Command    string              // manual, bash, ssh, powershell, caldera-cmd; http-api/openc2-http start line
	CommandB64 string              // base64 alternative to Command
	Headers    map[string][]string // http-api, openc2-http
	Content    string              // http-api body
	ContentB64 string              // http-api / openc2-http body, base64

	Connector string         // riposte-connector: connector name, e.g. "agent"
	Operation string         // riposte-connector: operation, e.g. "deny_ip"
	Args      map[string]any // riposte-connector: arguments (JSON-compatible values)

	Extra map[string]json.RawMessage // unknown properties, verbatim
}

// Variable is a CACAO variable (cacao.md §5).
type Variable struct {
	Type        string // open vocabulary: string, integer, bool, ipv4-addr, dictionary, …
	Description string
	// Value is nil (unknown), a string (numbers and booleans encoded as
	// strings, as CACAO says), or for dictionaries a map[string]any.
	Value    any
	Constant bool // assignments fail the step
	External bool // the value comes from the caller (trigger or parent); Value is the default
}

// AgentTarget is a CACAO agent-target object, used for both agents (who
// executes) and targets (what is acted on).
type AgentTarget struct {
	Type        string // open vocabulary: individual, group, http-api, ssh, linux, net-address, security-category, …
	Name        string
	Description string
	Location    json.RawMessage  // civic-location object, verbatim
	Contact     json.RawMessage  // contact object (individual, group, organization), verbatim
	Address     map[string][]any // dname, ipv4, ipv6, l2mac, vlan, url → values
	Port        string           // http-api, ssh, linux
	AuthInfo    string           // id in Playbook.AuthInfo
	Category    []string         // security categories
	Logical     []string         // location: logical names
	Sector      string           // sector
	Extensions  map[string]json.RawMessage
	// Connector pins a named Riposte connector instance (x-riposte
	// agent_target extension).
	Connector string
	Extra     map[string]json.RawMessage
}

// AuthInfo is an authentication_info object. Riposte never keeps secret
// values in a playbook: on import inline `password`, `token` and
// `oauth_header` values are handed to a SecretSink and replaced by
// KMS = true and KMSKeyIdentifier = the sink's reference (or dropped with a
// warning when there is no sink); export writes only the reference.
type AuthInfo struct {
	Type             string // http-basic, oauth2, user-auth, or another
	Name             string
	Description      string
	UserID           string // http-basic user_id (not secret)
	Username         string // user-auth username (not secret)
	KMS              bool
	KMSKeyIdentifier string // reference to the secret in Riposte's secret store
	Extensions       map[string]json.RawMessage
	Extra            map[string]json.RawMessage
}

// ExternalReference points at material outside the playbook.
type ExternalReference struct {
	Name        string
	Description string
	Source      string
	URL         string
	ExternalID  string
	ReferenceID string
	Extra       map[string]json.RawMessage
}

// ExtensionDefinition is a CACAO extension-definition object.
type ExtensionDefinition struct {
	Type               string // "extension-definition"
	Name               string
	Description        string
	CreatedBy          string
	Schema             string // URL or text of the extension's JSON schema
	Version            string // semver
	ExternalReferences []ExternalReference
	Extra              map[string]json.RawMessage
}

// DataMarking is a data marking definition (TLP v2, statement, IEP).
type DataMarking struct {
	Type               string // marking-tlp, marking-statement, marking-iep
	ID                 string
	Name               string
	Description        string
	CreatedBy          string
	Created            time.Time
	Revoked            bool
	ValidFrom          time.Time
	ValidUntil         time.Time
	Labels             []string
	ExternalReferences []ExternalReference
	Statement          string // marking-statement
	TLPv2Level         string // marking-tlp: TLP:RED, TLP:AMBER, TLP:AMBER+STRICT, TLP:GREEN, TLP:CLEAR
	Extensions         map[string]json.RawMessage
	Extra              map[string]json.RawMessage // IEP fields and unknown properties, verbatim
}

// RetryPolicy retries a failed attempt of a step (x-riposte extension;
// durable-engine.md §10). The delay before attempt n+1 is
// min(Initial × Multiplier^(n−1), Max), with jitter.
type RetryPolicy struct {
	MaxAttempts int           // total attempts including the first (≥ 1)
	Initial     time.Duration // first backoff
	Max         time.Duration // backoff cap (0: no cap)
	Multiplier  float64       // backoff coefficient (0: 2)
	// RetryOn lists the error classes that are retried (e.g. "transport",
	// "timeout", "rate_limited", "unavailable"); empty: the connector's
	// transient classes.
	RetryOn []string
	// NonRetryable lists error classes never retried, even if in RetryOn.
	NonRetryable []string
	// RetryUnknownOutcome also retries when the outcome of the previous
	// attempt is unknown (only safe for idempotent operations).
	RetryUnknownOutcome bool
}

// Approval makes an action step's manual command an approval gate: the
// engine opens an inquiry (durable-engine.md §8) with the command text as
// question. Approved: the step succeeds (OnSuccess). Denied, or no decision
// before the step Timeout (the deadline): the step fails (OnFailure).
type Approval struct {
	Assignees []string // user names or e-mail addresses who may answer
	Roles     []string // Riposte roles whose members may answer
	Quorum    int      // approvals needed (0: 1)
}

// Trigger says which events start a playbook (Riposte extension). Any set
// member starts a run; several may be set. The trigger hands the alert and
// the incident to the run as the external variables `__alert__` and
// `__incident__` (when declared) and fills other external variables as Bind
// says.
type Trigger struct {
	Alert    *EventMatch // a new alert that matches
	Incident *EventMatch // a new or escalated incident that matches
	Schedule *Schedule   // periodically
	Webhook  *Webhook    // an authenticated HTTP call
	Manual   bool        // a person starts it (UI, CLI, API)
	// Bind maps external variables (`__name__`) to fields of the
	// triggering alert or incident, e.g. "__src_ip__" → "alert.entities.source_ips[0]".
	Bind map[string]string
}

// EventMatch selects alerts or incidents. Every non-empty field must match
// (AND); within a list any element may match (OR).
type EventMatch struct {
	Rules          []string // rule ids
	Tags           []string // rule or incident tags, e.g. attack.t1110
	Tactics        []string // ATT&CK tactics, e.g. credential-access
	Priorities     []string // incident priorities P1..P4
	EntityTypes    []string // entity kinds present: host, user, ip, hash, domain, process
	AssetTags      []string // tags of an involved asset
	MinCriticality int      // lowest asset criticality (1..5; 0: any)
	Condition      string   // optional condition (package expr) over __alert__ / __incident__
}

// Schedule starts a playbook periodically: Cron or Every, not both.
type Schedule struct {
	Cron  string        // cron expression as ParseCron reads it (UTC unless CRON_TZ= says otherwise)
	Every time.Duration // fixed interval
}

// Webhook starts a playbook from an HTTP call to /api/v1/hooks/{Name}.
type Webhook struct {
	Name      string // path segment, unique per Riposte installation
	SecretRef string // reference of the HMAC secret in the secret store (never the secret)
}

// SourceMap maps CACAO paths of a playbook to where they were read.
type SourceMap struct {
	entries map[string]SourcePos
	root    *node // the CACAO document, walked for paths without an entry
}

// SourcePos is a position in the source document, and the path there in
// the source's own terms (the YAML path for YAML playbooks).
type SourcePos struct {
	Path   string
	Line   int
	Column int
}

func (s *SourceMap) set(cacaoPath, srcPath string, n *node) {
	if s == nil {
		return
	}
	if s.entries == nil {
		s.entries = map[string]SourcePos{}
	}
	p := SourcePos{Path: srcPath}
	if n != nil {
		p.Line, p.Column = n.line, n.col
	}
	s.entries[cacaoPath] = p
}

// Lookup returns the source position of a CACAO path, or of its nearest
// enclosing path that has one, with the remainder of the path appended.
func (s *SourceMap) Lookup(cacaoPath string) (SourcePos, bool) {
	if s == nil {
		return SourcePos{}, false
	}
	if s.root != nil {
		if n := nodeAt(s.root, cacaoPath); n != nil {
			return SourcePos{Path: cacaoPath, Line: n.line, Column: n.col}, true
		}
	}
	p := cacaoPath
	for {
		if e, ok := s.entries[p]; ok {
			if rest := cacaoPath[len(p):]; rest != "" {
				e.Path += rest
			}
			return e, true
		}
		q := parentPath(p)
		if q == p {
			return SourcePos{}, false
		}
		p = q
	}
}

// parentPath drops the last `.key`, `["key"]` or `[n]` segment.
func parentPath(p string) string {
	if p == "$" || p == "" {
		return p
	}
	if p[len(p)-1] == ']' {
		// find the matching '[' (keys are quoted with strconv.Quote, so a
		// ']' inside quotes is preceded by an unescaped quote)
		inQuote := false
		for i := len(p) - 2; i >= 0; i-- {
			switch p[i] {
			case '"':
				if i == 0 || p[i-1] != '\\' {
					inQuote = !inQuote
				}
			case '[':
				if !inQuote {
					return p[:i]
				}
			}
		}
		return "$"
	}
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '.' {
			return p[:i]
		}
		if p[i] == ']' {
			return p[:i+1]
		}
	}
	return "$"
}

// nodeAt walks a JSON path (as built by joinPath and indexPath) down a
// node tree; nil when the path does not exist.
func nodeAt(n *node, path string) *node {
	if !strings.HasPrefix(path, "$") {
		return nil
	}
	rest := path[1:]
	for rest != "" && n != nil {
		switch rest[0] {
		case '.':
			i := 1
			for i < len(rest) && rest[i] != '.' && rest[i] != '[' {
				i++
			}
			n = n.get(rest[1:i])
			rest = rest[i:]
		case '[':
			if len(rest) > 1 && rest[1] == '"' {
				// ["key"]: find the closing quote, honouring escapes.
				i := 2
				for i < len(rest) && rest[i] != '"' {
					if rest[i] == '\\' {
						i++
					}
					i++
				}
				if i+1 >= len(rest) || rest[i+1] != ']' {
					return nil
				}
				key, err := strconv.Unquote(rest[1 : i+1])
				if err != nil {
					return nil
				}
				n = n.get(key)
				rest = rest[i+2:]
				continue
			}
			j := strings.IndexByte(rest, ']')
			if j < 0 {
				return nil
			}
			idx, err := strconv.Atoi(rest[1:j])
			if err != nil || n.kind != kArray || idx < 0 || idx >= len(n.kids) {
				return nil
			}
			n = n.kids[idx]
			rest = rest[j+1:]
		default:
			return nil
		}
	}
	return n
}
