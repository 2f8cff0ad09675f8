package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/playbook"
)

// receiver is the fake target: it counts sends and applications per
// idempotency key (a key is applied once, however often it is sent).
type receiver struct {
	mu      sync.Mutex
	sends   map[string]int
	applied map[string]int
	srv     *httptest.Server
}

func newReceiver(t testing.TB) *receiver {
	r := &receiver{sends: map[string]int{}, applied: map[string]int{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		k := req.Header.Get("Idempotency-Key")
		r.mu.Lock()
		r.sends[k]++
		if req.URL.Path == "/dedup" {
			if r.applied[k] == 0 {
				r.applied[k]++
			}
		} else {
			r.applied[k]++
		}
		r.mu.Unlock()
		w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) counts() (sends, applied map[string]int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, a := map[string]int{}, map[string]int{}
	for k, v := range r.sends {
		s[k] = v
	}
	for k, v := range r.applied {
		a[k] = v
	}
	return s, a
}

// testConn is the test connector "t".
type testConn struct {
	rcv   *receiver
	mu    sync.Mutex
	fails map[string]int // idem key → transient failures so far
	block chan struct{}  // "slow" waits on it
	slows atomic.Int32   // calls of "slow"
}

func (c *testConn) Spec() connector.Spec {
	any := map[string]connector.ArgSpec{}
	return connector.Spec{Name: "t", Operations: map[string]connector.Operation{
		"set":   {Args: map[string]connector.ArgSpec{"name": {Type: "string"}, "value": {Type: "any"}}, Idempotent: true},
		"post":  {Args: map[string]connector.ArgSpec{"msg": {Type: "any"}}},                   // not idempotent
		"ipost": {Args: map[string]connector.ArgSpec{"msg": {Type: "any"}}, Idempotent: true}, // target dedups by key
		"fail":  {Args: map[string]connector.ArgSpec{"class": {Type: "string"}}},
		"flaky": {Args: map[string]connector.ArgSpec{"times": {Type: "int"}}, Idempotent: true},
		"slow":  {Args: any, Idempotent: true},
		"inc":   {Args: map[string]connector.ArgSpec{"name": {Type: "string"}, "value": {Type: "any"}}, Idempotent: true},
	}}
}

func (c *testConn) do(ctx context.Context, call connector.Call, sim bool) (connector.Result, error) {
	b, _ := json.Marshal(call.Args)
	line := fmt.Sprintf("%s %s", call.Operation, b)
	res := connector.Result{Commands: []string{line}, Summary: call.Operation + " done"}
	if sim {
		res.Summary = "would " + call.Operation
	}
	switch call.Operation {
	case "set":
		name, _ := call.Args["name"].(string)
		res.Outputs = map[string]any{name: call.Args["value"]}
	case "inc":
		name, _ := call.Args["name"].(string)
		var n int
		fmt.Sscan(fmt.Sprint(call.Args["value"]), &n)
		res.Outputs = map[string]any{name: fmt.Sprint(n + 1)}
	case "post", "ipost":
		if sim || c.rcv == nil {
			return res, nil
		}
		path := "/apply"
		if call.Operation == "ipost" {
			path = "/dedup"
		}
		req, _ := http.NewRequestWithContext(ctx, "POST", c.rcv.srv.URL+path, bytes.NewReader(b))
		req.Header.Set("Idempotency-Key", call.IdempotencyKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return res, connector.Errorf(connector.Unknown, "post: %v", err)
		}
		resp.Body.Close()
	case "fail":
		cl := connector.Permanent
		if call.Args["class"] == "transient" {
			cl = connector.Transient
		}
		return res, connector.Errorf(cl, "failed on purpose")
	case "flaky":
		n := int(call.Args["times"].(float64))
		c.mu.Lock()
		c.fails[call.RunID+call.StepID]++
		k := c.fails[call.RunID+call.StepID]
		c.mu.Unlock()
		if k <= n {
			return res, connector.Errorf(connector.Transient, "flaky %d/%d", k, n)
		}
	case "slow":
		c.slows.Add(1)
		if c.block != nil {
			select {
			case <-c.block:
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
	return res, nil
}

func (c *testConn) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.do(ctx, call, false)
}
func (c *testConn) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	return c.do(ctx, call, true)
}

func newReg(t testing.TB, rcv *receiver) (*connector.Registry, *testConn) {
	reg := connector.NewRegistry()
	c := &testConn{rcv: rcv, fails: map[string]int{}}
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return reg, c
}

// Playbook builders.

func newPB(id, start string, steps ...*playbook.Step) *playbook.Playbook {
	pb := &playbook.Playbook{ID: id, Name: id, WorkflowStart: start, Steps: map[string]*playbook.Step{},
		Variables: map[string]*playbook.Variable{}}
	for _, s := range steps {
		pb.Steps[s.ID] = s
	}
	return pb
}

func vars(pb *playbook.Playbook, kv ...any) *playbook.Playbook {
	for i := 0; i < len(kv); i += 3 {
		pb.Variables[kv[i].(string)] = &playbook.Variable{Type: kv[i+1].(string), Value: kv[i+2], External: kv[i+2] == nil}
	}
	return pb
}

func start(id, next string) *playbook.Step {
	return &playbook.Step{ID: id, Type: playbook.StepStart, OnCompletion: next}
}

func end(id string) *playbook.Step { return &playbook.Step{ID: id, Type: playbook.StepEnd} }

func act(id, next, op string, args map[string]any, out ...string) *playbook.Step {
	return &playbook.Step{ID: id, Type: playbook.StepAction, OnCompletion: next, OutArgs: out,
		Commands: []*playbook.Command{{Type: playbook.CmdRiposteConnector, Connector: "t", Operation: op, Args: args}}}
}

func testOpts() Options {
	return Options{Workers: 2, Poll: 5 * time.Millisecond, Lease: 300 * time.Millisecond, Sync: "full"}
}

func openT(t testing.TB, path string, reg *connector.Registry, o Options) *Engine {
	t.Helper()
	e, err := Open(path, reg, o)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func dbPath(t testing.TB) string { return storetest.TargetIn(t, t.TempDir(), "engine.db") }

// runUntil runs the engine until run id is terminal (or timeout).
func runUntil(t testing.TB, e *Engine, id string, d time.Duration) *RunView {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		v, err := e.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if Terminal(v.Snapshot.Status) {
			return v
		}
		time.Sleep(5 * time.Millisecond)
	}
	v, _ := e.GetRun(context.Background(), id)
	b, _ := json.MarshalIndent(v.Snapshot, "", " ")
	t.Fatalf("run %s did not end: %s", id, b)
	return nil
}

// checkFold asserts invariant I4: fold(journal) == stored snapshot.
func checkFold(t testing.TB, v *RunView) {
	t.Helper()
	got, _ := json.Marshal(Fold(v.Journal))
	want, _ := json.Marshal(v.Snapshot)
	if !bytes.Equal(got, want) {
		t.Fatalf("fold(journal) != snapshot\nfold: %s\nsnap: %s", got, want)
	}
}
