// Package browsertest runs a real, headless Chromium (Debian's chromium
// package) for tests that must see what a person sees: the console's pages
// after their JavaScript ran, keyboard use, dialogs that an injected script
// would open, accessibility (axe-core, vendored in axe/) and screenshots.
//
// A test calls New for a browser with one tab, drives it with chromedp
// (directly, or with Do for steps that fail the test), and checks the page
// with Dialogs, Errors, Axe and Screenshot:
//
//	ctx := browsertest.New(t)
//	browsertest.Do(t, ctx, chromedp.Navigate(srv.URL+"/"))
//	browsertest.AssertNoDialogs(t, ctx)
//	browsertest.AssertAxe(t, ctx, "queue")
//	browsertest.Screenshot(t, ctx, "queue")
//
// Without chromium a test skips, naming it; under CI=true it fails
// (internal/testenv).
package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/riposte-soar/riposte/internal/testenv"
)

// StepTimeout bounds each call of Do, Axe and Screenshot, so that a page
// that never shows what a step waits for fails that step instead of hanging
// until go test's own timeout kills every test of the package. Generous for
// a loaded 2-core CI machine; a step that must wait longer can use chromedp
// with its own context.WithTimeout(ctx, ...).
const StepTimeout = 30 * time.Second

// startTimeout bounds the browser's start: chromium starts in about a
// second, so a minute means it is stuck.
const startTimeout = time.Minute

// Size of the window: the width of a laptop screen, so that screenshots and
// layout match what most analysts see.
const width, height = 1280, 800

// Dialog is a JavaScript dialog (alert, confirm, prompt, beforeunload) that
// the page opened. Every one is recorded and dismissed at once, so a page
// never stalls on it; a console page opens none, so one is a sign that
// injected script ran.
type Dialog struct {
	Type    string // "alert", "confirm", "prompt" or "beforeunload"
	Message string // the text the dialog would show
	URL     string // the page that opened it
}

func (d Dialog) String() string { return fmt.Sprintf("%s(%q) on %s", d.Type, d.Message, d.URL) }

// PageError is something the page reported as going wrong: a console.error
// or console.assert call, an uncaught exception or unhandled promise
// rejection, or an error in the browser's log (a resource that failed to
// load, a Content-Security-Policy violation).
type PageError struct {
	Kind string // "console.error", "console.assert", "exception" or "log" (with its source, e.g. "log/network")
	Text string // the message as the DevTools console shows it
	URL  string // the script or resource it came from, when known
	Line int64  // the line in URL, from 1; 0 when unknown
}

func (e PageError) String() string {
	s := e.Kind + ": " + e.Text
	if e.URL != "" {
		s += " (" + e.URL
		if e.Line > 0 {
			s += fmt.Sprintf(":%d", e.Line)
		}
		s += ")"
	}
	return s
}

// recorder keeps what the tab reported. Its listener runs on chromedp's
// reader goroutine, in the order the browser sent the messages, replies to
// commands included: an event the page sent before the reply to a step is
// recorded before that step returns.
type recorder struct {
	mu      sync.Mutex
	dialogs []Dialog
	errors  []PageError
}

type recorderKey struct{}

func recorderOf(ctx context.Context) *recorder {
	r, _ := ctx.Value(recorderKey{}).(*recorder)
	if r == nil {
		panic("browsertest: the context does not come from browsertest.New")
	}
	return r
}

// New starts a headless Chromium with a fresh profile in t.TempDir() and
// returns the context of its one tab, for chromedp and for this package's
// helpers. The browser stops when the test ends; if the test failed, a
// screenshot of the tab (named after the test, with "-failed") is written
// first, and the page's dialogs and errors are logged. Each call starts its
// own browser, with its own cookies: two users are two calls.
func New(t testing.TB) context.Context {
	t.Helper()
	exe, err := exec.LookPath("chromium")
	testenv.Need(t, err == nil, "Debian's Chromium browser for the browser tests (apt-get install chromium): %v", err)

	out := &cappedBuffer{max: 64 << 10}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
		chromedp.CombinedOutput(out),
		// The flags a test browser needs whatever chromedp's defaults
		// become. Root (as in CI) needs --no-sandbox; no GPU here; and no
		// traffic of its own (QUIC, component and background updates,
		// sync): tests talk to loopback servers only.
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	rec := &recorder{}
	var tab context.Context
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) { rec.event(tab, ev) }))
	tab = ctx

	// The first run starts the browser and binds its life to ctx, so ctx
	// takes no deadline; a timer cancels a start that hangs instead.
	timer := time.AfterFunc(startTimeout, cancelTab)
	err = chromedp.Do(ctx)
	if !timer.Stop() {
		err = fmt.Errorf("no answer within %v", startTimeout)
	}
	if err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("browsertest: starting %s: %v\nchromium printed:\n%s", exe, err, out)
	}

	ctx = context.WithValue(ctx, recorderKey{}, rec)
	t.Cleanup(func() {
		if t.Failed() {
			reportFailure(t, ctx)
		}
		cancelTab()
		cancelAlloc()
	})
	return ctx
}

// reportFailure leaves what helps to see why a browser test failed.
func reportFailure(t testing.TB, ctx context.Context) {
	r := recorderOf(ctx)
	r.mu.Lock()
	for _, d := range r.dialogs {
		t.Logf("browsertest: dialog %v", d)
	}
	for _, e := range r.errors {
		t.Logf("browsertest: page error %v", e)
	}
	r.mu.Unlock()
	if p, err := writeScreenshot(ctx, t.Name()+"-failed"); err != nil {
		t.Logf("browsertest: no screenshot of the failed test: %v", err)
	} else {
		t.Logf("browsertest: screenshot of the failed test: %s", p)
	}
}

// Do runs chromedp steps in the tab, each call within StepTimeout, and
// fails the test naming the error and the page's URL if one fails.
func Do(t testing.TB, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, StepTimeout)
	defer cancel()
	if err := chromedp.Do(sctx, steps...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("not done within %v: %w", StepTimeout, err)
		}
		t.Fatalf("browsertest: on %s: %v", location(ctx), err)
	}
}

// location is the tab's URL, for messages.
func location(ctx context.Context) string {
	lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	u, err := chromedp.Run(lctx, chromedp.Location())
	if err != nil {
		return "(unknown page)"
	}
	return u
}

// Dialogs returns the JavaScript dialogs the tab opened since New, oldest
// first. Each was dismissed (Cancel) as it opened.
func Dialogs(ctx context.Context) []Dialog {
	r := recorderOf(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Dialog(nil), r.dialogs...)
}

// Errors returns what the tab reported as going wrong since New, oldest
// first (see PageError).
func Errors(ctx context.Context) []PageError {
	r := recorderOf(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]PageError(nil), r.errors...)
}

// AssertNoDialogs fails the test, listing them, if the tab opened any
// JavaScript dialog: the check that injected markup did not run as script.
func AssertNoDialogs(t testing.TB, ctx context.Context) {
	t.Helper()
	if ds := Dialogs(ctx); len(ds) > 0 {
		t.Errorf("the page opened %d JavaScript dialog(s) (did injected text run as script?):\n%s", len(ds), list(ds))
	}
}

// AssertNoErrors fails the test, listing them, if the tab reported any
// console error, uncaught exception or error in the browser's log.
func AssertNoErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	if es := Errors(ctx); len(es) > 0 {
		t.Errorf("the page reported %d error(s):\n%s", len(es), list(es))
	}
}

func list[T fmt.Stringer](xs []T) string {
	var b strings.Builder
	for _, x := range xs {
		b.WriteString("  ")
		b.WriteString(x.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// event records one event of the tab. It runs on chromedp's reader
// goroutine, so it must not send a command itself: the dialog is dismissed
// from a goroutine of its own.
func (r *recorder) event(tab context.Context, ev any) {
	switch ev := ev.(type) {
	case *page.EventJavascriptDialogOpening:
		r.mu.Lock()
		r.dialogs = append(r.dialogs, Dialog{Type: string(ev.Type), Message: ev.Message, URL: ev.URL})
		r.mu.Unlock()
		go func() {
			// Fails only when the tab is gone, and then nothing waits on
			// the dialog any more.
			_, _ = chromedp.Call(tab, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: false})
		}()
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError && ev.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		e := PageError{Kind: "console." + string(ev.Type), Text: argsText(ev.Args)}
		if st := ev.StackTrace; st != nil && len(st.CallFrames) > 0 {
			e.URL, e.Line = st.CallFrames[0].URL, st.CallFrames[0].LineNumber+1
		}
		r.add(e)
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		if d == nil {
			return
		}
		text := d.Text
		if o := d.Exception; o != nil {
			// The description holds the stack after the message.
			desc, _, _ := strings.Cut(valueText(o), "\n    at ")
			text = strings.TrimSpace(text + " " + desc)
		}
		r.add(PageError{Kind: "exception", Text: text, URL: d.URL, Line: d.LineNumber + 1})
	case *log.EventEntryAdded:
		en := ev.Entry
		if en == nil || en.Level != log.EntryLevelError {
			return
		}
		line := en.LineNumber
		if line > 0 {
			line++
		}
		r.add(PageError{Kind: "log/" + string(en.Source), Text: en.Text, URL: en.URL, Line: line})
	}
}

func (r *recorder) add(e PageError) {
	r.mu.Lock()
	r.errors = append(r.errors, e)
	r.mu.Unlock()
}

// argsText renders a console call's arguments roughly as DevTools does.
func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		parts = append(parts, valueText(a))
	}
	return strings.Join(parts, " ")
}

func valueText(o *runtime.RemoteObject) string {
	if o == nil {
		return "null"
	}
	if o.Type == runtime.RemoteObjectTypeString {
		var s string
		if json.Unmarshal(o.Value, &s) == nil {
			return s
		}
	}
	switch {
	case o.UnserializableValue != "":
		return string(o.UnserializableValue)
	case o.Description != "":
		return o.Description
	case len(o.Value) > 0:
		return string(o.Value)
	}
	return string(o.Type)
}

// cappedBuffer keeps the first max bytes chromium prints, for the message
// of a failed start; the browser writes from its own goroutine.
type cappedBuffer struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (b *cappedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
