package all

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/connector"
	httpc "github.com/riposte-soar/riposte/connector/http"
	"github.com/riposte-soar/riposte/connector/incidentops"
	"github.com/riposte-soar/riposte/connector/notifyops"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/notify"
	"github.com/riposte-soar/riposte/store"
)

type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
}

func (r *recorder) Notify(m notify.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }

func newService(t *testing.T) (*alarm.Service, string) {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "r.db"), "normal", store.Control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	s, err := alarm.NewService(ctx, alarm.DefaultConfig(), db, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC()
	a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma, Rule: alert.Rule{ID: "r1", Title: "rule", Level: "high"},
		Time: at, Detected: at, FirstEventTime: at, EventIDs: []string{event.NewID(at)}}
	a.Entities.Hosts = []string{"web-1"}
	if err := s.ApplyBatch(ctx, []alert.Alert{a}, at); err != nil {
		t.Fatal(err)
	}
	incs, err := s.Store().List(ctx, alarm.Filter{})
	if err != nil || len(incs) != 1 {
		t.Fatalf("%v %d incidents", err, len(incs))
	}
	return s, incs[0].ID
}

func TestRegisterAll(t *testing.T) {
	s, _ := newService(t)
	reg := connector.NewRegistry()
	if err := Register(reg, Deps{Incidents: s, Notifier: &recorder{}}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, sp := range reg.List() {
		names = append(names, sp.Name)
		if sp.SampleConfig == "" || sp.Description == "" || len(sp.Operations) == 0 {
			t.Errorf("%s: incomplete spec", sp.Name)
		}
	}
	if got := strings.Join(names, ","); got != "http,incident,notify,set,wait" {
		t.Fatalf("registered %s", got)
	}
	if op, ok := reg.Operation("incident", "status"); !ok || !op.Idempotent {
		t.Fatal("incident.status not declared idempotent")
	}
	reg = connector.NewRegistry()
	if err := Register(reg, Deps{}); err != nil || len(reg.List()) != 3 {
		t.Fatalf("without deps: %v %d", err, len(reg.List()))
	}
	if err := Register(connector.NewRegistry(), Deps{HTTP: httpc.Config{AllowHosts: []string{"not a host"}}}); err == nil {
		t.Fatal("bad http config accepted")
	}
}

// Untrusted values go through every connector as data: nothing runs, the
// values arrive as given where they are passed on, and they are bounded
// where the connector documents a bound.
func TestInjectionIsInertData(t *testing.T) {
	canary := filepath.Join(t.TempDir(), "pwned")
	payloads := []string{
		"; touch " + canary,
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"| touch " + canary + " && echo",
		"{{.}}", `{{printf "%s" .}}`, "{{ exec \"touch\" }}", "${jndi:ldap://x}",
		"../../../../etc/passwd", "..\\..\\windows\\system32",
		"<script>alert(1)</script>", "line\r\nX-Injected: 1",
	}
	big := strings.Repeat("A", 1<<20)
	const maxLine = 1024 // limit.Command

	var mu sync.Mutex
	var gotBodies [][]byte
	var gotHeader string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotBodies = append(gotBodies, b)
		gotHeader = r.Header.Get("X-Note")
		mu.Unlock()
		w.Write(b) // echo: a large answer is cut in the outputs
	}))
	defer srv.Close()

	s, id := newService(t)
	rec := &recorder{}
	reg := connector.NewRegistry()
	if err := Register(reg, Deps{Incidents: s, Notifier: rec, HTTP: httpc.Config{AllowHosts: []string{"127.0.0.1"}}}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	run := func(name string, c connector.Call) (connector.Result, error) {
		t.Helper()
		conn, _ := reg.Get(name)
		c.RunID, c.StepID, c.Incident = "run-inj", "s", id
		if c.IdempotencyKey == "" {
			c.IdempotencyKey = "run-inj/" + name + "/" + c.Operation + "/" + time.Now().Format(time.RFC3339Nano)
		}
		sim, serr := conn.Simulate(ctx, c)
		res, err := conn.Execute(ctx, c)
		for _, r := range []connector.Result{sim, res} {
			for _, cmd := range r.Commands {
				if len(cmd) > maxLine {
					t.Errorf("%s.%s: command of %d bytes", name, c.Operation, len(cmd))
				}
			}
			if len(r.Summary) > maxLine {
				t.Errorf("%s.%s: summary of %d bytes", name, c.Operation, len(r.Summary))
			}
		}
		for _, e := range []error{serr, err} {
			if e != nil && len(e.Error()) > 4*maxLine {
				t.Errorf("%s.%s: error of %d bytes", name, c.Operation, len(e.Error()))
			}
		}
		return res, err
	}

	all := append(append([]string{}, payloads...), big)
	for _, p := range all {
		// set: values come back exactly; the 1 MB one is over the bound.
		res, err := run("set", connector.Call{Operation: "vars", Args: map[string]any{"values": map[string]any{"v": p}}})
		if p == big {
			if connector.ClassOf(err) != connector.Permanent || err == nil {
				t.Errorf("set: 1 MB value: %v, want refused by max_bytes", err)
			}
		} else if err != nil || res.Outputs["v"] != p {
			t.Errorf("set %q: %v %v", p, err, res.Outputs)
		}

		// wait: not a duration, refused with a bounded message.
		if _, err := run("wait", connector.Call{Operation: "sleep", Args: map[string]any{"duration": p}}); connector.ClassOf(err) != connector.Permanent || err == nil {
			t.Errorf("wait %q: %v", limitS(p), err)
		}

		// http: the body arrives as the JSON of the value; header values
		// arrive as given (or are refused when they hold a line break).
		hdr := p
		if p == big {
			hdr = "big"
		}
		res, err = run("http", connector.Call{Operation: "request", Args: map[string]any{
			"method": "POST", "url": srv.URL + "/hook/" + strings.ReplaceAll(p[:min(len(p), 64)], "%", "%25"),
			"body": map[string]any{"v": p}, "headers": map[string]any{"X-Note": hdr},
		}})
		if strings.ContainsAny(p, "\r\n") {
			if connector.ClassOf(err) != connector.Permanent || err == nil {
				t.Errorf("http: header with CRLF: %v", err)
			}
		} else if err != nil {
			t.Errorf("http %q: %v", limitS(p), err)
		} else {
			mu.Lock()
			var got map[string]any
			json.Unmarshal(gotBodies[len(gotBodies)-1], &got)
			if got["v"] != p || gotHeader != hdr {
				t.Errorf("http %q: server got %q / %q", limitS(p), limitS(got["v"]), gotHeader)
			}
			mu.Unlock()
			if body := res.Outputs["body"].(string); len(body) > httpc.DefaultMaxBodyBytes {
				t.Errorf("http: output body of %d bytes", len(body))
			}
		}

		// incident: a comment is stored as text, cut to MaxComment; tags are
		// stored as given; an incident argument is an ID, not a path.
		if _, err := run("incident", connector.Call{Operation: "comment", Args: map[string]any{"text": p}}); err != nil {
			t.Errorf("incident.comment %q: %v", limitS(p), err)
		}
		if p != big && !strings.ContainsAny(p, "\r\n") {
			if _, err := run("incident", connector.Call{Operation: "tag", Args: map[string]any{"add": []any{p}}}); err != nil {
				t.Errorf("incident.tag %q: %v", p, err)
			}
		}
		if _, err := run("incident", connector.Call{Operation: "status", Args: map[string]any{"status": "closed", "incident": p}}); err == nil {
			t.Errorf("incident.status on incident %q accepted", limitS(p))
		}

		// notify: text handed over as given, cut to MaxText.
		if _, err := run("notify", connector.Call{Operation: "send", Args: map[string]any{"event": "new", "text": p, "title": p}}); err != nil {
			t.Errorf("notify %q: %v", limitS(p), err)
		}
	}
	if _, err := os.Stat(canary); err == nil {
		t.Fatal("a payload ran a command")
	}
	// What reached the incident is the text, bounded.
	tl, err := s.Store().Timeline(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var comments []string
	for _, e := range tl {
		if e.Kind == "comment" {
			comments = append(comments, e.Text)
		}
	}
	if len(comments) != len(all) {
		t.Fatalf("%d comments, want %d", len(comments), len(all))
	}
	for i, p := range payloads {
		if comments[i] != p {
			t.Errorf("comment %q stored as %q", p, comments[i])
		}
	}
	if last := comments[len(comments)-1]; len(last) > incidentops.MaxComment || !strings.Contains(last, "truncated") {
		t.Errorf("1 MB comment stored as %d bytes", len(last))
	}
	inc, _ := s.Store().Get(ctx, id)
	if inc.Status == alarm.StatusClosed {
		t.Error("an injected incident ID changed the run's incident")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.msgs) != len(all) {
		t.Fatalf("%d notifications, want %d", len(rec.msgs), len(all))
	}
	for i, p := range payloads {
		if rec.msgs[i].Text != p {
			t.Errorf("notification text %q sent as %q", p, rec.msgs[i].Text)
		}
	}
	if m := rec.msgs[len(rec.msgs)-1]; len(m.Text) > notifyops.MaxText || len(m.Incident.Title) > notifyops.MaxTitle {
		t.Errorf("1 MB notification: text %d, title %d bytes", len(m.Text), len(m.Incident.Title))
	}
}

func limitS(v any) string {
	s, _ := v.(string)
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}
