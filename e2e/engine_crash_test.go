package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashPlaybook = `id: playbook--5e0c2b9a-7d41-4c3e-8f6a-1b2c3d4e5f60
name: Crash points
modified: 2026-11-26T00:00:00Z
description: Two calls in parallel, a durable wait, then a last call.
inputs:
  url: {type: string, description: where the receiver listens}
start: fan
steps:
  fan:
    parallel: [left, right]
    wait_all: true
    next: pause
  left:
    connector: http.request
    args: {method: POST, url: __url__:value/left}
    next: left_done
  left_done: end
  right:
    connector: http.request
    args: {method: POST, url: __url__:value/right}
    next: right_done
  right_done: end
  pause:
    connector: wait.sleep
    args: {duration: 3s}
    next: final
  final:
    connector: http.request
    args: {method: PUT, url: __url__:value/final}
    next: done
  done: end
`

// counter is an HTTP receiver that counts each idempotency key.
type counter struct {
	mu   sync.Mutex
	keys map[string]int
	path map[string]int
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.keys[r.Header.Get("Idempotency-Key")]++
	c.path[r.URL.Path]++
	c.mu.Unlock()
}

func (c *counter) snapshot() (map[string]int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, p := map[string]int{}, map[string]int{}
	for a, b := range c.keys {
		k[a] = b
	}
	for a, b := range c.path {
		p[a] = b
	}
	return k, p
}

// TestEngineCrashPoints SIGKILLs the real binary inside a playbook run:
// right after a parallel branch's call returned and before its result was
// committed (the process kills itself there), and again while the run
// waits on a durable timer that comes due while the server is down. After
// each restart the run goes on; each call reaches the receiver once.
func TestEngineCrashPoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	rcv := &counter{keys: map[string]int{}, path: map[string]int{}}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	n := newNode(t, "respond:\n  lease: 2s\n  http:\n    allow_private: true\n")
	pbFile := filepath.Join(t.TempDir(), "crash.yaml")
	os.WriteFile(pbFile, []byte(crashPlaybook), 0o644)

	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	if _, errs, code := run(append([]string{"playbook", "import", pbFile}, srv...)...); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	n.stop(syscall.SIGTERM)
	// Crash point 1: the first call of the parallel block returns, the
	// process dies before recording it.
	os.Setenv("RIPOSTE_TEST_CRASH_AT", "dispatched")
	n.start()
	os.Unsetenv("RIPOSTE_TEST_CRASH_AT")
	in := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(in, []byte(fmt.Sprintf(`{"url": %q}`, hs.URL)), 0o644)
	// The crash point may come before the server answers the start: the
	// run is durable from the moment it was started, so find it afterwards.
	run(append([]string{"playbook", "run", "playbook--5e0c2b9a-7d41-4c3e-8f6a-1b2c3d4e5f60", "--input", in}, srv...)...)
	n.waitGone(20 * time.Second) // it kills itself at the crash point
	n.start()
	listed, _, _ := run(append([]string{"run", "list", "--output", "json"}, srv...)...)
	var started []struct{ ID string }
	json.Unmarshal([]byte(listed), &started)
	if len(started) != 1 {
		t.Fatalf("runs after the crash: %s", listed)
	}
	runID := started[0].ID
	// The calls claimed before the crash were POSTs: the engine cannot know
	// whether they took effect and asks a person instead of sending them
	// again. The person checks the receiver: what it got happened (approve),
	// what it did not get is sent now (deny).
	var asks []struct {
		ID, Kind, Question string
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		o, _, _ := run(append([]string{"approval", "list", "--output", "json"}, srv...)...)
		json.Unmarshal([]byte(o), &asks)
		if len(asks) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			tr, _, _ := run(append([]string{"run", "show", runID}, srv...)...)
			t.Fatalf("no unknown-outcome question; run:\n%s\nlog:\n%s", tr, n.log)
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	o, _, _ := run(append([]string{"approval", "list", "--output", "json"}, srv...)...)
	json.Unmarshal([]byte(o), &asks)
	_, got := rcv.snapshot()
	for _, a := range asks {
		if a.Kind != "unknown_outcome" || !strings.Contains(a.Question, "take effect") {
			t.Fatalf("question %+v", a)
		}
		verb := "deny"
		for path, c := range got {
			if c > 0 && strings.Contains(a.Question, path) {
				verb = "approve"
			}
		}
		if _, errs, code := run(append([]string{"approval", verb, a.ID}, srv...)...); code != 0 {
			t.Fatalf("%s: %s", verb, errs)
		}
	}
	// Crash point 2: kill the server while the run waits on its 3 s timer,
	// and start it again after the timer came due.
	waitFor(t, "both parallel calls", 20*time.Second, func() bool {
		_, p := rcv.snapshot()
		return p["/left"] == 1 && p["/right"] == 1
	})
	time.Sleep(500 * time.Millisecond)
	n.stop(syscall.SIGKILL)
	time.Sleep(4 * time.Second)
	n.start()
	waitFor(t, "the run to finish", 30*time.Second, func() bool {
		return runOutcome(t, srv, runID) == "succeeded"
	})
	keys, paths := rcv.snapshot()
	if paths["/left"] != 1 || paths["/right"] != 1 || paths["/final"] != 1 {
		t.Fatalf("calls per path %v: want each once", paths)
	}
	for k, c := range keys {
		if k == "" || c != 1 {
			t.Fatalf("idempotency key %q applied %d times", k, c)
		}
	}
}

const loopPlaybook = `id: playbook--6f1d3c2b-8e4a-4b5c-9d6e-2a3b4c5d6e7f
name: Crash in a loop
modified: 2026-11-26T00:00:00Z
description: A while loop whose body sets the variable that ends it, then a call.
inputs:
  url: {type: string, description: where the receiver listens}
vars:
  n: {type: integer, value: '0', description: loop counter}
start: loop
steps:
  loop:
    while: n < 1
    do: body
    max_iterations: 5
    next: report
  body:
    connector: set.vars
    args: {values: {n: 1}}
    out_args: [n]
    next: body_done
  body_done: end
  report:
    connector: http.request
    args: {method: PUT, url: __url__:value/loop-done}
    next: done
  done: end
`

// TestEngineCrashBeforeTheCallInsideALoop SIGKILLs the real binary right
// after a task inside a while loop was claimed, before its call: the
// operation is idempotent, so after the restart it is simply sent, and
// the loop and the run finish.
func TestEngineCrashBeforeTheCallInsideALoop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	rcv := &counter{keys: map[string]int{}, path: map[string]int{}}
	hs := httptest.NewServer(rcv)
	defer hs.Close()
	n := newNode(t, "respond:\n  lease: 2s\n  http:\n    allow_private: true\n")
	pbFile := filepath.Join(t.TempDir(), "loop.yaml")
	os.WriteFile(pbFile, []byte(loopPlaybook), 0o644)
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	if _, errs, code := run(append([]string{"playbook", "import", pbFile}, srv...)...); code != 0 {
		t.Fatalf("import: %s", errs)
	}
	n.stop(syscall.SIGTERM)
	os.Setenv("RIPOSTE_TEST_CRASH_AT", "claimed")
	n.start()
	os.Unsetenv("RIPOSTE_TEST_CRASH_AT")
	in := filepath.Join(t.TempDir(), "in.json")
	os.WriteFile(in, []byte(fmt.Sprintf(`{"url": %q}`, hs.URL)), 0o644)
	// The crash point may come before the server answers the start: the
	// run is durable from the moment it was started, so find it afterwards.
	run(append([]string{"playbook", "run", "playbook--6f1d3c2b-8e4a-4b5c-9d6e-2a3b4c5d6e7f", "--input", in}, srv...)...)
	n.waitGone(20 * time.Second) // it kills itself at the crash point
	n.start()
	out, _, _ := run(append([]string{"run", "list", "--output", "json"}, srv...)...)
	var runs []struct{ ID string }
	json.Unmarshal([]byte(out), &runs)
	if len(runs) != 1 {
		t.Fatalf("runs after the crash: %s", out)
	}
	runID := runs[0].ID
	waitFor(t, "the run to finish after the restart", 30*time.Second, func() bool {
		return runOutcome(t, srv, runID) == "succeeded"
	})
	if _, p := rcv.snapshot(); p["/loop-done"] != 1 {
		t.Fatalf("calls %v: want the call after the loop once", p)
	}
}

// runOutcome reads a run's outcome (the trace's top level, not a step's).
func runOutcome(t *testing.T, srv []string, id string) string {
	t.Helper()
	out, _, _ := run(append([]string{"run", "show", id, "--output", "json"}, srv...)...)
	var tr struct {
		Outcome string `json:"outcome"`
	}
	json.Unmarshal([]byte(out), &tr)
	return tr.Outcome
}
