package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/store"
)

const hostile = `<script>alert(1)</script>"><img src=x onerror=alert(1)>`

// wbRig is the console with the real playbook engine (running), the
// undo ledger and the decision store on the rig's database.
type wbRig struct {
	*rig
	respond   *respond.Service
	decisions *decision.Store
}

func newWBRig(t testing.TB) *wbRig {
	t.Helper()
	w := &wbRig{}
	w.rig = newRig(t, func(d *Deps) {
		reg := connector.NewRegistry()
		if err := all.Register(reg, all.Deps{Incidents: d.Alarm}); err != nil {
			t.Fatal(err)
		}
		// Playbooks, undos and decisions in a control database of their
		// own (the rig's is not reachable from here; the stores are the
		// same).
		ctl, err := store.Open(filepath.Join(t.TempDir(), "control.db"), "normal", store.Control)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ctl.Close() })
		ledger := respond.NewLedger(ctl)
		reg, err = ledger.Recording(reg)
		if err != nil {
			t.Fatal(err)
		}
		eng, err := engine.Open(filepath.Join(t.TempDir(), "engine.db"), reg, engine.Options{Sync: "off"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { eng.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		w.respond = &respond.Service{Lib: &respond.Library{Store: rulestore.NewPlaybooks(ctl), Reg: reg}, Engine: eng, Log: d.Log,
			Ledger: ledger, Registry: reg, Note: d.Alarm.Note}
		w.decisions = decision.New(ctl, decision.DefaultSchedule)
		d.Respond, d.Decisions = w.respond, w.decisions
	})
	return w
}

// approvalPlaybook comments (with hostile text), asks a responder with a
// one-field form, then marks the incident contained.
const approvalPlaybook = `id: playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c60
name: Contain with approval
modified: 2026-11-26T00:00:00Z
inputs:
  incident: {type: dictionary, description: The incident}
vars:
  ticket: {type: string, description: The change ticket}
start: note
steps:
  note:
    connector: incident.comment
    args:
      text: 'playbook says <script>alert(1)</script>'
    next: ask
  ask:
    approve:
      question: 'Contain the host? <img src=x onerror=alert(1)>'
      roles: [responder]
    out_args: [ticket]
    timeout: 1h
    on_success: record
    on_failure: declined
  record:
    connector: incident.comment
    args:
      text: ticket __ticket__:value
    next: contain
  contain:
    connector: incident.status
    args:
      status: contained
    next: done
  declined: end
  done: end
`

// startApproval raises an incident, runs the playbook for it and waits
// for its approval to open.
func (w *wbRig) startApproval(t *testing.T) (incID, inquiry string) {
	t.Helper()
	ctx := context.Background()
	incID = w.raise("ssh-brute", "high", "web-20", "203.0.113.20", t0)
	if _, err := w.respond.Put(ctx, []byte(approvalPlaybook), "test", "test"); err != nil {
		t.Fatal(err)
	}
	inc, _ := w.alarm.Store().Get(ctx, incID)
	if _, err := w.respond.Start(ctx, "playbook--0f7b5c1e-3a1d-4b8e-9c2f-7d1e2a3b4c60", respond.StartInput{Incident: inc, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		qs, _ := w.respond.Engine.Inquiries(ctx, engine.InquiryFilter{State: "open"})
		if len(qs) == 1 {
			return incID, qs[0].ID
		}
	}
	t.Fatal("the playbook's approval never opened")
	return "", ""
}

func TestWorkbenchShowsIncident(t *testing.T) {
	w := newWBRig(t)
	incID, q := w.startApproval(t)
	c := w.as(auth.Viewer)
	res, body := c.get("/incidents/" + incID)
	if res.StatusCode != 200 {
		t.Fatalf("workbench: %s", res.Status)
	}
	contains(t, body, "rule ssh-brute", "web-20", "203.0.113.20", `href="/events?q=`,
		"Contain with approval", "Waiting for a person", "Approval: ask", "Asked by step ask", "<svg", `role="img"`, "g-waiting", "g-done", "<details",
		"SLA", "clock-name")
	if strings.Contains(body, "/approvals/"+q+"/approve") {
		t.Error("a viewer is offered the approve button")
	}
	for _, b := range []string{"Assign to me", "Mark triaged", "Close with verdict", "Split"} {
		if strings.Contains(body, b) {
			t.Errorf("a viewer sees %q", b)
		}
	}
	_, body = w.as(auth.Responder).get("/incidents/" + incID)
	contains(t, body, "/approvals/"+q+"/approve", `name="field.__ticket__"`, "Mark triaged", "Mark contained", "Close with verdict")
	if res, _ := c.get("/incidents/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown incident: %s", res.Status)
	}
}

func TestApproveFromWorkbench(t *testing.T) {
	w := newWBRig(t)
	incID, q := w.startApproval(t)
	ctx := context.Background()
	form := url.Values{"comment": {"go ahead"}, "field.__ticket__": {"CHG-42"}, "back": {"/incidents/" + incID}}
	if res := w.as(auth.Responder).postForm("/approvals/"+q+"/approve", form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %s", res.Status)
	}
	if res := w.as(auth.Analyst).post("/approvals/"+q+"/approve", form); res.StatusCode != http.StatusForbidden {
		t.Fatalf("an analyst approving: %s", res.Status)
	}
	if qs, _ := w.respond.Engine.Inquiries(ctx, engine.InquiryFilter{State: "open"}); len(qs) != 1 {
		t.Fatal("a refused answer closed the approval")
	}
	_, body := w.as(auth.Viewer).get("/approvals")
	contains(t, body, "Contain the host? &lt;img src=x onerror=alert(1)&gt;", "/incidents/"+incID)
	if res := w.as(auth.Responder).post("/approvals/"+q+"/approve", form); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/incidents/"+incID {
		t.Fatalf("approve: %s to %s", res.Status, res.Header.Get("Location"))
	}
	qs, _ := w.respond.Engine.Inquiries(ctx, engine.InquiryFilter{})
	if len(qs) != 1 || qs[0].State != "answered" || qs[0].AnsweredBy != "responder1" || qs[0].Comment != "go ahead" {
		t.Fatalf("inquiry after approval: %+v", qs)
	}
	// The run goes on: the incident becomes contained, the graph green.
	var inc *alarm.Incident
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if inc, _ = w.alarm.Store().Get(ctx, incID); inc.Status == alarm.StatusContained {
			break
		}
	}
	if inc.Status != alarm.StatusContained {
		t.Fatalf("status %s after approval, want contained", inc.Status)
	}
	runs, _ := w.respond.Engine.Runs(ctx, engine.RunFilter{Incident: incID})
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && (len(runs) != 1 || runs[0].Status != engine.StatusSucceeded); time.Sleep(20 * time.Millisecond) {
		runs, _ = w.respond.Engine.Runs(ctx, engine.RunFilter{Incident: incID})
	}
	_, body = w.as(auth.Viewer).get("/incidents/" + incID)
	contains(t, body, "CHG-42", "approved by responder1", "run-succeeded")
	if strings.Contains(body, "g-waiting") || strings.Contains(body, "g-failed") {
		t.Error("the run graph still shows a waiting or failed step")
	}
}

func TestDenyFromApprovalsPage(t *testing.T) {
	w := newWBRig(t)
	incID, q := w.startApproval(t)
	if res := w.as(auth.Responder).post("/approvals/"+q+"/deny", url.Values{"comment": {"not now"}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/approvals" {
		t.Fatalf("deny: %s %s", res.Status, res.Header.Get("Location"))
	}
	qs, _ := w.respond.Engine.Inquiries(context.Background(), engine.InquiryFilter{})
	if qs[0].State != "answered" || qs[0].Answer == "approve" {
		t.Fatalf("after deny: %+v", qs[0])
	}
	inc, _ := w.alarm.Store().Get(context.Background(), incID)
	if inc.Status == alarm.StatusContained {
		t.Fatal("a denied approval contained the incident")
	}
}

// TestIncidentForms: each form changes the incident as a person would
// expect, and is refused without the CSRF token and for a viewer.
func TestIncidentForms(t *testing.T) {
	cases := []struct {
		name, path string
		form       url.Values
		check      func(*alarm.Incident) bool
	}{
		{"status", "status", url.Values{"status": {"triaged"}}, func(i *alarm.Incident) bool { return i.Status == alarm.StatusTriaged }},
		{"close with verdict", "status", url.Values{"status": {"closed"}, "verdict": {"false_positive"}, "comment": {"test box"}},
			func(i *alarm.Incident) bool {
				return i.Status == alarm.StatusClosed && i.Verdict == alarm.VerdictFalsePositive
			}},
		{"assign to me", "assign", url.Values{"me": {"1"}}, func(i *alarm.Incident) bool { return i.Assignee == "analyst1" }},
		{"assign to a name", "assign", url.Values{"assignee": {"carol"}}, func(i *alarm.Incident) bool { return i.Assignee == "carol" }},
		{"priority", "priority", url.Values{"priority": {"P1"}, "reason": {"VIP laptop"}},
			func(i *alarm.Incident) bool {
				return i.Priority == "P1" && i.Override != nil && i.Override.Reason == "VIP laptop"
			}},
		{"tags", "tags", url.Values{"add": {"phishing, vip"}}, func(i *alarm.Incident) bool { return strings.Join(i.Tags, ",") == "phishing,vip" }},
		{"verdict", "verdict", url.Values{"verdict": {"benign"}}, func(i *alarm.Incident) bool { return i.Verdict == alarm.VerdictBenign }},
	}
	r := newRig(t, nil)
	a, v := r.as(auth.Analyst), r.as(auth.Viewer)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := r.raise("r-form", "low", fmt.Sprintf("form-host-%d", i), "", t0)
			path := "/incidents/" + id + "/" + tc.path
			if res := a.postForm(path, tc.form); res.StatusCode != http.StatusForbidden {
				t.Errorf("without CSRF: %s", res.Status)
			}
			if res := v.post(path, tc.form); res.StatusCode != http.StatusForbidden {
				t.Errorf("as a viewer: %s", res.Status)
			}
			inc, _ := r.alarm.Store().Get(context.Background(), id)
			if tc.check(inc) {
				t.Fatal("a refused request changed the incident")
			}
			if res := a.post(path, tc.form); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/incidents/"+id {
				t.Fatalf("%s: %s to %q", tc.name, res.Status, res.Header.Get("Location"))
			}
			inc, _ = r.alarm.Store().Get(context.Background(), id)
			if !tc.check(inc) {
				t.Fatalf("the incident did not change: %+v", inc)
			}
		})
	}
	id := r.raise("r-form", "low", "form-host-x", "", t0)
	if res := a.post("/incidents/"+id+"/priority", url.Values{"priority": {"P1"}}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("priority without a reason: %s", res.Status)
	}
}

func TestCommentMentionsAndEscaping(t *testing.T) {
	r := newRig(t, nil)
	id := r.raise("r-c", "low", "c-host", "", t0)
	a := r.as(auth.Analyst)
	text := "@bob look " + hostile + " mail a@b.example"
	if res := a.postForm("/incidents/"+id+"/comment", url.Values{"text": {text}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Viewer).post("/incidents/"+id+"/comment", url.Values{"text": {text}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("as a viewer: %s", res.Status)
	}
	if res := a.post("/incidents/"+id+"/comment", url.Values{"text": {text}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("comment: %s", res.Status)
	}
	tl, _ := r.alarm.Store().Timeline(context.Background(), id)
	if last := tl[len(tl)-1]; last.Kind != "comment" || last.Actor != "user:analyst1" || last.Text != text {
		t.Fatalf("timeline's last entry %+v", last)
	}
	_, body := a.get("/incidents/" + id)
	contains(t, body, `<mark class="mention">@bob</mark>`, "&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;")
	if strings.Contains(body, `<mark class="mention">@b.example`) {
		t.Error("an e-mail address was highlighted as a mention")
	}
	noRaw(t, body)
}

// noRaw fails if hostile markup reached the page unescaped.
func noRaw(t *testing.T, body string) {
	t.Helper()
	for _, raw := range []string{"<script>alert(1)", "<img src=x onerror"} {
		if strings.Contains(body, raw) {
			t.Errorf("raw %q on the page", raw)
		}
	}
}

func TestWorkbenchEscapesAlertsAndTitles(t *testing.T) {
	r := newRig(t, nil)
	a := alert.Alert{ID: event.NewID(t0), Kind: alert.KindSigma, Rule: alert.Rule{ID: "r-x" + hostile, Title: "title " + hostile, Level: "high"},
		Time: t0, Detected: t0, FirstEventTime: t0, EventIDs: []string{"ev" + hostile}}
	a.Entities.Hosts = []string{"h" + hostile}
	a.Entities.Users = []string{"u" + hostile}
	if err := r.alarm.ApplyBatch(context.Background(), []alert.Alert{a}, t0); err != nil {
		t.Fatal(err)
	}
	incs, _ := r.alarm.Store().List(context.Background(), alarm.Filter{Limit: 10})
	if len(incs) != 1 {
		t.Fatalf("%d incidents", len(incs))
	}
	_, body := r.as(auth.Analyst).get("/incidents/" + incs[0].ID)
	contains(t, body, "title &lt;script&gt;alert(1)&lt;/script&gt;", `/events?q=ev%3cscript%3e`)
	noRaw(t, body)
}

func TestMergeAndSplit(t *testing.T) {
	r := newRig(t, nil)
	a := r.as(auth.Analyst)
	tgt := r.raise("r-m", "high", "m-host-1", "", t0)
	src := r.raise("r-m2", "high", "m-host-2", "", t0.Add(time.Hour))
	if res := a.postForm("/incidents/"+tgt+"/merge", url.Values{"sources": {src}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("merge without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Viewer).post("/incidents/"+tgt+"/merge", url.Values{"sources": {src}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("merge as a viewer: %s", res.Status)
	}
	if res := a.post("/incidents/"+tgt+"/merge", url.Values{"sources": {src}, "reason": {"same attacker"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("merge: %s", res.Status)
	}
	s, _ := r.alarm.Store().Get(context.Background(), src)
	if s.MergedInto != tgt {
		t.Fatalf("source merged into %q, want %s", s.MergedInto, tgt)
	}
	alerts, _ := r.alarm.Store().Alerts(context.Background(), tgt)
	if len(alerts) != 2 {
		t.Fatalf("%d alerts after merge", len(alerts))
	}
	_, body := a.get("/incidents/" + tgt)
	contains(t, body, `name="alert" value="`+alerts[1].ID+`"`)
	if res := a.postForm("/incidents/"+tgt+"/split", url.Values{"alert": {alerts[1].ID}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("split without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Viewer).post("/incidents/"+tgt+"/split", url.Values{"alert": {alerts[1].ID}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("split as a viewer: %s", res.Status)
	}
	res := a.post("/incidents/"+tgt+"/split", url.Values{"alert": {alerts[1].ID}, "reason": {"other attacker"}, "back": {"/incidents/" + tgt}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("split: %s", res.Status)
	}
	moved, _ := r.alarm.Store().Alert(context.Background(), alerts[1].ID)
	if moved.IncidentID == tgt || res.Header.Get("Location") != "/incidents/"+moved.IncidentID {
		t.Fatalf("split alert is in %s; redirected to %s", moved.IncidentID, res.Header.Get("Location"))
	}
}

func TestRevertDecisionFromWorkbench(t *testing.T) {
	w := newWBRig(t)
	ctx := context.Background()
	id := w.raise("ssh-brute", "high", "web-30", "203.0.113.30", t0)
	d, err := w.decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.30", Owner: "user:admin1", Reason: "brute " + hostile, Incident: id}, time.Hour, time.Now().UTC())
	if err != nil {
		t.Fatal(err)
	}
	_, body := w.as(auth.Viewer).get("/incidents/" + id)
	contains(t, body, "203.0.113.30", "in force", "brute &lt;script&gt;")
	noRaw(t, body)
	path := "/incidents/" + id + "/decisions/" + d.ID + "/revert"
	if strings.Contains(body, path) {
		t.Error("a viewer sees the revert button")
	}
	if res := w.as(auth.Responder).postForm(path, url.Values{"reason": {"done"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("revert without CSRF: %s", res.Status)
	}
	if res := w.as(auth.Analyst).post(path, url.Values{"reason": {"done"}}); res.StatusCode != http.StatusForbidden {
		t.Fatalf("revert as an analyst: %s", res.Status)
	}
	if got, _ := w.decisions.Get(ctx, d.ID); got.RevertedAt != nil {
		t.Fatal("a refused request reverted the decision")
	}
	other := w.raise("ssh-brute", "high", "web-31", "203.0.113.31", t0)
	if res := w.as(auth.Responder).post("/incidents/"+other+"/decisions/"+d.ID+"/revert", nil); res.StatusCode != http.StatusNotFound {
		t.Fatalf("reverting through another incident: %s", res.Status)
	}
	if res := w.as(auth.Responder).post(path, url.Values{"reason": {"done"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revert: %s", res.Status)
	}
	got, _ := w.decisions.Get(ctx, d.ID)
	if got.RevertedAt == nil || got.RevertedBy != "user:responder1" {
		t.Fatalf("decision after revert: %+v", got)
	}
}

func TestRecoverListsThenUndoes(t *testing.T) {
	w := newWBRig(t)
	ctx := context.Background()
	id := w.raise("ssh-brute", "high", "web-40", "203.0.113.40", t0)
	if _, err := w.decisions.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.40", Owner: "user:admin1", Reason: "brute", Incident: id}, time.Hour, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	w.respond.AfterRecover = func(ctx context.Context, incident, actor string) error {
		_, err := w.decisions.RevertIncident(ctx, incident, actor, time.Now().UTC())
		return err
	}
	res, body := w.as(auth.Viewer).get("/incidents/" + id + "/recover")
	if res.StatusCode != 200 {
		t.Fatalf("undo list: %s", res.Status)
	}
	contains(t, body, "Decisions that will be lifted", "203.0.113.40", "A responder can run recovery")
	if res := w.as(auth.Responder).postForm("/incidents/"+id+"/recover", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("recover without CSRF: %s", res.Status)
	}
	if res := w.as(auth.Analyst).post("/incidents/"+id+"/recover", nil); res.StatusCode != http.StatusForbidden {
		t.Fatalf("recover as an analyst: %s", res.Status)
	}
	if ds, _ := w.decisions.List(ctx, false, time.Now()); len(ds) != 1 {
		t.Fatal("a refused recovery lifted the decision")
	}
	if res := w.as(auth.Responder).post("/incidents/"+id+"/recover", url.Values{"back": {"/incidents/" + id}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("recover: %s", res.Status)
	}
	if ds, _ := w.decisions.List(ctx, false, time.Now()); len(ds) != 0 {
		t.Fatalf("after recovery %d decisions are in force", len(ds))
	}
}

// bigIncident raises one incident of n distinct alerts (same host, each
// of its own user).
func bigIncident(tb testing.TB, r *rig, n int) string {
	// One level: a critical alert on the host would hold (inhibit) the
	// low ones, which then join no incident.
	const batch = 500
	for i := 0; i < n; i += batch {
		var as []alert.Alert
		at := t0.Add(time.Duration(i) * time.Second)
		for j := i; j < min(i+batch, n); j++ {
			at := at.Add(time.Duration(j-i) * time.Millisecond)
			a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma,
				Rule: alert.Rule{ID: fmt.Sprintf("rule-%d", j%40), Title: fmt.Sprintf("Suspicious activity %d", j%40), Level: "high"},
				Time: at, Detected: at, FirstEventTime: at.Add(-time.Second), EventIDs: []string{event.NewID(at), event.NewID(at)}}
			a.Entities.Hosts = []string{"db-01"}
			a.Entities.Users = []string{fmt.Sprintf("svc-%05d", j)}
			as = append(as, a)
		}
		if err := r.alarm.ApplyBatch(context.Background(), as, at); err != nil {
			tb.Fatal(err)
		}
	}
	incs, err := r.alarm.Store().List(context.Background(), alarm.Filter{Limit: 10})
	if err != nil || len(incs) != 1 {
		tb.Fatalf("%d incidents (%v), want 1", len(incs), err)
	}
	if incs[0].AlertCount != n {
		tb.Fatalf("the incident has %d alerts, want %d", incs[0].AlertCount, n)
	}
	return incs[0].ID
}

func TestWorkbench5000AlertsWeight(t *testing.T) {
	if testing.Short() {
		t.Skip("raises 5,000 alerts")
	}
	r := newRig(t, nil)
	id := bigIncident(t, r, 5000)
	c := r.as(auth.Analyst)
	start := time.Now()
	res, body := c.get("/incidents/" + id)
	took := time.Since(start)
	if res.StatusCode != 200 {
		t.Fatalf("workbench: %s", res.Status)
	}
	if len(body) >= 500<<10 {
		t.Errorf("the workbench of 5,000 alerts weighs %d KB, want under 500 KB", len(body)>>10)
	}
	t.Logf("5,000 alerts: %d KB in %s", len(body)>>10, took)
	contains(t, body, "Alerts 1–100 of 5000", "Older alerts", "Suspicious activity 39")
	if n := len(regexp.MustCompile(`name="alert" value=`).FindAllString(body, -1)); n != alertPageSize {
		t.Errorf("%d alerts on the first page, want %d", n, alertPageSize)
	}
	_, body = c.get("/incidents/" + id + "?alerts=49")
	contains(t, body, "Alerts 4901–5000 of 5000", "Newer alerts")
	if strings.Contains(body, "Older alerts") {
		t.Error("the last page offers older alerts")
	}
}

func BenchmarkWorkbench5000Alerts(b *testing.B) {
	r := newRig(b, nil)
	id := bigIncident(b, r, 5000)
	c := r.as(auth.Analyst)
	var size int
	b.ResetTimer()
	for b.Loop() {
		res, body := c.get("/incidents/" + id)
		if res.StatusCode != 200 {
			b.Fatal(res.Status)
		}
		size = len(body)
	}
	b.ReportMetric(float64(size), "page-bytes")
}
