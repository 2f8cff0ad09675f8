package engine

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/playbook"
)

// Options configure an Engine; zero values take the defaults.
type Options struct {
	Workers       int           // worker goroutines (default 4)
	Lease         time.Duration // task lease (default 1 min)
	Poll          time.Duration // DB poll interval for tasks and timers (default 200 ms)
	ClaimBatch    int           // tasks claimed per transaction (default 8)
	StepTimeout   time.Duration // default timeout of automated steps (10 min)
	ManualTimeout time.Duration // default deadline of manual steps and inquiries (24 h)
	MaxIterations int           // default while cap (1000)
	MaxDepth      int           // playbook-action nesting limit (8)
	Sync          string        // SQLite synchronous mode (default "full")
	Owner         string        // lease owner name (default random)
	Now           func() time.Time
	// Hook, when set, is called at named points ("claimed": task leased,
	// before the connector call; "dispatched": after the call, before its
	// result is committed). A non-nil error makes the worker abandon the
	// task there, as a crash would. For crash tests.
	Hook   func(point string, c Claim) error
	Logger *slog.Logger // default slog.Default()
	// Store overrides the SQLite store (path is then ignored).
	Store Store
	// Policy, when set, is asked before each command of an action step is
	// first sent. A non-empty question makes a person decide first (an
	// approval for the given roles); deny fails the step. Example:
	// containment of an asset of criticality 5 always needs a person.
	Policy func(call CallSpec) (question string, roles []string)
	// AuditSink receives the audit entries the engine queued in the same
	// transactions as the changes they record (run starts, cancels,
	// approval answers, connector calls). It must be idempotent by
	// record ID: after a crash the same records are offered again. Nil
	// leaves them queued.
	AuditSink func(ctx context.Context, recs []AuditRecord) error
}

func (o *Options) defaults() {
	if o.Workers <= 0 {
		o.Workers = 4
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Poll <= 0 {
		o.Poll = 200 * time.Millisecond
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = 8
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Minute
	}
	if o.ManualTimeout <= 0 {
		o.ManualTimeout = 24 * time.Hour
	}
	if o.MaxIterations <= 0 {
		o.MaxIterations = 1000
	}
	if o.MaxDepth <= 0 {
		o.MaxDepth = 8
	}
	if o.Sync == "" {
		o.Sync = "full"
	}
	if o.Owner == "" {
		o.Owner = "engine-" + ulid.Make().String()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Engine executes playbook runs durably.
type Engine struct {
	st       Store
	reg      *connector.Registry
	opts     Options
	simulate bool
	wake     chan struct{}

	mu    sync.Mutex
	plans map[string]*playbook.Playbook
}

// Errors of the API.
var (
	ErrDuplicateRun    = errors.New("a run of this playbook with this dedup key exists")
	ErrInquiryClosed   = errors.New("inquiry is no longer open")
	ErrNotAssignee     = errors.New("not an assignee of this inquiry")
	ErrAlreadyAnswered = errors.New("already answered by this person")
)

// Open opens the engine database at path: a SQLite file (synchronous as
// opts.Sync says) or a postgres:// URL (OpenStore).
func Open(path string, reg *connector.Registry, opts Options) (*Engine, error) {
	opts.defaults()
	st := opts.Store
	if st == nil {
		var err error
		if st, err = OpenStore(path, opts.Sync); err != nil {
			return nil, err
		}
	}
	return &Engine{st: st, reg: reg, opts: opts, wake: make(chan struct{}, 1), plans: map[string]*playbook.Playbook{}}, nil
}

// Synchronous reports the SQLite synchronous mode the engine's commits use;
// "" for a store that is not SQLite.
func (e *Engine) Synchronous(ctx context.Context) (string, error) {
	switch s := e.st.(type) {
	case *sqliteStore:
		return s.db.Synchronous(ctx)
	case pgStore:
		return s.db.Synchronous(ctx)
	}
	return "", nil
}

// Close stops the store. Run should have returned first.
func (e *Engine) Close() error { return e.st.Close() }

func (e *Engine) now() time.Time { return e.opts.Now().UTC() }

func (e *Engine) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *Engine) plan(tx Tx, id string, version int) (*playbook.Playbook, error) {
	key := fmt.Sprintf("%s@%d", id, version)
	e.mu.Lock()
	pb := e.plans[key]
	e.mu.Unlock()
	if pb != nil {
		return pb, nil
	}
	b, err := tx.Plan(id, version)
	if err != nil {
		return nil, fmt.Errorf("plan %s: %w", key, err)
	}
	if pb, err = decodePlan(b); err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.plans[key] = pb
	e.mu.Unlock()
	return pb, nil
}

// Register stores a playbook version so that playbook-action steps (and
// restarts) can find it. Start registers its playbook itself.
func (e *Engine) Register(ctx context.Context, pb *playbook.Playbook, version int) error {
	body, err := encodePlan(pb)
	if err != nil {
		return err
	}
	return e.st.Update(ctx, func(tx Tx) error { return tx.PutPlan(pb.ID, version, body) })
}

// Start starts a run of pb (pinned at version) with input as its external
// variables. A non-empty dedupKey (e.g. the incident id) makes the start
// idempotent: a second Start with the same playbook and key returns the
// first run's id and ErrDuplicateRun.
func (e *Engine) Start(ctx context.Context, pb *playbook.Playbook, version int, input map[string]any, dedupKey string) (string, error) {
	return e.StartFrom(ctx, pb, version, input, dedupKey, Origin{})
}

// Origin says who or what started a run, for the audit log.
type Origin struct {
	Actor    string // "token:<id> (<name>)", "system", ...; default "system"
	Trigger  string // manual | incident | alert | schedule | webhook
	Incident string
	Detail   map[string]any // more of the trigger (alert id, webhook name, slot)
}

// StartFrom is Start with the run's origin, which its audit entry records
// in the same transaction as the run.
func (e *Engine) StartFrom(ctx context.Context, pb *playbook.Playbook, version int, input map[string]any, dedupKey string, o Origin) (string, error) {
	body, err := encodePlan(pb)
	if err != nil {
		return "", err
	}
	vars, err := initialVars(pb, input)
	if err != nil {
		return "", err
	}
	id := ulid.MustNew(ulid.Timestamp(e.now()), rand.Reader).String()
	var existing string
	err = e.st.Update(ctx, func(tx Tx) error {
		existing = ""
		if dedupKey != "" {
			old, ok, err := tx.RunByKey(pb.ID + "\x00" + dedupKey)
			if err != nil {
				return err
			}
			if ok {
				existing = old
				return nil
			}
		}
		if err := tx.PutPlan(pb.ID, version, body); err != nil {
			return err
		}
		return e.newRun(tx, id, pb.ID, version, vars, "", "", dedupKey, e.now(), o)
	})
	if err != nil {
		return "", err
	}
	if existing != "" {
		return existing, ErrDuplicateRun
	}
	e.signal()
	return id, nil
}

func (e *Engine) newRun(tx Tx, id, pbID string, version int, vars map[string]any, parentRun, parentInst, dedup string, now time.Time, o Origin) error {
	pb, err := e.plan(tx, pbID, version)
	if err != nil {
		return err
	}
	if o.Actor == "" {
		o.Actor = "system"
	}
	detail := map[string]any{"playbook": pbID, "version": version}
	for k, v := range o.Detail {
		detail[k] = v
	}
	for k, v := range map[string]string{"trigger": o.Trigger, "incident": o.Incident, "dedup_key": dedup, "parent_run": parentRun} {
		if v != "" {
			detail[k] = v
		}
	}
	if err := e.audit(tx, o.Actor, "run.start", "run:"+id, detail); err != nil {
		return err
	}
	m := &machine{pb: pb, s: &Snapshot{RunID: id}, now: now, opts: &e.opts}
	m.emit(Event{Type: EvRunStarted, Inst: id, PlaybookID: pbID, Version: version, Vars: vars, ParentRun: parentRun, Parent: parentInst, DedupKey: dedup})
	m.start()
	return e.commit(tx, m, true)
}

// transition applies one input to a run inside tx.
func (e *Engine) transition(tx Tx, runID string, in Input) error {
	s, err := tx.Snapshot(runID)
	if err != nil {
		return err
	}
	pb, err := e.plan(tx, s.PlaybookID, s.Version)
	if err != nil {
		return err
	}
	m := &machine{pb: pb, s: s, now: e.now(), opts: &e.opts}
	m.handle(in)
	return e.commit(tx, m, false)
}

// commit writes a machine's events and everything they imply, including
// child runs started and the parent's ChildRunCompleted, in tx.
func (e *Engine) commit(tx Tx, m *machine, newRun bool) error {
	if m.err != nil {
		return m.err
	}
	if len(m.events) == 0 {
		return nil
	}
	if err := tx.Append(m.s, m.events, m.raw, newRun); err != nil {
		return err
	}
	// A released (cancelled, failed, timed out) playbook-action step
	// cancels its child run.
	for _, c := range m.cancelKids {
		if err := e.transition(tx, c, Input{Kind: "cancel", Actor: "parent"}); err != nil {
			return err
		}
	}
	for _, c := range m.children {
		if err := e.startChild(tx, m.s, c); err != nil {
			return err
		}
	}
	last := m.events[len(m.events)-1]
	if (last.Type == EvRunCompleted || last.Type == EvRunCancelled || Terminal(m.s.Status)) && m.s.ParentRun != "" && endedNow(m.events) {
		return e.transition(tx, m.s.ParentRun, Input{Kind: "child", ChildRun: m.s.RunID, ChildStatus: m.s.Status, ChildVars: m.s.Vars})
	}
	return nil
}

func endedNow(evs []Event) bool {
	for _, e := range evs {
		if e.Type == EvRunCompleted || e.Type == EvRunCancelled {
			return true
		}
	}
	return false
}

func (e *Engine) startChild(tx Tx, parent *Snapshot, c childStart) error {
	failParent := func(msg string) error {
		return e.transition(tx, parent.RunID, Input{Kind: "child", ChildRun: c.RunID, ChildStatus: StatusFailed + ": " + msg})
	}
	// Depth and cycle check along the ancestor chain.
	depth, anc := 1, parent
	for anc != nil {
		if anc.PlaybookID == c.PlaybookID {
			return failParent("playbook " + c.PlaybookID + " is already running in the ancestor chain")
		}
		if anc.ParentRun == "" {
			break
		}
		depth++
		next, err := tx.Snapshot(anc.ParentRun)
		if err != nil {
			return err
		}
		anc = next
	}
	if depth >= e.opts.MaxDepth {
		return failParent("playbook-action nesting deeper than the limit")
	}
	version, _, err := tx.LatestPlan(c.PlaybookID)
	if err != nil {
		return failParent("child playbook " + c.PlaybookID + " is not registered")
	}
	pb, err := e.plan(tx, c.PlaybookID, version)
	if err != nil {
		return err
	}
	in := map[string]any{}
	for k, v := range c.Input {
		if d := pb.Variables[k]; d != nil && d.External {
			in[k] = v
		}
	}
	vars, err := initialVars(pb, in)
	if err != nil {
		return failParent(err.Error())
	}
	return e.newRun(tx, c.RunID, c.PlaybookID, version, vars, parent.RunID, c.ParentInst, "", e.now(),
		Origin{Actor: "run:" + parent.RunID, Trigger: "playbook-action"})
}

// audit queues an entry in tx; a dry run records nothing.
func (e *Engine) audit(tx Tx, actor, action, target string, detail any) error {
	if e.simulate {
		return nil
	}
	b, err := json.Marshal(detail)
	if err != nil {
		return fmt.Errorf("audit detail: %w", err)
	}
	return tx.Audit(AuditRecord{At: e.now(), Actor: actor, Action: action, Target: target, Detail: b})
}

type auditActorKey struct{}

// WithActor names who acts for the audit log when the engine's own actor
// argument is something else (an approval's answerer is matched by token
// name; the audit log names the token).
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, auditActorKey{}, actor)
}

type auditChannelKey struct{}

// WithChannel names where a person gave an answer ("slack"), recorded as
// "channel" in the audit entry of the answer, so an approval answered
// outside the console says so.
func WithChannel(ctx context.Context, channel string) context.Context {
	return context.WithValue(ctx, auditChannelKey{}, channel)
}

func actorOf(ctx context.Context, fallback string) string {
	if a, ok := ctx.Value(auditActorKey{}).(string); ok && a != "" {
		return a
	}
	return fallback
}

// Run runs the workers and the timer loop until ctx ends. It does not
// drain: in-flight work is abandoned and recovered by lease expiry, as
// after a crash.
func (e *Engine) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for i := 0; i < e.opts.Workers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.workerLoop(ctx)
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		e.timerLoop(ctx)
	}()
	if e.opts.AuditSink != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.auditLoop(ctx)
		}()
	}
	wg.Wait()
	return ctx.Err()
}

// auditLoop hands queued audit entries to the sink, then drops them. It
// runs once more after ctx ends so a clean stop leaves nothing queued; a
// crash leaves them queued for the next start.
func (e *Engine) auditLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.Poll)
	defer t.Stop()
	for {
		done := ctx.Err() != nil
		if done {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
		}
		if err := e.FlushAudit(ctx); err != nil && ctx.Err() == nil {
			e.opts.Logger.Error("audit entries not forwarded (kept queued)", "err", err)
		}
		if done {
			return
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}

// FlushAudit hands every queued audit entry to the sink.
func (e *Engine) FlushAudit(ctx context.Context) error {
	if e.opts.AuditSink == nil {
		return nil
	}
	for {
		recs, err := e.st.PendingAudit(ctx, 0, 256)
		if err != nil || len(recs) == 0 {
			return err
		}
		if err := e.opts.AuditSink(ctx, recs); err != nil {
			return err
		}
		last := recs[len(recs)-1].ID
		if err := e.st.Update(ctx, func(tx Tx) error { return tx.DropAudit(last) }); err != nil {
			return err
		}
	}
}

func (e *Engine) workerLoop(ctx context.Context) {
	t := time.NewTimer(e.opts.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		n, err := e.workOnce(ctx)
		if err != nil && errors.Is(err, errAbandon) {
			return
		}
		if err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("engine worker", "err", err)
		}
		if n > 0 {
			continue
		}
		t.Reset(e.opts.Poll)
		select {
		case <-ctx.Done():
			return
		case <-e.wake:
		case <-t.C:
		}
	}
}

func (e *Engine) timerLoop(ctx context.Context) {
	t := time.NewTicker(e.opts.Poll)
	defer t.Stop()
	for ctx.Err() == nil {
		n, err := e.fireTimers(ctx)
		if err != nil && ctx.Err() == nil {
			e.opts.Logger.Warn("engine timers", "err", err)
		}
		if n > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

var errAbandon = errors.New("task abandoned at hook")

// workOnce claims due tasks and executes them; it returns how many.
func (e *Engine) workOnce(ctx context.Context) (int, error) {
	var claims []Claim
	now := e.now()
	err := e.st.Update(ctx, func(tx Tx) error {
		var err error
		claims, err = tx.Claim(e.opts.Owner, now, e.opts.Lease, e.opts.ClaimBatch)
		return err
	})
	if err != nil {
		return 0, err
	}
	for _, c := range claims {
		if err := e.execute(ctx, c); err != nil {
			return len(claims), err
		}
	}
	return len(claims), nil
}

func (e *Engine) hook(point string, c Claim) error {
	if e.opts.Hook != nil {
		if err := e.opts.Hook(point, c); err != nil {
			return errAbandon
		}
	}
	return nil
}

func (e *Engine) execute(ctx context.Context, c Claim) error {
	if err := e.hook("claimed", c); err != nil {
		return err
	}
	in := Input{Kind: "result", TaskID: c.TaskID, Inst: c.Inst, Cmd: c.Cmd, Attempt: c.Attempt, IdemKey: c.IdemKey}
	record := true
	// sent: this lease called the connector, or a previous one may have
	// (interrupted after dispatch); either may have had an effect, so it
	// is audited with the outcome in the transaction that journals it.
	sent := false
	if c.EffectState == "done" {
		// Applied once already: report the recorded result, never re-send.
		var r connector.Result
		_ = json.Unmarshal(c.EffectResult, &r)
		in.Outcome, in.Result = c.EffectOutcome, &resultData{Outputs: r.Outputs, Summary: r.Summary, Commands: r.Commands}
		if in.Outcome != "ok" {
			in.Msg = r.Summary
		}
		record = false
	} else {
		conn, ok := e.reg.Get(c.Call.Connector)
		var op connector.Operation
		if ok {
			op, ok = conn.Spec().Operations[c.Call.Operation]
		}
		switch {
		case !ok:
			in.Outcome, in.Class, in.Msg = "error", connector.Permanent.String(), fmt.Sprintf("no connector operation %s.%s", c.Call.Connector, c.Call.Operation)
		case c.EffectState == "sending" && !op.Idempotent && !e.simulate:
			// A previous lease may have sent it: unknown outcome, and
			// re-sending could apply it twice. Ask a person.
			in.Outcome, in.Class, in.Msg = "unknown", connector.Unknown.String(), "a previous attempt was interrupted after dispatch: "+c.Call.Text
			record, sent = false, true
		default:
			call := connector.Call{Operation: c.Call.Operation, Args: c.Call.Args, IdempotencyKey: c.IdemKey, RunID: c.RunID,
				StepID: c.Inst, Attempt: c.Attempt, Incident: c.Call.Incident}
			sent = true
			callCtx, lost := e.keepLease(ctx, c)
			res, err := e.call(callCtx, conn, call)
			if err != nil && connector.ClassOf(err) == connector.Unknown && op.Idempotent && callCtx.Err() == nil {
				res, err = e.call(callCtx, conn, call) // same key: safe to re-send
			}
			if lost() || ctx.Err() != nil {
				return errAbandon
			}
			if herr := e.hook("dispatched", c); herr != nil {
				return herr
			}
			in.Result = &resultData{Outputs: res.Outputs, Summary: res.Summary, Commands: res.Commands}
			switch {
			case err == nil:
				in.Outcome = "ok"
			case connector.ClassOf(err) == connector.Unknown && !op.Idempotent:
				in.Outcome, in.Class, in.Msg = "unknown", connector.Unknown.String(), err.Error()
				record = false
			default:
				in.Outcome, in.Class, in.Msg = "error", connector.ClassOf(err).String(), err.Error()
				record = connector.ClassOf(err) != connector.Unknown
			}
		}
	}
	err := e.st.Update(ctx, func(tx Tx) error {
		if sent {
			detail := map[string]any{"run": c.RunID, "step": c.Inst, "attempt": c.Attempt, "idempotency_key": c.IdemKey,
				"args": c.Call.Args, "outcome": in.Outcome}
			if in.Msg != "" {
				detail["error"] = in.Msg
			} else if in.Result != nil && in.Result.Summary != "" {
				detail["summary"] = in.Result.Summary
			}
			if c.Call.Incident != "" {
				detail["incident"] = c.Call.Incident
			}
			if err := e.audit(tx, "run:"+c.RunID, "connector.call", c.Call.Connector+"."+c.Call.Operation, detail); err != nil {
				return err
			}
		}
		if record && in.Result != nil {
			b, _ := json.Marshal(connector.Result{Outputs: in.Result.Outputs, Summary: firstNonEmpty(in.Result.Summary, in.Msg), Commands: in.Result.Commands})
			if err := tx.RecordEffect(c.IdemKey, in.Outcome, b, e.now()); err != nil {
				return err
			}
		}
		ok, err := tx.GuardTask(c.TaskID, c.Fence)
		if err != nil {
			return err
		}
		if !ok {
			// Stale fence or cancelled task: journal it, apply nothing.
			in.Late = true
		}
		return e.transition(tx, c.RunID, in)
	})
	if err == nil {
		e.signal()
	}
	return err
}

// keepLease renews the task's lease every third of its length while the
// connector call runs, so a call longer than the lease is not claimed by
// another worker or node (which would ask a person about an unknown outcome,
// or send an idempotent call a second time). If the task stops being this
// lease's (its fence moved on), the call's context is cancelled and lost
// reports true: the result belongs to nobody and is abandoned.
func (e *Engine) keepLease(ctx context.Context, c Claim) (context.Context, func() bool) {
	callCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	var gone atomic.Bool
	go func() {
		t := time.NewTicker(e.opts.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-callCtx.Done():
				return
			case <-t.C:
			}
			var ok bool
			err := e.st.Update(callCtx, func(tx Tx) error {
				var err error
				ok, err = tx.ExtendLease(c.TaskID, c.Fence, e.now().Add(e.opts.Lease))
				return err
			})
			if err == nil && !ok {
				gone.Store(true)
				cancel()
				return
			}
			// A failed write is retried at the next tick: the lease still
			// has two thirds of its length.
		}
	}()
	var once sync.Once
	return callCtx, func() bool {
		once.Do(func() { close(done); cancel() })
		return gone.Load()
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (e *Engine) call(ctx context.Context, conn connector.Connector, call connector.Call) (connector.Result, error) {
	if e.simulate {
		return conn.Simulate(ctx, call)
	}
	return conn.Execute(ctx, call)
}

// fireTimers fires every due timer, each in its own transition.
func (e *Engine) fireTimers(ctx context.Context) (int, error) {
	var due []TimerRow
	now := e.now()
	if err := e.st.Update(ctx, func(tx Tx) error {
		var err error
		due, err = tx.DueTimers(now, 256)
		return err
	}); err != nil {
		return 0, err
	}
	for _, t := range due {
		err := e.st.Update(ctx, func(tx Tx) error {
			ok, err := tx.GuardTimer(t.ID, e.now())
			if err != nil || !ok {
				return err
			}
			return e.transition(tx, t.RunID, Input{Kind: "timer", TimerID: t.ID, Timer: t.Kind})
		})
		if err != nil {
			return 0, err
		}
	}
	if len(due) > 0 {
		e.signal()
	}
	return len(due), nil
}

// Cancel cancels a run (and its child runs): queued tasks, open
// inquiries and timers are cancelled in the same transaction.
func (e *Engine) Cancel(ctx context.Context, id, actor string) error {
	err := e.st.Update(ctx, func(tx Tx) error {
		if err := e.transition(tx, id, Input{Kind: "cancel", Actor: actor}); err != nil {
			return err
		}
		return e.audit(tx, actorOf(ctx, actor), "run.cancel", "run:"+id, nil)
	})
	return err
}

// Answer answers an inquiry. The answerer must be a listed assignee or
// hold a listed role (an inquiry with neither list may be answered by
// anyone authenticated). With a quorum above 1, approvals accumulate.
func (e *Engine) Answer(ctx context.Context, inquiryID string, approve bool, comment, actor string, roles []string) error {
	return e.answer(ctx, inquiryID, approve, comment, actor, roles, true, nil)
}

// AnswerForm answers an approval and fills its form: values are assigned
// to the step's out_args (names the form lists) when it is approved.
func (e *Engine) AnswerForm(ctx context.Context, inquiryID string, approve bool, comment, actor string, roles []string, values map[string]any) error {
	return e.answer(ctx, inquiryID, approve, comment, actor, roles, true, values)
}

func (e *Engine) answer(ctx context.Context, inquiryID string, approve bool, comment, actor string, roles []string, check bool, values map[string]any) error {
	qs, err := e.st.ListInquiries(ctx, InquiryFilter{})
	if err != nil {
		return err
	}
	var q *Inquiry
	for i := range qs {
		if qs[i].ID == inquiryID {
			q = &qs[i]
		}
	}
	if q == nil {
		return ErrNotFound
	}
	allowed := len(q.Assignees) == 0 && len(q.Roles) == 0 || slices.Contains(q.Assignees, actor)
	for _, r := range roles {
		allowed = allowed || slices.Contains(q.Roles, r)
	}
	if check && !allowed {
		return ErrNotAssignee
	}
	err = e.st.Update(ctx, func(tx Tx) error {
		s, err := tx.Snapshot(q.RunID)
		if err != nil {
			return err
		}
		open := s.Inquiries[inquiryID]
		if open == nil {
			return ErrInquiryClosed
		}
		if slices.Contains(open.Votes, actor) {
			return ErrAlreadyAnswered
		}
		if err := e.transition(tx, q.RunID, Input{Kind: "answer", InquiryID: inquiryID, Approve: approve, Actor: actor, Comment: comment, Values: values}); err != nil {
			return err
		}
		verb := "approval.deny"
		if approve {
			verb = "approval.approve"
		}
		detail := map[string]any{"run": q.RunID, "comment": comment, "question": q.Question}
		if ch, ok := ctx.Value(auditChannelKey{}).(string); ok && ch != "" {
			detail["channel"] = ch
		}
		return e.audit(tx, actorOf(ctx, actor), verb, "approval:"+inquiryID, detail)
	})
	if err == nil {
		e.signal()
	}
	return err
}

// Runs lists runs.
func (e *Engine) Runs(ctx context.Context, f RunFilter) ([]RunInfo, error) {
	return e.st.ListRuns(ctx, f)
}

// Changed is the time (Unix ns) any run last moved.
func (e *Engine) Changed(ctx context.Context) (int64, error) { return e.st.Changed(ctx) }

// GetRun returns a run's snapshot and journal. (It would be Run, but Run
// is the scheduler loop.)
func (e *Engine) GetRun(ctx context.Context, id string) (*RunView, error) {
	return e.st.LoadRun(ctx, id)
}

// Inquiries lists inquiries.
func (e *Engine) Inquiries(ctx context.Context, f InquiryFilter) ([]Inquiry, error) {
	return e.st.ListInquiries(ctx, f)
}
