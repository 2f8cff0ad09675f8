package engine

import (
	"encoding/json"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/connector"
)

// Run statuses.
const (
	StatusRunning   = "running"
	StatusWaiting   = "waiting" // only inquiries, timers or child runs outstanding
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// Terminal reports whether a run status is final.
func Terminal(status string) bool {
	return status == StatusSucceeded || status == StatusFailed || status == StatusCancelled
}

// Journal event types (durable-engine.md §2).
const (
	EvRunStarted        = "RunStarted"
	EvStepEntered       = "StepEntered"
	EvStepStarted       = "StepStarted" // after its delay
	EvTaskScheduled     = "TaskScheduled"
	EvTaskCancelled     = "TaskCancelled"
	EvCommandResult     = "CommandResult"
	EvCommandLate       = "CommandLate"
	EvVarsAssigned      = "VarsAssigned"
	EvStepSucceeded     = "StepSucceeded"
	EvStepFailed        = "StepFailed"
	EvStepCancelled     = "StepCancelled"
	EvBranchForked      = "BranchForked"
	EvBranchJoined      = "BranchJoined"
	EvIterationStarted  = "IterationStarted"
	EvTimerSet          = "TimerSet"
	EvTimerFired        = "TimerFired"
	EvTimerCancelled    = "TimerCancelled"
	EvInquiryOpened     = "InquiryOpened"
	EvInquiryVote       = "InquiryVote"
	EvInquiryAnswered   = "InquiryAnswered"
	EvInquiryExpired    = "InquiryExpired"
	EvInquiryCancelled  = "InquiryCancelled"
	EvChildRunStarted   = "ChildRunStarted"
	EvChildRunCompleted = "ChildRunCompleted"
	EvExceptionEntered  = "ExceptionEntered"
	EvRunCancelled      = "RunCancelled"
	EvRunCompleted      = "RunCompleted"
)

// Timer kinds.
const (
	TimerDelay            = "delay"
	TimerTimeout          = "timeout"
	TimerApprovalDeadline = "approval_deadline"
	TimerRetry            = "retry"
)

// Failure reasons.
const (
	ReasonError         = "error"
	ReasonTimeout       = "ACTION_TIMEOUT"
	ReasonBranchFailed  = "branch_failed"
	ReasonCancelled     = "cancelled"
	ReasonDenied        = "denied"
	ReasonUnknownDenied = "unknown_outcome_denied"
	ReasonLoopCap       = "loop_cap"
)

// Event is one journal entry. One flat struct with optional fields keeps
// the fold a plain switch; every field a transition needs is in the event,
// so Fold never consults the playbook or the clock.
type Event struct {
	Seq  int64     `json:"seq"`
	Type string    `json:"type"`
	At   time.Time `json:"at"`

	Inst   string `json:"inst,omitempty"`   // step instance path
	Step   string `json:"step,omitempty"`   // step id
	SType  string `json:"stype,omitempty"`  // step type
	Parent string `json:"parent,omitempty"` // owning block instance ("" = top level)
	Prefix string `json:"prefix,omitempty"` // frame prefix of the instance's siblings

	Attempt int    `json:"attempt,omitempty"`
	Cmd     int    `json:"cmd,omitempty"`
	N       int    `json:"n,omitempty"`
	TaskID  string `json:"task,omitempty"`
	TimerID string `json:"timer,omitempty"`
	Kind    string `json:"kind,omitempty"`
	Due     int64  `json:"due,omitempty"` // unix ns

	IdemKey string         `json:"idem_key,omitempty"`
	Call    *CallSpec      `json:"call,omitempty"`
	Vars    map[string]any `json:"vars,omitempty"`
	Scope   string         `json:"scope,omitempty"` // VarsAssigned into an instance ("" = run)

	Outcome string            `json:"outcome,omitempty"` // ok | error | unknown
	Class   string            `json:"class,omitempty"`
	Reason  string            `json:"reason,omitempty"`
	Msg     string            `json:"msg,omitempty"`
	Result  *connector.Result `json:"result,omitempty"`

	Inquiry *InquiryInfo `json:"inquiry,omitempty"`
	Approve bool         `json:"approve,omitempty"`
	Actor   string       `json:"actor,omitempty"`
	Comment string       `json:"comment,omitempty"`

	Child      string `json:"child,omitempty"`
	Status     string `json:"status,omitempty"`
	PlaybookID string `json:"playbook,omitempty"`
	Version    int    `json:"version,omitempty"`
	ParentRun  string `json:"parent_run,omitempty"`
	DedupKey   string `json:"dedup,omitempty"`
}

// CallSpec is a connector call as scheduled (after substitution).
type CallSpec struct {
	Connector string         `json:"connector"`
	Operation string         `json:"operation"`
	Args      map[string]any `json:"args,omitempty"`
	Text      string         `json:"text,omitempty"` // human form for traces
	// Incident is the incident the run responds to (from its __incident__
	// variable), passed to connectors as their default target.
	Incident string `json:"incident,omitempty"`
}

// InquiryInfo describes an inquiry (an approval or an "unknown outcome"
// question) as opened.
type InquiryInfo struct {
	ID        string   `json:"id"`
	Kind      string   `json:"kind"` // approval | unknown_outcome | manual
	Question  string   `json:"question"`
	Form      []string `json:"form,omitempty"` // out_args the answer may fill (not yet used)
	Assignees []string `json:"assignees,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	Quorum    int      `json:"quorum,omitempty"`
	Deadline  int64    `json:"deadline"` // unix ns
}

type connectorResult = connector.Result

// Inst is an active step instance in the snapshot.
type Inst struct {
	Path    string         `json:"path"`
	Step    string         `json:"step"`
	Type    string         `json:"type"`
	Parent  string         `json:"parent,omitempty"`
	Prefix  string         `json:"prefix"`
	State   string         `json:"state"` // delayed | running | waiting | block | retry
	Attempt int            `json:"attempt,omitempty"`
	Cmd     int            `json:"cmd,omitempty"`
	Task    string         `json:"task,omitempty"`
	Timers  []string       `json:"timers,omitempty"`
	Inquiry string         `json:"inquiry,omitempty"`
	Child   string         `json:"child,omitempty"`
	Vars    map[string]any `json:"vars,omitempty"`
	// blocks
	Branches int  `json:"branches,omitempty"`
	Joined   int  `json:"joined,omitempty"`
	Failed   bool `json:"failed,omitempty"` // a branch failed (wait_all)
	Iter     int  `json:"iter,omitempty"`
}

// OpenInquiry is an inquiry the run waits on.
type OpenInquiry struct {
	InquiryInfo
	Inst  string   `json:"inst"`
	Votes []string `json:"votes,omitempty"`
}

// Snapshot is the state of a run: by construction the fold of its journal.
type Snapshot struct {
	RunID      string                  `json:"run_id"`
	PlaybookID string                  `json:"playbook_id"`
	Version    int                     `json:"version"`
	ParentRun  string                  `json:"parent_run,omitempty"`
	ParentInst string                  `json:"parent_inst,omitempty"`
	DedupKey   string                  `json:"dedup_key,omitempty"`
	Status     string                  `json:"status"`
	Seq        int64                   `json:"seq"`
	Vars       map[string]any          `json:"vars"`
	Insts      map[string]*Inst        `json:"insts"`
	Visits     map[string]int          `json:"visits,omitempty"`
	Inquiries  map[string]*OpenInquiry `json:"inquiries,omitempty"`
	Exception  bool                    `json:"exception,omitempty"`
	Error      string                  `json:"error,omitempty"`
	StepsDone  int                     `json:"steps_done"`
	Created    time.Time               `json:"created"`
	Updated    time.Time               `json:"updated"`
}

// Fold rebuilds a snapshot from a run's journal.
func Fold(entries []Event) *Snapshot {
	s := &Snapshot{}
	for i := range entries {
		apply(s, &entries[i])
	}
	return s
}

// apply folds one event into s. It must stay pure: no clock, no playbook.
func apply(s *Snapshot, e *Event) {
	s.Seq = e.Seq
	s.Updated = e.At
	if s.Inquiries == nil {
		s.Inquiries = map[string]*OpenInquiry{}
	}
	if s.Visits == nil {
		s.Visits = map[string]int{}
	}
	if s.Insts == nil {
		s.Insts = map[string]*Inst{}
	}
	if s.Vars == nil {
		s.Vars = map[string]any{}
	}
	in := s.Insts[e.Inst]
	switch e.Type {
	case EvRunStarted:
		*s = Snapshot{RunID: e.Inst, PlaybookID: e.PlaybookID, Version: e.Version, ParentRun: e.ParentRun,
			ParentInst: e.Parent, DedupKey: e.DedupKey, Status: StatusRunning, Seq: e.Seq,
			Vars: map[string]any{}, Insts: map[string]*Inst{}, Created: e.At, Updated: e.At}
		for k, v := range e.Vars {
			s.Vars[k] = v
		}
		s.Inquiries = map[string]*OpenInquiry{}
		s.Visits = map[string]int{}
	case EvStepEntered:
		st := "running"
		if e.Due != 0 {
			st = "delayed"
		}
		s.Insts[e.Inst] = &Inst{Path: e.Inst, Step: e.Step, Type: e.SType, Parent: e.Parent, Prefix: e.Prefix, State: st, Vars: copyVars(e.Vars)}
		s.Visits[e.Prefix+"/"+e.Step]++
	case EvStepStarted:
		if in != nil {
			in.State = "running"
		}
	case EvTaskScheduled:
		if in != nil {
			in.State, in.Task, in.Attempt, in.Cmd = "running", e.TaskID, e.Attempt, e.Cmd
		}
	case EvTaskCancelled:
		if in != nil && in.Task == e.TaskID {
			in.Task = ""
		}
	case EvCommandResult:
		if in != nil && in.Task == e.TaskID {
			in.Task = ""
		}
	case EvVarsAssigned:
		if e.Scope != "" {
			if in != nil {
				if in.Vars == nil {
					in.Vars = map[string]any{}
				}
				for k, v := range e.Vars {
					in.Vars[k] = v
				}
			}
		} else {
			for k, v := range e.Vars {
				s.Vars[k] = v
			}
		}
	case EvStepSucceeded, EvStepFailed, EvStepCancelled:
		delete(s.Insts, e.Inst)
		s.StepsDone++
	case EvBranchForked:
		if in != nil {
			in.State, in.Branches, in.Joined = "block", e.N, 0
		}
	case EvBranchJoined:
		if in != nil {
			in.Joined++
			if e.Outcome == "error" {
				in.Failed = true
			}
		}
	case EvIterationStarted:
		if in != nil {
			in.State, in.Iter = "block", e.N
		}
	case EvTimerSet:
		if in != nil {
			in.Timers = append(in.Timers, e.TimerID)
			if e.Kind == TimerRetry {
				in.State, in.Attempt = "retry", e.Attempt
			}
		}
	case EvTimerFired, EvTimerCancelled:
		if in != nil {
			in.Timers = without(in.Timers, e.TimerID)
		}
	case EvInquiryOpened:
		if in != nil {
			in.State, in.Inquiry = "waiting", e.Inquiry.ID
		}
		s.Inquiries[e.Inquiry.ID] = &OpenInquiry{InquiryInfo: *e.Inquiry, Inst: e.Inst}
	case EvInquiryVote:
		if q := s.Inquiries[e.Kind]; q != nil {
			q.Votes = append(q.Votes, e.Actor)
		}
	case EvInquiryAnswered, EvInquiryExpired, EvInquiryCancelled:
		delete(s.Inquiries, e.Kind)
		if in != nil && in.Inquiry == e.Kind {
			in.Inquiry = ""
			in.State = "running"
		}
	case EvChildRunStarted:
		if in != nil {
			in.State, in.Child = "waiting", e.Child
		}
	case EvChildRunCompleted:
		if in != nil {
			in.Child = ""
		}
	case EvExceptionEntered:
		s.Exception = true
		s.Error = e.Msg
	case EvRunCancelled:
		s.Status = StatusCancelled
		s.Error = e.Msg
	case EvRunCompleted:
		s.Status = e.Status
		if e.Msg != "" {
			s.Error = e.Msg
		}
	}
	if !Terminal(s.Status) && s.Status != "" {
		s.Status = StatusWaiting
		for _, i := range s.Insts {
			if i.State == "running" && (i.Task != "" || i.Type != "action") {
				s.Status = StatusRunning
				break
			}
		}
	}
}

func copyVars(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func without(l []string, x string) []string {
	out := l[:0:0]
	for _, v := range l {
		if v != x {
			out = append(out, v)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// descendants lists active instances inside block b (sorted for
// determinism).
func (s *Snapshot) descendants(b string) []*Inst {
	var out []*Inst
	for p, i := range s.Insts {
		if b == "" || len(p) > len(b) && strings.HasPrefix(p, b) && strings.IndexByte("[#:", p[len(b)]) >= 0 {
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, c int) bool { return out[a].Path < out[c].Path })
	return out
}

// normalize round-trips an event through JSON so that what the decider
// folds is exactly what Fold will read back from the journal.
func normalize(e Event) (Event, []byte, error) {
	b, err := json.Marshal(e)
	if err != nil {
		return e, nil, err
	}
	var n Event
	if err := json.Unmarshal(b, &n); err != nil {
		return e, nil, err
	}
	return n, b, nil
}
