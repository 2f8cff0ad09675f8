package file

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/event"
)

const poll = 10 * time.Millisecond

// memSink is an in-memory ingest.Sink that dedups by key like a real one,
// records every call, and can be told to fail or to block.
type memSink struct {
	mu          sync.Mutex
	calls       []call          // every Submit call, in order
	stored      []string        // lines stored, in order, once per key
	seen        map[string]bool // keys stored
	failNext    int             // fail this many calls
	block       chan struct{}   // when set, each call waits for a receive
	started     int             // Submit calls entered
	inflight    int
	maxInflight int
}

type call struct {
	key    string
	lines  []string
	failed bool
}

func newSink() *memSink { return &memSink{seen: map[string]bool{}} }

func (s *memSink) Submit(ctx context.Context, batch []event.Event, key string) error {
	s.mu.Lock()
	s.started++
	s.inflight++
	s.maxInflight = max(s.maxInflight, s.inflight)
	block := s.block
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.inflight--
		s.mu.Unlock()
	}()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := call{key: key}
	for _, ev := range batch {
		c.lines = append(c.lines, ev.GetString("message"))
	}
	if s.failNext > 0 {
		s.failNext--
		c.failed = true
		s.calls = append(s.calls, c)
		return errors.New("sink unavailable")
	}
	s.calls = append(s.calls, c)
	if key == "" || !s.seen[key] {
		s.seen[key] = true
		s.stored = append(s.stored, c.lines...)
	}
	return nil
}

func (s *memSink) storedLines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stored)
}

func (s *memSink) allCalls() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

func build(line []byte, ev *event.Event) {
	ev.Fields = map[string]any{"message": string(line)}
}

// testLogger logs through t.Log, shown when a test fails or with -v.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(b), "\n"))
	return len(b), nil
}

type env struct {
	t     *testing.T
	dir   string
	path  string
	state string
	sink  *memSink
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	return &env{t: t, dir: dir, path: filepath.Join(dir, "app.log"),
		state: filepath.Join(dir, "state", "app.json"), sink: newSink()}
}

func (e *env) tailer(cfg Config) *Tailer {
	e.t.Helper()
	cfg.Path = e.path
	if cfg.PollInterval == 0 {
		cfg.PollInterval = poll
	}
	tl, err := New(cfg, e.state, e.sink, build, testLogger(e.t))
	if err != nil {
		e.t.Fatal(err)
	}
	return tl
}

// run starts tl. stop cancels it and returns Run's error; done is closed
// when Run returns, and then err() is its error.
func run(t *testing.T, tl *Tailer) (stop func() error, done <-chan struct{}, err func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan struct{})
	var runErr error
	go func() {
		defer close(ch)
		runErr = tl.Run(ctx)
	}()
	stop = func() error {
		cancel()
		select {
		case <-ch:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
		return runErr
	}
	t.Cleanup(func() { stop() })
	return stop, ch, func() error { <-ch; return runErr }
}

func stopOK(t *testing.T, stop func() error) {
	t.Helper()
	if err := stop(); err != nil {
		t.Fatalf("Run returned %v, want nil", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (e *env) waitLines(want []string) {
	e.t.Helper()
	waitFor(e.t, fmt.Sprintf("%d stored lines", len(want)), func() bool {
		return len(e.sink.storedLines()) >= len(want)
	})
	// A few more polls: nothing else may arrive.
	time.Sleep(3 * poll)
	if got := e.sink.storedLines(); !slices.Equal(got, want) {
		e.t.Fatalf("stored lines:\n got %q\nwant %q", got, want)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func lines(prefix string, from, to int) (ls []string, text string) {
	var b strings.Builder
	for i := from; i < to; i++ {
		l := fmt.Sprintf("%s-%03d", prefix, i)
		ls = append(ls, l)
		b.WriteString(l + "\n")
	}
	return ls, b.String()
}

func (e *env) readState() *state {
	e.t.Helper()
	st, err := readState(e.state)
	if err != nil || st == nil {
		e.t.Fatalf("state: %v %v", st, err)
	}
	return st
}

func TestAppendedLinesSeenOnce(t *testing.T) {
	e := newEnv(t)
	want, text := lines("a", 0, 3)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning", BatchLines: 4})
	stop, _, _ := run(t, tl)
	more, text := lines("a", 3, 8)
	appendTo(t, e.path, text[:15]) // split mid-line
	appendTo(t, e.path, text[15:])
	want = append(want, more...)
	e.waitLines(want)
	stopOK(t, stop)

	for _, c := range e.sink.allCalls() {
		if len(c.lines) > 4 {
			t.Errorf("batch of %d lines, BatchLines is 4", len(c.lines))
		}
	}
	s := tl.Stats()
	fi, _ := os.Stat(e.path)
	if s.LinesRead != 8 || s.EventsSubmitted != 8 || s.Offset != fi.Size() {
		t.Errorf("stats %+v, file size %d", s, fi.Size())
	}
	if st := e.readState(); st.Offset != fi.Size() || st.Pending != nil {
		t.Errorf("state %+v", st)
	}
}

func TestEventFields(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var got []event.Event
	sink := sinkFunc(func(_ context.Context, b []event.Event, _ string) error {
		mu.Lock()
		got = append(got, b...)
		mu.Unlock()
		return nil
	})
	appendTo(t, e.path, "hello\r\n\nworld\n")
	tl, err := New(Config{Path: e.path, StartAt: "beginning", PollInterval: poll}, e.state, sink, build, nil)
	if err != nil {
		t.Fatal(err)
	}
	stop, _, _ := run(t, tl)
	waitFor(t, "3 events", func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 3 })
	stopOK(t, stop)
	for i, want := range []string{"hello\r", "", "world"} {
		ev := got[i]
		if string(ev.Raw) != want || ev.GetString("message") != want {
			t.Errorf("event %d raw %q", i, ev.Raw)
		}
		if ev.Source != "file:"+e.path || ev.ID == "" || ev.Received.IsZero() || !ev.Time.Equal(ev.Received) {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if got[0].ID >= got[1].ID || got[1].ID >= got[2].ID {
		t.Error("IDs not increasing")
	}
}

type sinkFunc func(context.Context, []event.Event, string) error

func (f sinkFunc) Submit(ctx context.Context, b []event.Event, key string) error {
	return f(ctx, b, key)
}

func TestStartAtEnd(t *testing.T) {
	e := newEnv(t)
	_, old := lines("old", 0, 5)
	appendTo(t, e.path, old+"par")
	stop, _, _ := run(t, e.tailer(Config{})) // default: end
	waitFor(t, "state file", func() bool { _, err := os.Stat(e.state); return err == nil })
	appendTo(t, e.path, "tial\nnew\n")
	// The unfinished line at start is read whole; older lines are not.
	e.waitLines([]string{"partial", "new"})
	stopOK(t, stop)
}

func TestPartialLineWaitsForNewline(t *testing.T) {
	e := newEnv(t)
	appendTo(t, e.path, "one\nabc")
	tl := e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines([]string{"one"})
	time.Sleep(3 * poll)
	if got := e.sink.storedLines(); len(got) != 1 {
		t.Fatalf("partial line consumed: %q", got)
	}
	appendTo(t, e.path, "def\n")
	e.waitLines([]string{"one", "abcdef"})
	stopOK(t, stop)
}

func TestRestartResumes(t *testing.T) {
	e := newEnv(t)
	want, text := lines("r", 0, 4)
	appendTo(t, e.path, text)
	stop, _, _ := run(t, e.tailer(Config{StartAt: "beginning"}))
	e.waitLines(want)
	stopOK(t, stop)

	// Written while stopped, including a partial line.
	more, text := lines("r", 4, 9)
	appendTo(t, e.path, text+"r-tail")
	want = append(want, more...)

	tl := e.tailer(Config{StartAt: "end"}) // StartAt ignored: the file is known
	stop, _, _ = run(t, tl)
	e.waitLines(want)
	appendTo(t, e.path, "-done\n")
	want = append(want, "r-tail-done")
	e.waitLines(want)
	stopOK(t, stop)
	if s := tl.Stats(); s.Rotations != 0 || s.Truncations != 0 || s.LinesRead != 6 {
		t.Errorf("stats %+v", s)
	}
}

func TestRenameRotation(t *testing.T) {
	e := newEnv(t)
	want, text := lines("old", 0, 3)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines(want[:3])

	// The writer keeps its descriptor across the rename, as a daemon does
	// until it is told to reopen.
	w, err := os.OpenFile(e.path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteString("old-003\n")
	if err := os.Rename(e.path, e.path+".1"); err != nil {
		t.Fatal(err)
	}
	w.WriteString("old-004\nold-unterminated")
	newLines, text := lines("new", 0, 3)
	appendTo(t, e.path, text)
	want = append(want, "old-003", "old-004", "old-unterminated")
	want = append(want, newLines...)
	e.waitLines(want)
	waitFor(t, "rotation counted", func() bool { return tl.Stats().Rotations == 1 })

	more, text := lines("new", 3, 5)
	appendTo(t, e.path, text)
	e.waitLines(append(want, more...))
	stopOK(t, stop)

	// The new file's batches start at offset 0 under its own inode.
	fi, _ := os.Stat(e.path)
	ino := idOf(fi).Ino
	var first string
	for _, c := range e.sink.allCalls() {
		if strings.HasPrefix(c.lines[0], "new-") {
			first = c.key
			break
		}
	}
	if !strings.HasPrefix(first, fmt.Sprintf("file:%s:%d:0:", e.path, ino)) {
		t.Errorf("first key for the new file: %q (ino %d)", first, ino)
	}
	if st := e.readState(); st.Ino != ino || st.Offset != fi.Size() {
		t.Errorf("state %+v", st)
	}
}

func TestPathRemovedThenRecreated(t *testing.T) {
	e := newEnv(t)
	appendTo(t, e.path, "a\n")
	tl := e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines([]string{"a"})
	os.Remove(e.path)
	waitFor(t, "old file finished", func() bool { return tl.Stats().Rotations == 1 })
	appendTo(t, e.path, "b\n")
	e.waitLines([]string{"a", "b"})
	stopOK(t, stop)
}

func TestTruncation(t *testing.T) {
	e := newEnv(t)
	want, text := lines("before", 0, 5)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines(want)

	// copytruncate: the writer appends with O_APPEND, so it continues at 0.
	if err := os.Truncate(e.path, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "truncation counted", func() bool { return tl.Stats().Truncations == 1 })
	after, text := lines("after-truncate", 0, 2)
	appendTo(t, e.path, text)
	e.waitLines(append(want, after...))
	stopOK(t, stop)
	if st := e.readState(); st.Offset != int64(len(text)) {
		t.Errorf("state offset %d, want %d", st.Offset, len(text))
	}
}

func TestTruncationKeysDoNotRepeat(t *testing.T) {
	e := newEnv(t)
	appendTo(t, e.path, "aa\n")
	tl := e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines([]string{"aa"})
	if err := os.Truncate(e.path, 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "truncation counted", func() bool { return tl.Stats().Truncations == 1 })
	// Same inode, same byte range as the first batch: the generation in the
	// key keeps a deduplicating sink from dropping it.
	appendTo(t, e.path, "bb\n")
	e.waitLines([]string{"aa", "bb"})
	stopOK(t, stop)
	calls := e.sink.allCalls()
	if len(calls) != 2 || calls[0].key == calls[1].key {
		t.Fatalf("calls %+v", calls)
	}
	fi, _ := os.Stat(e.path)
	if want := fmt.Sprintf("file:%s:%d:0:3:1", e.path, idOf(fi).Ino); calls[1].key != want {
		t.Errorf("key %q, want %q", calls[1].key, want)
	}
}

func TestTruncatedAndRefilledBetweenPolls(t *testing.T) {
	e := newEnv(t)
	appendTo(t, e.path, "aaaa\n")
	tl := e.tailer(Config{StartAt: "beginning", PollInterval: 50 * time.Millisecond})
	stop, _, _ := run(t, tl)
	e.waitLines([]string{"aaaa"})
	// Replace the content with more bytes than the offset before the next
	// poll: only the fingerprint shows it.
	if err := os.WriteFile(e.path, []byte("bbbbbbbb\ncc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "lines", func() bool { return len(e.sink.storedLines()) >= 3 })
	stopOK(t, stop)
	if got := e.sink.storedLines(); !slices.Equal(got, []string{"aaaa", "bbbbbbbb", "cc"}) {
		t.Errorf("got %q", got)
	}
	if tl.Stats().Truncations != 1 {
		t.Errorf("stats %+v", tl.Stats())
	}
}

func TestLongLineRejected(t *testing.T) {
	e := newEnv(t)
	appendTo(t, e.path, "short1\n"+strings.Repeat("x", 40)+"\nshort2\n"+strings.Repeat("y", 16)+"\n")
	tl := e.tailer(Config{StartAt: "beginning", MaxLineBytes: 16})
	stop, _, _ := run(t, tl)
	e.waitLines([]string{"short1", "short2", strings.Repeat("y", 16)})

	// A long line still being written is skipped once its newline arrives.
	appendTo(t, e.path, strings.Repeat("z", 30))
	waitFor(t, "skip state", func() bool { return len(e.sink.storedLines()) == 3 })
	time.Sleep(3 * poll)
	appendTo(t, e.path, "zzz\nshort3\n")
	e.waitLines([]string{"short1", "short2", strings.Repeat("y", 16), "short3"})
	stopOK(t, stop)
	if s := tl.Stats(); s.LinesRejected != 2 || s.LinesRead != 6 || s.EventsSubmitted != 4 {
		t.Errorf("stats %+v", s)
	}
}

func TestSubmitFailuresRetried(t *testing.T) {
	e := newEnv(t)
	e.sink.failNext = 3
	want, text := lines("f", 0, 5)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning", BatchLines: 2})
	stop, _, _ := run(t, tl)
	e.waitLines(want)
	stopOK(t, stop)

	calls := e.sink.allCalls()
	if s := tl.Stats(); s.SubmitFailures != 3 || s.EventsSubmitted != 5 {
		t.Errorf("stats %+v", s)
	}
	// The failed batch was retried as is: same key, same lines.
	for i := 0; i < 3; i++ {
		if !calls[i].failed || calls[i].key != calls[3].key || !slices.Equal(calls[i].lines, calls[3].lines) {
			t.Errorf("call %d %+v, retried as %+v", i, calls[i], calls[3])
		}
	}
	checkContiguous(t, e, calls)
}

// checkContiguous checks that the successful calls' keys cover the file in
// adjacent ranges without a repeat.
func checkContiguous(t *testing.T, e *env, calls []call) {
	t.Helper()
	var next int64
	for _, c := range calls {
		if c.failed {
			continue
		}
		var ino, start, end int64
		rest := strings.TrimPrefix(c.key, "file:"+e.path+":")
		if _, err := fmt.Sscanf(rest, "%d:%d:%d", &ino, &start, &end); err != nil {
			t.Fatalf("key %q: %v", c.key, err)
		}
		if start != next || end <= start {
			t.Errorf("key %q: want start %d", c.key, next)
		}
		next = end
	}
}

var errCrash = errors.New("simulated crash")

func TestCrashBetweenSubmitAndStateWrite(t *testing.T) {
	e := newEnv(t)
	want, text := lines("c", 0, 3)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning"})
	tl.afterSubmit = func() error { return errCrash }
	_, done, runErr := run(t, tl)
	select {
	case <-done:
		if err := runErr(); !errors.Is(err, errCrash) {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop at the hook")
	}
	calls := e.sink.allCalls()
	if len(calls) != 1 {
		t.Fatalf("calls %+v", calls)
	}
	crashed := calls[0]
	if st := e.readState(); st.Offset != 0 || st.Pending == nil {
		t.Fatalf("state after crash %+v", st)
	}

	// More lines arrive while down; the re-read batch is still the same.
	more, text := lines("c", 3, 6)
	appendTo(t, e.path, text)
	tl = e.tailer(Config{StartAt: "beginning"})
	stop, _, _ := run(t, tl)
	e.waitLines(append(want, more...))
	stopOK(t, stop)

	calls = e.sink.allCalls()
	if calls[1].key != crashed.key || !slices.Equal(calls[1].lines, crashed.lines) {
		t.Errorf("after restart first call %+v, want a re-submission of %+v", calls[1], crashed)
	}
	checkContiguous(t, e, calls[1:])
}

func TestBackpressure(t *testing.T) {
	e := newEnv(t)
	e.sink.block = make(chan struct{})
	want, text := lines("b", 0, 35)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "beginning", BatchLines: 10})
	stop, _, _ := run(t, tl)
	for i := 0; i < 4; i++ {
		waitFor(t, "a blocked Submit", func() bool {
			e.sink.mu.Lock()
			defer e.sink.mu.Unlock()
			return e.sink.started == i+1
		})
		time.Sleep(2 * poll)
		// While the sink is stuck nothing is read ahead or acknowledged.
		if n := len(e.sink.allCalls()); n != i {
			t.Fatalf("calls %d while batch %d blocked", n, i)
		}
		if st := e.readState(); st.Pending == nil || st.Offset != tl.Stats().Offset {
			t.Fatalf("state while blocked %+v", st)
		}
		e.sink.block <- struct{}{}
	}
	e.waitLines(want)
	stopOK(t, stop)
	var sizes []int
	for _, c := range e.sink.allCalls() {
		sizes = append(sizes, len(c.lines))
	}
	if !slices.Equal(sizes, []int{10, 10, 10, 5}) || e.sink.maxInflight != 1 {
		t.Errorf("batch sizes %v, max in flight %d", sizes, e.sink.maxInflight)
	}
	checkContiguous(t, e, e.sink.allCalls())
}

func TestFileAbsentAtStart(t *testing.T) {
	e := newEnv(t)
	tl := e.tailer(Config{}) // StartAt end: still read from 0, the file is new
	stop, _, _ := run(t, tl)
	waitFor(t, "state file", func() bool { _, err := os.Stat(e.state); return err == nil })
	time.Sleep(2 * poll)
	want, text := lines("late", 0, 3)
	appendTo(t, e.path, text)
	e.waitLines(want)
	stopOK(t, stop)
}

func TestReplacedWhileStopped(t *testing.T) {
	e := newEnv(t)
	want, text := lines("one", 0, 2)
	appendTo(t, e.path, text)
	stop, _, _ := run(t, e.tailer(Config{StartAt: "beginning"}))
	e.waitLines(want)
	stopOK(t, stop)

	// Rotated while down.
	if err := os.Rename(e.path, e.path+".1"); err != nil {
		t.Fatal(err)
	}
	two, text := lines("two", 0, 2)
	appendTo(t, e.path, text)
	tl := e.tailer(Config{StartAt: "end"})
	stop, _, _ = run(t, tl)
	e.waitLines(append(want, two...))
	stopOK(t, stop)
	if tl.Stats().Rotations != 1 {
		t.Errorf("stats %+v", tl.Stats())
	}
}

func TestTruncatedWhileStopped(t *testing.T) {
	e := newEnv(t)
	want, text := lines("one", 0, 3)
	appendTo(t, e.path, text)
	stop, _, _ := run(t, e.tailer(Config{StartAt: "beginning"}))
	e.waitLines(want)
	stopOK(t, stop)
	if err := os.WriteFile(e.path, []byte("x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tl := e.tailer(Config{})
	stop, _, _ = run(t, tl)
	e.waitLines(append(want, "x"))
	stopOK(t, stop)
	if tl.Stats().Truncations != 1 {
		t.Errorf("stats %+v", tl.Stats())
	}
}

func TestNewValidates(t *testing.T) {
	sink := newSink()
	for _, c := range []struct {
		cfg   Config
		state string
	}{
		{Config{}, "s"},
		{Config{Path: "p"}, ""},
		{Config{Path: "p", StartAt: "middle"}, "s"},
		{Config{Path: "p", BatchLines: -1}, "s"},
	} {
		if _, err := New(c.cfg, c.state, sink, build, nil); err == nil {
			t.Errorf("New(%+v, %q) accepted", c.cfg, c.state)
		}
	}
	tl, err := New(Config{Path: "p"}, "s", sink, build, nil)
	if err != nil {
		t.Fatal(err)
	}
	if tl.cfg.StartAt != "end" || tl.cfg.PollInterval != defaultPollInterval ||
		tl.cfg.MaxLineBytes != defaultMaxLineBytes || tl.cfg.BatchLines != defaultBatchLines {
		t.Errorf("defaults %+v", tl.cfg)
	}
}

func TestCorruptStateStopsRun(t *testing.T) {
	e := newEnv(t)
	os.MkdirAll(filepath.Dir(e.state), 0o700)
	os.WriteFile(e.state, []byte("{"), 0o600)
	if err := e.tailer(Config{}).Run(context.Background()); err == nil {
		t.Fatal("Run accepted a corrupt state file")
	}
}

func TestSampleConfig(t *testing.T) {
	// The sample is valid riposte.yaml (unknown keys are rejected there).
	p := filepath.Join(t.TempDir(), "riposte.yaml")
	if err := os.WriteFile(p, []byte(SampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _, err := config.LoadFile(p)
	if err != nil {
		t.Fatalf("sample.conf: %v", err)
	}
	if len(c.Ingest.Files) != 2 || c.Ingest.Files[0].Path != "/var/log/auth.log" || c.Ingest.Files[0].StartAt != "end" {
		t.Fatalf("sample.conf decodes to %+v", c.Ingest.Files)
	}
	for _, f := range c.Ingest.Files {
		cfg := Config{Path: f.Path, StartAt: f.StartAt, MaxLineBytes: int(c.Ingest.MaxEventBytes)}
		tl, err := New(cfg, "s", newSink(), build, nil)
		if err != nil {
			t.Fatal(err)
		}
		if tl.cfg.MaxLineBytes != 256<<10 {
			t.Errorf("max line %d", tl.cfg.MaxLineBytes)
		}
	}
	// The YAML tags on Config match the names used in riposte.yaml.
	var doc struct {
		Files []Config `yaml:"files"`
	}
	if err := yaml.Unmarshal([]byte("files:\n- {path: /x, start_at: beginning, poll_interval: 1s, max_line_bytes: 10, batch_lines: 5}\n"), &doc); err != nil {
		t.Fatal(err)
	}
	want := Config{Path: "/x", StartAt: "beginning", PollInterval: time.Second, MaxLineBytes: 10, BatchLines: 5}
	if len(doc.Files) != 1 || doc.Files[0] != want {
		t.Errorf("decoded %+v", doc.Files)
	}
}
