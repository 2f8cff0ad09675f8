package slackapprove

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/api"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/set"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/secret"
)

// The store's tests and the round trips hold on SQLite and PostgreSQL
// control databases.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestLinks, TestRoundTrip, TestRefusals, TestReplayRemembered)
}

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// approvalPlaybook asks responders, then sets a variable (the run going on
// after the answer is what a person waits for).
const approvalPlaybook = `id: playbook--5a1d0c2e-3b4f-4c6d-8e9f-0a1b2c3d4e5f
name: Block with approval
modified: 2026-11-26T00:00:00Z
start: ask
steps:
  ask:
    approve:
      question: 'Block 203.0.113.7 everywhere? <!channel> *now*'
      roles: [responder]
    timeout: 1h
    on_success: after
    on_failure: declined
  after:
    connector: set.vars
    args:
      values: {blocked: true}
    next: done
  declined: end
  done: end
`

// slackFake is Slack: it takes the incoming webhook's posts and the
// response_url updates, and keeps them.
type slackFake struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hook []Message
	resp map[string][]map[string]any // by path
}

func newSlackFake(t *testing.T) *slackFake {
	f := &slackFake{resp: map[string][]map[string]any{}}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "invalid_payload", http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Path == "/services/T0/B0/hook" {
			var m Message
			if err := json.Unmarshal(b, &m); err != nil {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
				return
			}
			f.hook = append(f.hook, m)
		} else {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				http.Error(w, "invalid_payload", http.StatusBadRequest)
				return
			}
			f.resp[r.URL.Path] = append(f.resp[r.URL.Path], m)
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *slackFake) responses(path string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.resp[path]...)
}

type rig struct {
	t      *testing.T
	svc    *Service
	eng    *engine.Engine
	users  *auth.Users
	links  *Store
	slack  *slackFake
	url    string // the API's interactions URL
	pb     *playbook.Playbook
	mu     sync.Mutex
	audits []engine.AuditRecord
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, slack: newSlackFake(t)}
	ctx := context.Background()
	ctl := storetest.Control(t)
	secrets, err := secret.New(ctl, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if err := secrets.Set(ctx, "slack-signing", []byte(signingSecret), "test"); err != nil {
		t.Fatal(err)
	}
	if err := secrets.Set(ctx, "slack-hook", []byte(r.slack.srv.URL+"/services/T0/B0/hook"), "test"); err != nil {
		t.Fatal(err)
	}
	r.users = auth.NewUsers(ctl, auth.UserOptions{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	for name, role := range map[string]auth.Role{"alice": auth.Responder, "vic": auth.Viewer, "bob": auth.Responder, "ann": auth.Admin} {
		if _, err := r.users.Add(ctx, name, role, "correct horse battery staple", "test"); err != nil {
			t.Fatal(err)
		}
	}
	r.links = NewStore(ctl)
	for name, id := range map[string]string{"alice": "UALICE01", "vic": "UVIC0001", "ann": "UANN0001"} {
		if _, err := r.links.Link(ctx, r.users, name, id, "test"); err != nil {
			t.Fatal(err)
		}
	}
	reg := connector.NewRegistry()
	if err := reg.Register(set.New(set.Config{})); err != nil {
		t.Fatal(err)
	}
	r.eng, err = engine.Open(filepath.Join(t.TempDir(), "engine.db"), reg, engine.Options{Sync: "off", Poll: 20 * time.Millisecond,
		AuditSink: func(_ context.Context, recs []engine.AuditRecord) error {
			r.mu.Lock()
			defer r.mu.Unlock()
			r.audits = append(r.audits, recs...)
			return nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { r.eng.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; r.eng.Close() })

	cfg, err := ParseConfig([]byte(fmt.Sprintf("signing_secret: secret://slack-signing\napprovals_webhook: secret://slack-hook\n"+
		"team_id: T0TEAM\nresponse_url_prefix: %s/actions/\npoll: 50ms\n", r.slack.srv.URL)), 1)
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = New(cfg, Deps{Engine: r.eng, Users: r.users, Store: r.links, Secrets: secrets,
		PublicURL: "https://riposte.example/", Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.New(api.Deps{Slack: r.svc, Log: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	r.url = srv.URL + "/api/v1/hooks/slack/interactions"
	var errs []playbook.Error
	if r.pb, errs = playbook.ParseYAML([]byte(approvalPlaybook)); len(errs) > 0 {
		t.Fatal(errs)
	}
	return r
}

// start starts a run and waits for its approval to be open and posted.
func (r *rig) start() (run string, q engine.Inquiry) {
	r.t.Helper()
	ctx := context.Background()
	run, err := r.eng.Start(ctx, r.pb, 1, nil, "")
	if err != nil {
		r.t.Fatal(err)
	}
	r.eventually("the approval opens", func() bool {
		qs, _ := r.eng.Inquiries(ctx, engine.InquiryFilter{State: "open", RunID: run})
		if len(qs) == 1 {
			q = qs[0]
		}
		return len(qs) == 1
	})
	if _, err := r.svc.PostOpen(ctx); err != nil {
		r.t.Fatal(err)
	}
	return run, q
}

func (r *rig) eventually(what string, ok func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// payload is a block_actions payload as Slack sends it for a click.
func (r *rig) payload(user, team, action, value, respPath string) []byte {
	p := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": "someone", "team_id": team},
		"team": map[string]any{"id": team, "domain": "acme"}, "api_app_id": "A0APP",
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000100"},
		"response_url": r.slack.srv.URL + respPath, "trigger_id": "1.2.3",
		"actions": []map[string]any{{"type": "button", "action_id": action, "block_id": "riposte_approval", "value": value,
			"action_ts": "1700000001.000200"}},
	}
	b, _ := json.Marshal(p)
	return []byte("payload=" + url.QueryEscape(string(b)))
}

// post sends body to the API signed with secret at ts, as Slack does.
func (r *rig) post(body []byte, secret string, ts time.Time) (int, map[string]any) {
	r.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, r.url, strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Slack-Request-Timestamp", fmt.Sprint(ts.Unix()))
	req.Header.Set("X-Slack-Signature", Sign([]byte(secret), ts.Unix(), body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	r.svc.Wait()
	return resp.StatusCode, out
}

func (r *rig) state(id string) engine.Inquiry {
	qs, err := r.eng.Inquiries(context.Background(), engine.InquiryFilter{})
	if err != nil {
		r.t.Fatal(err)
	}
	for _, q := range qs {
		if q.ID == id {
			return q
		}
	}
	r.t.Fatalf("no inquiry %s", id)
	return engine.Inquiry{}
}

func TestRoundTrip(t *testing.T) {
	r := newRig(t)
	run, q := r.start()

	// The approval was posted once, with its buttons and escaped text.
	if len(r.slack.hook) != 1 {
		t.Fatalf("%d messages posted, want 1", len(r.slack.hook))
	}
	if n, err := r.svc.PostOpen(context.Background()); err != nil || n != 0 {
		t.Fatalf("second pass posted %d (%v), want none", n, err)
	}
	m := r.slack.hook[0]
	raw, _ := json.Marshal(m)
	for _, want := range []string{`"action_id":"riposte_approve","value":"` + q.ID, `"action_id":"riposte_deny","value":"` + q.ID,
		`\u0026lt;!channel\u0026gt; *now*`, `"url":"https://riposte.example/approvals"`, "role responder"} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("message lacks %s:\n%s", want, raw)
		}
	}
	if strings.Contains(string(raw), "<!channel>") {
		t.Errorf("the question's mention was not escaped: %s", raw)
	}

	code, out := r.post(r.payload("UALICE01", "T0TEAM", ActionApprove, q.ID, "/actions/T0/1/abc"), signingSecret, time.Now())
	if code != http.StatusOK || out["outcome"] != "answered" || out["user"] != "alice" {
		t.Fatalf("answer: %d %v", code, out)
	}
	if got := r.state(q.ID); got.State != "answered" || got.AnsweredBy != "alice" || got.Answer != "approved" {
		t.Fatalf("inquiry after approve: %+v", got)
	}
	// The run goes on through its next step (start, ask, after, done: four
	// steps visited; the denied run below visits three).
	r.eventually("the run succeeds", func() bool {
		v, err := r.eng.GetRun(context.Background(), run)
		return err == nil && v.Snapshot.Status == "succeeded" && len(v.Snapshot.Visits) == 4
	})
	// The Slack message is replaced by who answered.
	rs := r.slack.responses("/actions/T0/1/abc")
	if len(rs) != 1 || rs[0]["replace_original"] != true || !strings.Contains(fmt.Sprint(rs[0]["text"]), "Approved by alice (responder) in Slack at ") {
		t.Fatalf("response_url got %v", rs)
	}
	if _, hasButtons := fmt.Sprint(rs[0]["blocks"]), strings.Contains(fmt.Sprint(rs[0]["blocks"]), "riposte_approve"); hasButtons {
		t.Errorf("the updated message still has buttons: %v", rs[0]["blocks"])
	}
	// The audit entry names the person and the channel.
	r.eventually("the answer is audited", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, a := range r.audits {
			if a.Action == "approval.approve" && a.Target == "approval:"+q.ID {
				var d map[string]any
				_ = json.Unmarshal(a.Detail, &d)
				if a.Actor != "user:alice" || d["channel"] != "slack" {
					t.Fatalf("audit entry: actor %s detail %s", a.Actor, a.Detail)
				}
				return true
			}
		}
		return false
	})

	// Deny from an admin on another run: the run takes its failure path.
	run2, q2 := r.start()
	code, out = r.post(r.payload("UANN0001", "T0TEAM", ActionDeny, q2.ID, "/actions/T0/2/def"), signingSecret, time.Now())
	if code != http.StatusOK || out["outcome"] != "answered" {
		t.Fatalf("deny: %d %v", code, out)
	}
	if got := r.state(q2.ID); got.State != "answered" || got.Answer != "denied" || got.AnsweredBy != "ann" {
		t.Fatalf("inquiry after deny: %+v", got)
	}
	r.eventually("the denied run ends", func() bool {
		v, err := r.eng.GetRun(context.Background(), run2)
		return err == nil && v.Snapshot.Status == "succeeded" && len(v.Snapshot.Visits) == 3
	})
	if rs := r.slack.responses("/actions/T0/2/def"); len(rs) != 1 || !strings.Contains(fmt.Sprint(rs[0]["text"]), "Denied by ann (admin)") {
		t.Fatalf("response_url after deny got %v", rs)
	}
}

func TestRefusals(t *testing.T) {
	r := newRig(t)
	_, q := r.start()
	old := time.Now().Add(-6 * time.Minute)
	tests := []struct {
		name     string
		body     []byte
		secret   string
		at       time.Time
		code     int
		reason   string // in the HTTP answer (code) or the ephemeral message
		resp     string // response_url path that must get the ephemeral message
		tamper   func(*http.Request)
		wantResp bool
	}{
		{name: "wrong signing secret", body: r.payload("UALICE01", "T0TEAM", ActionApprove, q.ID, "/actions/r/1"), secret: "not the secret",
			at: time.Now(), code: 401, reason: "bad_signature", resp: "/actions/r/1"},
		{name: "old timestamp", body: r.payload("UALICE01", "T0TEAM", ActionApprove, q.ID, "/actions/r/2"), secret: signingSecret,
			at: old, code: 401, reason: "more than 5 minutes from now", resp: "/actions/r/2"},
		{name: "future timestamp", body: r.payload("UALICE01", "T0TEAM", ActionApprove, q.ID, "/actions/r/3"), secret: signingSecret,
			at: time.Now().Add(6 * time.Minute), code: 401, reason: "more than 5 minutes from now", resp: "/actions/r/3"},
		{name: "unlinked Slack user", body: r.payload("UNOBODY1", "T0TEAM", ActionApprove, q.ID, "/actions/r/4"), secret: signingSecret,
			at: time.Now(), code: 200, reason: "not linked to a Riposte user", resp: "/actions/r/4", wantResp: true},
		{name: "viewer", body: r.payload("UVIC0001", "T0TEAM", ActionApprove, q.ID, "/actions/r/5"), secret: signingSecret,
			at: time.Now(), code: 200, reason: "Your Riposte role (viewer) may not answer approvals", resp: "/actions/r/5", wantResp: true},
		{name: "viewer denying", body: r.payload("UVIC0001", "T0TEAM", ActionDeny, q.ID, "/actions/r/6"), secret: signingSecret,
			at: time.Now(), code: 200, reason: "may not answer approvals", resp: "/actions/r/6", wantResp: true},
		{name: "other workspace", body: r.payload("UALICE01", "T0OTHER", ActionApprove, q.ID, "/actions/r/7"), secret: signingSecret,
			at: time.Now(), code: 200, reason: "workspace may not answer", resp: "/actions/r/7", wantResp: true},
		{name: "unknown approval", body: r.payload("UALICE01", "T0TEAM", ActionApprove, "inq-nope", "/actions/r/8"), secret: signingSecret,
			at: time.Now(), code: 200, reason: "does not exist", resp: "/actions/r/8", wantResp: true},
		{name: "body too large", body: append([]byte("payload="), strings.Repeat("x", MaxBody)...), secret: signingSecret,
			at: time.Now(), code: 413, reason: "too_large"},
		{name: "signed garbage", body: []byte("payload=%7Bnot json"), secret: signingSecret, at: time.Now(), code: 400, reason: "bad_payload"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out := r.post(tc.body, tc.secret, tc.at)
			if code != tc.code {
				t.Fatalf("status %d, want %d (%v)", code, tc.code, out)
			}
			got := fmt.Sprint(out["error"], " ", out["reason"])
			if !tc.wantResp && !strings.Contains(got, tc.reason) {
				t.Errorf("answer %v lacks %q", out, tc.reason)
			}
			if tc.resp != "" {
				rs := r.slack.responses(tc.resp)
				switch {
				case !tc.wantResp && len(rs) > 0:
					t.Errorf("Slack was answered for a refused request: %v", rs)
				case tc.wantResp && (len(rs) != 1 || rs[0]["response_type"] != "ephemeral" || rs[0]["replace_original"] != false ||
					!strings.Contains(fmt.Sprint(rs[0]["text"]), tc.reason)):
					t.Errorf("ephemeral answer %v, want one containing %q", rs, tc.reason)
				}
			}
			if got := r.state(q.ID); got.State != "open" {
				t.Fatalf("the approval is %s after a refused click", got.State)
			}
		})
	}

	// The same signed request twice: the second is a replay. (The first is
	// refused for its user, so the engine cannot be what refuses the
	// second.)
	body := r.payload("UNOBODY1", "T0TEAM", ActionApprove, q.ID, "/actions/r/replay")
	at := time.Now()
	if code, _ := r.post(body, signingSecret, at); code != 200 {
		t.Fatalf("first: %d", code)
	}
	code, out := r.post(body, signingSecret, at)
	if code != 401 || !strings.Contains(fmt.Sprint(out["error"]), "code:replayed") {
		t.Fatalf("replay: %d %v", code, out)
	}
	if rs := r.slack.responses("/actions/r/replay"); len(rs) != 1 {
		t.Errorf("Slack was answered %d times, want once", len(rs))
	}

	// A response_url outside Slack is never called.
	code, _ = r.post(r.payload("UNOBODY1", "T0TEAM", ActionApprove, q.ID, "/elsewhere"), signingSecret, time.Now())
	if code != 200 || len(r.slack.responses("/elsewhere")) != 0 {
		t.Errorf("a response_url outside the prefix was called")
	}
	if got := r.state(q.ID); got.State != "open" {
		t.Fatalf("the approval is %s after refusals", got.State)
	}
}

func TestReplayRemembered(t *testing.T) {
	s := NewStore(storetest.Control(t))
	ctx := context.Background()
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	s.now = func() time.Time { return now }
	for i, want := range []bool{true, false} {
		if first, err := s.firstSeen(ctx, "v0=aa", 11*time.Minute); err != nil || first != want {
			t.Fatalf("call %d: first=%v err=%v, want %v", i, first, err, want)
		}
	}
	// Past the window it is forgotten (its timestamp refuses it anyway).
	now = now.Add(12 * time.Minute)
	if first, err := s.firstSeen(ctx, "v0=aa", 11*time.Minute); err != nil || !first {
		t.Fatalf("after the window: first=%v err=%v", first, err)
	}
}

func TestLinks(t *testing.T) {
	ctx := context.Background()
	ctl := storetest.Control(t)
	users := auth.NewUsers(ctl, auth.UserOptions{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	for _, n := range []string{"Alice", "bob"} {
		if _, err := users.Add(ctx, n, auth.Responder, "correct horse battery staple", "test"); err != nil {
			t.Fatal(err)
		}
	}
	s := NewStore(ctl)
	for _, tc := range []struct {
		user, id, by string
		err          string
	}{
		{"alice", "U0ALICE", "cli", ""}, // the user's own spelling is kept
		{"carol", "U0CAROL", "cli", "no such user"},
		{"bob", "alice", "cli", "not a Slack user ID"},
		{"bob", "U0ALICE", "cli", "linked to another Riposte user"},
		{"bob", "U0BOB", "cli", ""},
		{"bob", "W0BOB2", "cli", ""}, // relinking replaces
	} {
		_, err := s.Link(ctx, users, tc.user, tc.id, tc.by)
		if (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
			t.Errorf("Link(%s, %s) = %v, want %q", tc.user, tc.id, err, tc.err)
		}
	}
	ls, err := s.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(len(ls))
	for _, l := range ls {
		got += " " + l.User + "=" + l.SlackID
	}
	if got != "2 Alice=U0ALICE bob=W0BOB2" {
		t.Errorf("links: %s", got)
	}
	if name, err := s.UserOf(ctx, "U0BOB"); err == nil {
		t.Errorf("replaced link still answers: %s", name)
	}
	if name, err := s.UserOf(ctx, "U0ALICE"); err != nil || name != "Alice" {
		t.Errorf("UserOf = %q, %v", name, err)
	}
	if err := s.Unlink(ctx, "bob", "cli"); err != nil {
		t.Fatal(err)
	}
	if err := s.Unlink(ctx, "bob", "cli"); err == nil || !strings.Contains(err.Error(), "no Slack link") {
		t.Errorf("second unlink: %v", err)
	}
	if _, err := s.UserOf(ctx, "W0BOB2"); err == nil {
		t.Errorf("unlinked user still answers")
	}
}
