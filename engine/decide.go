package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/playbook"
)

// Input is one thing that happens to a run; each is applied by one
// transition in one transaction.
type Input struct {
	Kind string // start | result | timer | answer | child | cancel

	// result
	TaskID  string
	Inst    string
	Cmd     int
	Attempt int
	IdemKey string
	Outcome string // ok | error | unknown
	Class   string
	Msg     string
	Result  *resultData
	Late    bool // the task's fence was stale or the task was cancelled

	// timer
	TimerID string
	Timer   string // kind

	// answer
	InquiryID string
	Approve   bool
	Actor     string
	Comment   string
	// Values fills the inquiry's form: the step's out_args, on approval.
	Values map[string]any

	// child
	ChildRun    string
	ChildStatus string
	ChildVars   map[string]any
}

type resultData struct {
	Outputs  map[string]any
	Summary  string
	Commands []string
}

// childStart asks the transition to create a child run in the same
// transaction.
type childStart struct {
	RunID, ParentInst string
	PlaybookID        string
	Version           time.Time
	Input             map[string]any
}

// machine is the pure decider: it reads the snapshot and the pinned plan,
// emits events, and folds each one into the snapshot as it goes.
type machine struct {
	pb       *playbook.Playbook
	s        *Snapshot
	now      time.Time
	opts     *Options
	events   []Event
	raw      [][]byte
	children []childStart
	// cancelKids are child runs of released playbook-action steps.
	cancelKids []string
	err        error
}

func (m *machine) emit(e Event) {
	if m.err != nil {
		return
	}
	e.Seq = m.s.Seq + 1
	e.At = m.now
	n, b, err := normalize(e)
	if err != nil {
		m.err = err
		return
	}
	apply(m.s, &n)
	m.events = append(m.events, n)
	m.raw = append(m.raw, b)
}

func (m *machine) id(kind string) string {
	return fmt.Sprintf("%s.%s%d", m.s.RunID, kind, m.s.Seq+1)
}

func (m *machine) step(id string) *playbook.Step { return m.pb.Steps[id] }

// start begins a fresh run (RunStarted already emitted).
func (m *machine) start() {
	m.enter(m.pb.WorkflowStart, "", "")
}

// enter creates an instance of step id in the frame (parent, prefix).
func (m *machine) enter(id, parent, prefix string) {
	st := m.step(id)
	if st == nil {
		m.frameFailed(parent, prefix, fmt.Sprintf("step %q does not exist", id))
		return
	}
	path := prefix + "/" + id
	if n := m.s.Visits[path]; n > 0 {
		path = fmt.Sprintf("%s~%d", path, n+1)
	}
	var due int64
	if st.Delay > 0 {
		due = m.now.Add(st.Delay).UnixNano()
	}
	m.emit(Event{Type: EvStepEntered, Inst: path, Step: id, SType: string(st.Type), Parent: parent, Prefix: prefix, Due: due, Vars: stepVars(st)})
	if due != 0 {
		m.emit(Event{Type: EvTimerSet, Inst: path, TimerID: m.id("tm"), Kind: TimerDelay, Due: due})
		return
	}
	m.begin(path)
}

// frameFailed handles a failure that has no instance (a dangling pointer).
func (m *machine) frameFailed(parent, _ string, msg string) {
	if parent == "" {
		m.rootFailed(msg)
		return
	}
	m.branchFailed(parent, msg)
}

func (m *machine) begin(path string) {
	in := m.s.Insts[path]
	st := m.step(in.Step)
	if st.Delay > 0 {
		m.emit(Event{Type: EvStepStarted, Inst: path})
	}
	// Store-enforced deadline for anything that can wait.
	timeout := st.Timeout
	if timeout == 0 {
		switch {
		case st.Type == playbook.StepAction && isManual(st):
			timeout = m.opts.ManualTimeout
		case st.Type == playbook.StepAction || st.Type == playbook.StepPlaybookAction:
			timeout = m.opts.StepTimeout
		}
	}
	if timeout > 0 && (st.Type == playbook.StepAction || st.Type == playbook.StepPlaybookAction) {
		kind := TimerTimeout
		if isManual(st) {
			kind = TimerApprovalDeadline
		}
		m.emit(Event{Type: EvTimerSet, Inst: path, TimerID: m.id("tm"), Kind: kind, Due: m.now.Add(timeout).UnixNano()})
	}
	sc := scope(m.s, in)
	switch st.Type {
	case playbook.StepStart:
		m.succeed(path)
	case playbook.StepEnd:
		parent, prefix := in.Parent, in.Prefix
		m.emit(Event{Type: EvStepSucceeded, Inst: path})
		m.frameEnd(parent, prefix)
	case playbook.StepAction:
		if isManual(st) {
			users, roles, q := approvalAssignees(m.pb, st)
			m.openInquiry(path, &InquiryInfo{Kind: "approval", Question: manualQuestion(st, sc), Form: st.OutArgs,
				Assignees: users, Roles: roles, Quorum: q, Deadline: m.now.Add(timeout).UnixNano()})
			return
		}
		m.schedule(path, 0, 1, time.Time{})
	case playbook.StepPlaybookAction:
		child := m.id("run")
		m.emit(Event{Type: EvChildRunStarted, Inst: path, Child: child, PlaybookID: st.PlaybookID})
		m.children = append(m.children, childStart{RunID: child, ParentInst: path, PlaybookID: st.PlaybookID,
			Version: st.PlaybookVersion, Input: childInput(st, sc)})
	case playbook.StepParallel:
		m.emit(Event{Type: EvBranchForked, Inst: path, N: len(st.NextSteps)})
		for i, b := range st.NextSteps {
			if m.s.Insts[path] == nil { // fail-fast already ended the block
				return
			}
			m.enter(b, path, fmt.Sprintf("%s[%d]", path, i))
		}
	case playbook.StepIfCondition:
		ok, err := evalCondition(m.pb, st, sc)
		if err != nil {
			m.fail(path, ReasonError, err.Error())
			return
		}
		next := st.OnFalse
		label := ":false"
		if ok {
			next, label = st.OnTrue, ":true"
		}
		if next == "" {
			m.succeed(path)
			return
		}
		m.emit(Event{Type: EvBranchForked, Inst: path, N: 1})
		m.enter(next, path, path+label)
	case playbook.StepWhileCondition:
		m.iterate(path)
	case playbook.StepSwitchCondition:
		v, err := switchValue(st, sc)
		if err != nil {
			m.fail(path, ReasonError, err.Error())
			return
		}
		next, ok := st.Cases[v]
		label := v
		if !ok {
			next, ok = st.Cases["default"]
			label = "default"
		}
		if !ok {
			m.fail(path, ReasonError, fmt.Sprintf("switch: no case for %q and no default", v))
			return
		}
		m.emit(Event{Type: EvBranchForked, Inst: path, N: 1})
		m.enter(next, path, path+":"+label)
	default:
		m.fail(path, ReasonError, fmt.Sprintf("unknown step type %q", st.Type))
	}
}

func (m *machine) iterate(path string) {
	in := m.s.Insts[path]
	st := m.step(in.Step)
	limit := st.MaxIterations
	if limit == 0 {
		limit = m.opts.MaxIterations
	}
	ok, err := evalCondition(m.pb, st, scope(m.s, in))
	if err != nil {
		m.fail(path, ReasonError, err.Error())
		return
	}
	if !ok || st.OnTrue == "" {
		m.succeed(path)
		return
	}
	n := in.Iter + 1
	if n > limit {
		m.fail(path, ReasonLoopCap, fmt.Sprintf("while: more than %d iterations", limit))
		return
	}
	m.emit(Event{Type: EvIterationStarted, Inst: path, N: n})
	m.enter(st.OnTrue, path, fmt.Sprintf("%s#%d", path, n))
}

func (m *machine) schedule(path string, cmd, attempt int, due time.Time) {
	m.scheduleGated(path, cmd, attempt, due, true)
}

// scheduleGated schedules a command; with gate set, a command's first
// attempt passes the approval policy first.
func (m *machine) scheduleGated(path string, cmd, attempt int, due time.Time, gate bool) {
	in := m.s.Insts[path]
	st := m.step(in.Step)
	call, err := buildCall(m.pb, st, cmd, scope(m.s, in))
	if err != nil {
		m.fail(path, ReasonError, err.Error())
		return
	}
	if gate && attempt == 1 && cmd == 0 && m.opts.Policy != nil {
		if q, roles := m.opts.Policy(*call); q != "" {
			m.openInquiry(path, &InquiryInfo{Kind: "policy", Question: q, Roles: roles, Quorum: 1,
				Deadline: m.now.Add(m.opts.ManualTimeout).UnixNano()})
			return
		}
	}
	if due.IsZero() {
		due = m.now
	}
	// wait.sleep is a durable wait: its task only comes due after the
	// duration, so the wait survives a crash like any task does.
	if call.Connector == "wait" && call.Operation == "sleep" {
		if s, ok := call.Args["duration"].(string); ok {
			if d, err := time.ParseDuration(s); err == nil && d > 0 && m.now.Add(d).After(due) {
				due = m.now.Add(d)
			}
		}
	}
	key := fmt.Sprintf("%s:%s:%d:%d", m.s.RunID, path, cmd, attempt)
	m.emit(Event{Type: EvTaskScheduled, Inst: path, TaskID: m.id("tk"), Cmd: cmd, Attempt: attempt, IdemKey: key, Call: call, Due: due.UnixNano()})
}

func (m *machine) openInquiry(path string, q *InquiryInfo) {
	q.ID = m.id("iq")
	m.emit(Event{Type: EvInquiryOpened, Inst: path, Inquiry: q})
}

// finish cancels what an instance still owns (timers, task, inquiry).
func (m *machine) release(path string) {
	in := m.s.Insts[path]
	if in == nil {
		return
	}
	for _, t := range append([]string(nil), in.Timers...) {
		m.emit(Event{Type: EvTimerCancelled, Inst: path, TimerID: t})
	}
	if in.Task != "" {
		m.emit(Event{Type: EvTaskCancelled, Inst: path, TaskID: in.Task})
	}
	if in.Inquiry != "" {
		m.emit(Event{Type: EvInquiryCancelled, Inst: path, Kind: in.Inquiry})
	}
	if in.Child != "" {
		m.cancelKids = append(m.cancelKids, in.Child)
	}
}

func (m *machine) succeed(path string) {
	in := m.s.Insts[path]
	st := m.step(in.Step)
	parent, prefix := in.Parent, in.Prefix
	m.release(path)
	m.emit(Event{Type: EvStepSucceeded, Inst: path})
	next := st.OnSuccess
	if next == "" {
		next = st.OnCompletion
	}
	m.follow(next, parent, prefix)
}

// follow continues a frame at next; no next pointer, or a loop back to
// the owning while step, ends the frame.
func (m *machine) follow(next, parent, prefix string) {
	if next == "" || m.s.Insts[parent] != nil && m.s.Insts[parent].Step == next {
		m.frameEnd(parent, prefix)
		return
	}
	if parent == "" && m.s.Exception && next == m.pb.WorkflowException {
		m.frameEnd(parent, prefix)
		return
	}
	m.enter(next, parent, prefix)
}

func (m *machine) fail(path, reason, msg string) {
	in := m.s.Insts[path]
	st := m.step(in.Step)
	parent, prefix := in.Parent, in.Prefix
	m.release(path)
	m.cancelInside(path)
	m.emit(Event{Type: EvStepFailed, Inst: path, Reason: reason, Msg: msg})
	failure := map[string]any{"reason": reason, "step": st.ID, "message": msg}
	switch {
	case st.OnFailure != "":
		m.emit(Event{Type: EvVarsAssigned, Vars: map[string]any{"__riposte_failure__": failure}})
		m.follow(st.OnFailure, parent, prefix)
	case st.ContinueOnError && st.OnCompletion != "":
		m.emit(Event{Type: EvVarsAssigned, Vars: map[string]any{"__riposte_failure__": failure}})
		m.follow(st.OnCompletion, parent, prefix)
	case parent != "":
		m.branchFailed(parent, fmt.Sprintf("%s: %s", st.ID, msg))
	default:
		m.emit(Event{Type: EvVarsAssigned, Vars: map[string]any{"__riposte_failure__": failure}})
		m.rootFailed(fmt.Sprintf("step %s failed (%s): %s", st.ID, reason, msg))
	}
}

func (m *machine) rootFailed(msg string) {
	if m.pb.WorkflowException != "" && !m.s.Exception && m.step(m.pb.WorkflowException) != nil {
		m.emit(Event{Type: EvExceptionEntered, Msg: msg})
		m.enter(m.pb.WorkflowException, "", "/!exception")
		return
	}
	m.complete(StatusFailed, msg)
}

func (m *machine) complete(status, msg string) {
	if Terminal(m.s.Status) {
		return
	}
	if msg == "" && status == StatusFailed {
		msg = m.s.Error
	}
	for _, in := range m.s.descendants("") {
		m.release(in.Path)
		m.emit(Event{Type: EvStepCancelled, Inst: in.Path, Reason: ReasonCancelled})
	}
	for _, id := range sortedKeys(m.s.Inquiries) {
		m.emit(Event{Type: EvInquiryCancelled, Kind: id})
	}
	m.emit(Event{Type: EvRunCompleted, Status: status, Msg: msg})
}

// cancelInside cancels every active instance inside block path.
func (m *machine) cancelInside(path string) {
	for _, d := range m.s.descendants(path) {
		if m.s.Insts[d.Path] == nil {
			continue
		}
		m.release(d.Path)
		m.emit(Event{Type: EvStepCancelled, Inst: d.Path, Reason: ReasonCancelled})
	}
}

// frameEnd: a branch reached its end (or ran out of next pointers).
func (m *machine) frameEnd(parent, _ string) {
	if parent == "" {
		if m.s.Exception {
			m.complete(StatusFailed, "")
		} else {
			m.complete(StatusSucceeded, "")
		}
		return
	}
	b := m.s.Insts[parent]
	if b == nil {
		return
	}
	switch playbook.StepType(b.Type) {
	case playbook.StepParallel:
		m.emit(Event{Type: EvBranchJoined, Inst: parent, Outcome: "ok"})
		m.joinDone(parent)
	case playbook.StepWhileCondition:
		m.iterate(parent)
	default:
		m.succeed(parent)
	}
}

func (m *machine) joinDone(parent string) {
	b := m.s.Insts[parent]
	if b.Joined < b.Branches {
		return
	}
	if b.Failed {
		m.fail(parent, ReasonBranchFailed, "a branch failed")
		return
	}
	m.succeed(parent)
}

func (m *machine) branchFailed(parent, msg string) {
	b := m.s.Insts[parent]
	if b == nil {
		return
	}
	st := m.step(b.Step)
	if playbook.StepType(b.Type) == playbook.StepParallel && st.WaitAll {
		m.emit(Event{Type: EvBranchJoined, Inst: parent, Outcome: "error", Msg: msg})
		m.joinDone(parent)
		return
	}
	m.fail(parent, ReasonBranchFailed, msg)
}

// handle applies one input to a running run.
func (m *machine) handle(in Input) {
	if Terminal(m.s.Status) {
		if in.Kind == "result" {
			m.emit(Event{Type: EvCommandLate, Inst: in.Inst, TaskID: in.TaskID, IdemKey: in.IdemKey, Outcome: in.Outcome, Msg: "run already ended"})
		}
		return
	}
	switch in.Kind {
	case "result":
		m.onResult(in)
	case "timer":
		m.onTimer(in)
	case "answer":
		m.onAnswer(in)
	case "child":
		m.onChild(in)
	case "cancel":
		m.emit(Event{Type: EvRunCancelled, Actor: in.Actor, Msg: "cancelled by " + in.Actor})
		for _, d := range m.s.descendants("") {
			m.release(d.Path)
			m.emit(Event{Type: EvStepCancelled, Inst: d.Path, Reason: ReasonCancelled})
		}
		for _, id := range sortedKeys(m.s.Inquiries) {
			m.emit(Event{Type: EvInquiryCancelled, Kind: id})
		}
	}
}

func (m *machine) onResult(in Input) {
	inst := m.s.Insts[in.Inst]
	if in.Late || inst == nil || inst.Task != in.TaskID {
		m.emit(Event{Type: EvCommandLate, Inst: in.Inst, TaskID: in.TaskID, IdemKey: in.IdemKey, Outcome: in.Outcome, Msg: "step no longer waits for this task"})
		return
	}
	ev := Event{Type: EvCommandResult, Inst: in.Inst, TaskID: in.TaskID, Cmd: in.Cmd, Attempt: in.Attempt, IdemKey: in.IdemKey, Outcome: in.Outcome, Class: in.Class, Msg: in.Msg}
	if in.Result != nil {
		ev.Result = toResult(in.Result)
	}
	m.emit(ev)
	st := m.step(inst.Step)
	switch in.Outcome {
	case "ok":
		var outs map[string]any
		if in.Result != nil {
			outs = in.Result.Outputs
		}
		runVars, instVars, err := assignOutputs(m.pb, st, outs)
		if err != nil {
			m.fail(in.Inst, ReasonError, err.Error())
			return
		}
		if len(runVars) > 0 {
			m.emit(Event{Type: EvVarsAssigned, Vars: runVars})
		}
		if len(instVars) > 0 {
			m.emit(Event{Type: EvVarsAssigned, Scope: in.Inst, Inst: in.Inst, Vars: instVars})
		}
		if in.Cmd+1 < len(st.Commands) {
			m.schedule(in.Inst, in.Cmd+1, 1, time.Time{})
			return
		}
		m.succeed(in.Inst)
	case "unknown":
		// Not idempotent and the outcome is unknown: ask a person.
		users, roles, q := approvalAssignees(m.pb, st)
		call := ""
		m.openInquiry(in.Inst, &InquiryInfo{Kind: "unknown_outcome", Question: fmt.Sprintf(
			"Did the command of step %s take effect? %s (idempotency key %s). Approve = it happened; deny = it did not.",
			stepName(st), call+in.Msg, in.IdemKey), Assignees: users, Roles: roles, Quorum: q,
			Deadline: m.now.Add(m.opts.ManualTimeout).UnixNano()})
	default:
		if p := st.Retry; p != nil && inst.Attempt < p.MaxAttempts && retryable(p, in.Class) {
			d := retryDelay(p, inst.Attempt)
			m.emit(Event{Type: EvTimerSet, Inst: in.Inst, TimerID: m.id("tm"), Kind: TimerRetry, Due: m.now.Add(d).UnixNano(), Attempt: inst.Attempt + 1, Cmd: in.Cmd})
			return
		}
		m.fail(in.Inst, ReasonError, in.Msg)
	}
}

func (m *machine) onTimer(in Input) {
	var inst *Inst
	for _, i := range m.s.Insts {
		for _, t := range i.Timers {
			if t == in.TimerID {
				inst = i
			}
		}
	}
	if inst == nil {
		return // cancelled in the journal already; fired for nothing
	}
	m.emit(Event{Type: EvTimerFired, Inst: inst.Path, TimerID: in.TimerID, Kind: in.Timer})
	switch in.Timer {
	case TimerDelay:
		m.begin(inst.Path)
	case TimerRetry:
		m.schedule(inst.Path, inst.Cmd, inst.Attempt, time.Time{})
	case TimerTimeout:
		m.fail(inst.Path, ReasonTimeout, "step timed out")
	case TimerApprovalDeadline:
		if inst.Inquiry != "" {
			m.emit(Event{Type: EvInquiryExpired, Inst: inst.Path, Kind: inst.Inquiry})
		}
		m.fail(inst.Path, ReasonTimeout, "no decision before the deadline")
	}
}

func (m *machine) onAnswer(in Input) {
	q := m.s.Inquiries[in.InquiryID]
	if q == nil {
		return
	}
	inst := m.s.Insts[q.Inst]
	if in.Approve && len(q.Votes)+1 < q.Quorum {
		m.emit(Event{Type: EvInquiryVote, Inst: q.Inst, Kind: q.ID, Actor: in.Actor, Comment: in.Comment, Approve: true})
		return
	}
	m.emit(Event{Type: EvInquiryAnswered, Inst: q.Inst, Kind: q.ID, Approve: in.Approve, Actor: in.Actor, Comment: in.Comment})
	if inst == nil {
		return
	}
	if in.Approve && q.Kind == "approval" && len(in.Values) > 0 {
		runVars, instVars, err := assignOutputs(m.pb, m.step(inst.Step), in.Values)
		if err != nil {
			m.fail(inst.Path, ReasonError, "approval form: "+err.Error())
			return
		}
		if len(runVars) > 0 {
			m.emit(Event{Type: EvVarsAssigned, Vars: runVars})
		}
		if len(instVars) > 0 {
			m.emit(Event{Type: EvVarsAssigned, Scope: inst.Path, Inst: inst.Path, Vars: instVars})
		}
	}
	switch {
	case in.Approve && q.Kind == "policy":
		// The person allowed the command the policy held: send it now.
		m.scheduleGated(inst.Path, inst.Cmd, 1, time.Time{}, false)
	case in.Approve:
		m.succeed(inst.Path)
	case q.Kind == "unknown_outcome":
		// It did not take effect: send it now, as a new attempt with a new
		// idempotency key (the old key was never applied).
		m.schedule(inst.Path, inst.Cmd, inst.Attempt+1, time.Time{})
	default:
		m.fail(inst.Path, ReasonDenied, "denied by "+in.Actor+commentSuffix(in.Comment))
	}
}

func commentSuffix(c string) string {
	if c == "" {
		return ""
	}
	return ": " + c
}

func (m *machine) onChild(in Input) {
	var inst *Inst
	for _, i := range m.s.Insts {
		if i.Child == in.ChildRun {
			inst = i
		}
	}
	if inst == nil {
		return
	}
	m.emit(Event{Type: EvChildRunCompleted, Inst: inst.Path, Child: in.ChildRun, Status: in.ChildStatus})
	st := m.step(inst.Step)
	if in.ChildStatus != StatusSucceeded {
		m.fail(inst.Path, ReasonError, "child run "+in.ChildStatus)
		return
	}
	out := map[string]any{}
	for _, n := range st.OutArgs {
		if v, ok := in.ChildVars[n]; ok {
			out[n] = v
		}
	}
	if len(out) > 0 {
		m.emit(Event{Type: EvVarsAssigned, Vars: out})
	}
	m.succeed(inst.Path)
}

func toResult(r *resultData) *connectorResult {
	return &connectorResult{Outputs: r.Outputs, Summary: r.Summary, Commands: r.Commands}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = strings.HasPrefix
