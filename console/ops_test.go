package console

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/feeds"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/store"
)

// opsRig is the console rig with the services of the operations pages:
// decisions and agents on a control database of their own, and an event
// store.
type opsRig struct {
	*rig
	dec    *decision.Store
	feeds  *feeds.Store
	fleet  *fleet.Fleet
	events *eventstore.Store
}

func newOpsRig(t *testing.T) *opsRig {
	t.Helper()
	o := &opsRig{}
	o.rig = newRig(t, func(d *Deps) {
		db, err := store.Open(filepath.Join(t.TempDir(), "ops.db"), "normal", store.Control)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		o.dec = decision.New(db, decision.DefaultSchedule)
		o.feeds = feeds.NewStore(db)
		d.Feeds = o.feeds
		_, key, _ := ed25519.GenerateKey(nil)
		if o.fleet, err = fleet.New(context.Background(), fleet.Options{DB: db, Decisions: o.dec, Key: key}); err != nil {
			t.Fatal(err)
		}
		if o.events, err = eventstore.Open(filepath.Join(t.TempDir(), "events.db"), "normal"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { o.events.Close() })
		d.Decisions, d.Fleet, d.Events = o.dec, o.fleet, o.events
	})
	return o
}

// opsHostile is what an attacker puts in an event, a reason or a name.
const opsHostile = `<script>alert(1)</script> "><img src=x onerror=alert(1)>`

// opsEscaped checks that hostile text shows as text and never as markup.
func opsEscaped(t *testing.T, body string) {
	t.Helper()
	for _, raw := range []string{"<script>alert(1)", "<img src=x onerror"} {
		if strings.Contains(body, raw) {
			t.Errorf("the page holds %q unescaped", raw)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Errorf("the hostile text is not on the page as escaped text")
	}
}

func opsPath(p string) bool {
	for _, pre := range []string{"/agents", "/decisions", "/events", "/insights", "/silences", "/assets-inventory"} {
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// TestOpsRoleMatrix walks the operations routes as every role, with and
// without the CSRF token, like TestRoleMatrix (whose rig has no agents,
// decisions nor events, so it does not list all of them).
func TestOpsRoleMatrix(t *testing.T) {
	r := newOpsRig(t)
	clients := map[auth.Role]*client{}
	for _, role := range []auth.Role{auth.Viewer, auth.Analyst, auth.Responder, auth.Admin} {
		clients[role] = r.as(role)
	}
	n := 0
	for _, rt := range r.con.Routes() {
		if !opsPath(rt.Path) {
			continue
		}
		n++
		path := strings.ReplaceAll(rt.Path, "{id}", "01NOTHING")
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			if res := do(t, r.anon(), rt.Method, path); res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a session: %s", res.Status)
			}
			for role, c := range clients {
				res := do(t, c, rt.Method, path)
				if allowed := role.Allows(rt.Role); allowed == (res.StatusCode == http.StatusForbidden) {
					t.Errorf("%s: %s (route needs %s)", role, res.Status, rt.Role)
				}
				if rt.Method != http.MethodGet {
					if res := c.postForm(path, url.Values{}); res.StatusCode != http.StatusForbidden {
						t.Errorf("%s without CSRF token: %s, want 403", role, res.Status)
					}
				}
			}
		})
	}
	if n != 12 {
		t.Fatalf("%d operations routes, want 12", n)
	}
}

func opsEnroll(t *testing.T, r *opsRig, host string) string {
	t.Helper()
	secret, _, err := r.fleet.CreateToken(context.Background(), time.Hour, "test")
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	res, err := r.fleet.Enroll(context.Background(), fleet.EnrollRequest{Token: secret, PublicKey: pub, Hostname: host}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return res.AgentID
}

func TestAgentsPageTokenAndRevoke(t *testing.T) {
	r := newOpsRig(t)
	id := opsEnroll(t, r, "web-1")
	if _, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.7", Owner: "test", Reason: "scan"}, time.Hour, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.ContainHost, Target: "web-1", Owner: "test", Reason: "malware"}, -1, time.Now()); err != nil {
		t.Fatal(err)
	}
	v := r.as(auth.Viewer)
	res, body := v.get("/agents")
	if res.StatusCode != 200 {
		t.Fatalf("agents: %s", res.Status)
	}
	// No heartbeat yet: both decisions are missing on the host, and its
	// isolation was ordered but not confirmed.
	contains(t, body, "web-1", id, "never", `<span class="ops-missing">2</span>`, "ordered, not confirmed")
	if strings.Contains(body, "Revoke") || strings.Contains(body, "Create enrollment token") {
		t.Error("a viewer sees the admin's buttons")
	}

	a := r.as(auth.Admin)
	if res := a.postForm("/agents/tokens", url.Values{"ttl": {"1h"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("token without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Responder).post("/agents/tokens", url.Values{"ttl": {"1h"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("token by a responder: %s", res.Status)
	}
	body = opsPostPage(t, a, "/agents/tokens", url.Values{"ttl": {"2h"}}, http.StatusCreated)
	m := regexp.MustCompile(`id="token-value" class="ops-token" readonly value="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("the new token is not on the page")
	}
	// The token shown enrolls a host: it is the real one.
	pub, _, _ := ed25519.GenerateKey(nil)
	if _, err := r.fleet.Enroll(context.Background(), fleet.EnrollRequest{Token: m[1], PublicKey: pub, Hostname: "db-1"}, time.Now()); err != nil {
		t.Fatalf("the token shown does not enroll: %v", err)
	}
	if _, body := a.get("/agents"); strings.Contains(body, m[1]) {
		t.Error("the token is shown again on a later visit")
	}
	if body := opsPostPage(t, a, "/agents/tokens", url.Values{"ttl": {"90d"}}, http.StatusBadRequest); !strings.Contains(body, "30 days") {
		t.Error("a too long token lifetime is not explained")
	}

	revoke := "/agents/" + id + "/revoke"
	if res := a.postForm(revoke, url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("revoke without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Responder).post(revoke, nil); res.StatusCode != http.StatusForbidden {
		t.Errorf("revoke by a responder: %s", res.Status)
	}
	if opsRevoked(r, id) {
		t.Fatal("a refused request revoked the agent")
	}
	if res := a.post(revoke, nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %s", res.Status)
	}
	if !opsRevoked(r, id) {
		t.Fatal("the agent is not revoked")
	}
	_, body = a.get("/agents")
	contains(t, body, `class="ops-revoked"`)
}

func opsRevoked(r *opsRig, id string) bool {
	for _, a := range r.fleet.List() {
		if a.ID == id {
			return a.Revoked
		}
	}
	return false
}

// opsPostPage posts a form with the CSRF token and returns the page answered.
func opsPostPage(t *testing.T, c *client, path string, v url.Values, want int) string {
	t.Helper()
	v.Set("csrf", c.csrf)
	res, err := c.hc.PostForm(c.base+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("POST %s: %s, want %d", path, res.Status, want)
	}
	return string(b)
}

func TestDecisionsFilterPageAndRevert(t *testing.T) {
	r := newOpsRig(t)
	ctx := context.Background()
	now := time.Now()
	var ids []string
	for i := range 55 {
		d, err := r.dec.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: fmt.Sprintf("198.51.100.%d", i), Owner: "playbook:r1",
			Reason: "scan", Incident: "inc-many"}, time.Hour, now.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, d.ID)
	}
	bad, err := r.dec.Add(ctx, decision.Decision{Kind: decision.ContainHost, Target: "ws-7", Owner: "user:x", Reason: opsHostile, Incident: "inc-7"}, -1, now.Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	v := r.as(auth.Viewer)
	_, body := v.get("/decisions")
	opsEscaped(t, body)
	contains(t, body, "1–50 of 56", "ws-7", "/incidents/inc-7", "Next")
	if strings.Contains(body, "Revert") {
		t.Error("a viewer sees the revert button")
	}
	_, body = v.get("/decisions?state=active&page=1")
	contains(t, body, "51–56 of 56", ids[0], "Previous")
	_, body = v.get("/decisions?kind=contain_host")
	contains(t, body, "1–1 of 1", bad.ID)
	_, body = v.get("/decisions?target=100.54&incident=inc-many")
	contains(t, body, "1–1 of 1", ids[54])
	if res, _ := v.get("/decisions?state=bogus"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown state: %s", res.Status)
	}

	path := "/decisions/" + bad.ID + "/revert"
	form := url.Values{"reason": {"false alarm " + opsHostile}, "back": {"/decisions?state=all"}}
	resp := r.as(auth.Responder)
	if res := resp.postForm(path, form); res.StatusCode != http.StatusForbidden {
		t.Errorf("revert without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Analyst).post(path, url.Values{"reason": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("revert by an analyst: %s", res.Status)
	}
	if res := resp.post(path, url.Values{}); res.StatusCode != http.StatusBadRequest {
		t.Errorf("revert without a reason: %s", res.Status)
	}
	if d, _ := r.dec.Get(ctx, bad.ID); d.RevertedAt != nil {
		t.Fatal("a refused request reverted the decision")
	}
	res := resp.post(path, form)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/decisions?state=all" {
		t.Fatalf("revert: %s to %q", res.Status, res.Header.Get("Location"))
	}
	d, _ := r.dec.Get(ctx, bad.ID)
	if d.RevertedAt == nil || d.RevertedBy != "user:responder1" || !strings.HasPrefix(d.RevertNote, "false alarm") {
		t.Fatalf("after revert: %+v", d)
	}
	_, body = resp.get("/decisions?state=reverted")
	contains(t, body, bad.ID, "by user:responder1")
	opsEscaped(t, body)
}

func TestEventsSearchShowsFieldsAsText(t *testing.T) {
	r := newOpsRig(t)
	now := time.Now().UTC()
	var ws []event.Wire
	add := func(at time.Time, host string, fields map[string]any, raw string) {
		e := event.Event{ID: event.NewID(at), Time: at, Received: at, Host: host, Source: "http", Fields: fields, Raw: []byte(raw)}
		b := event.AppendWire(event.NewMessage(0), &e)
		w, err := event.DecodeMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w...)
	}
	add(now.Add(-10*time.Minute), "web-1", map[string]any{"user.name": opsHostile, "source.ip": "203.0.113.7"}, `{"msg":"`+opsHostile+`"}`)
	add(now.Add(-3*time.Hour), "web-1", map[string]any{"message": "old one"}, "old one")
	for i := range 60 {
		add(now.Add(-time.Duration(60-i)*time.Second), "pager-host", map[string]any{"n": int64(i)}, fmt.Sprintf("line %02d", i))
	}
	if _, err := r.events.Insert(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	v := r.as(auth.Viewer)
	res, body := v.get("/events?q=203.0.113.7&from=1h")
	if res.StatusCode != 200 {
		t.Fatalf("search: %s", res.Status)
	}
	opsEscaped(t, body)
	contains(t, body, "<dt>user.name</dt>", "<dt>source.ip</dt><dd>203.0.113.7</dd>", "&#34;msg&#34;")
	if strings.Contains(body, "old one") {
		t.Error("an event outside the window is shown")
	}
	_, body = v.get("/events?host=web-1&from=" + url.QueryEscape(now.Add(-4*time.Hour).Format(time.RFC3339)))
	contains(t, body, "old one", "2 events on this page")

	_, body = v.get("/events?host=pager-host&from=2h")
	contains(t, body, "50 events on this page", "line 00", "line 49")
	m := regexp.MustCompile(`<a href="(/events\?[^"]*cursor=[^"]+)">Next</a>`).FindStringSubmatch(body)
	if m == nil || strings.Contains(body, "line 50") {
		t.Fatal("no next page after 50 events")
	}
	_, body = v.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	contains(t, body, "10 events on this page", "line 50", "line 59", "First page")
	if strings.Contains(body, "line 49") {
		t.Error("the second page repeats the first")
	}
	if res, body := v.get("/events?from=yesterday"); res.StatusCode != http.StatusBadRequest || !strings.Contains(body, "RFC 3339") {
		t.Errorf("a bad time: %s", res.Status)
	}
}

func TestInsightsChartsTheSeededIncidents(t *testing.T) {
	r := newRig(t, nil)
	now := time.Now().UTC()
	day := func(back int) time.Time { return now.Truncate(24*time.Hour).AddDate(0, 0, -back).Add(time.Hour) }
	r.raise("r-a", "high", "h-a", "", day(2))
	b := r.raise("r-b", "low", "h-b", "", day(1))
	r.raise("r-c", "critical", "h-c", "", day(1).Add(time.Minute))
	verdict := alarm.VerdictFalsePositive
	if _, err := r.alarm.Update(context.Background(), b, alarm.Change{Verdict: &verdict}, "user:analyst1"); err != nil {
		t.Fatal(err)
	}
	v := r.as(auth.Viewer)
	res, body := v.get("/insights?days=7")
	if res.StatusCode != 200 {
		t.Fatalf("insights: %s", res.Status)
	}
	mttd := opsChartOf(t, body, "mttd")
	// Every seeded incident's events came 1 s before its alert: one point a
	// day at 1s, and no point on days without incidents.
	for _, back := range []int{2, 1} {
		contains(t, mttd, "<title>"+day(back).Format(time.DateOnly)+": 1s</title>")
	}
	if n := strings.Count(mttd, "<circle"); n != 2 {
		t.Errorf("MTTD chart has %d points, want 2", n)
	}
	if n := strings.Count(opsChartOf(t, body, "mtta"), "<circle"); n != 0 {
		t.Errorf("MTTA chart has %d points, but no incident was acknowledged", n)
	}
	contains(t, opsChartOf(t, body, "by-verdict"), "<title>false_positive: 1</title>", "<title>undecided: 2</title>")
	contains(t, body, "<dt>Incidents</dt><dd>3 ", "as a table", `role="img"`)
	if res, _ := v.get("/insights?days=5"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("days=5: %s", res.Status)
	}
}

// opsChartOf returns one chart's SVG from a page.
func opsChartOf(t *testing.T, body, id string) string {
	t.Helper()
	i := strings.Index(body, `data-chart="`+id+`"`)
	if i < 0 {
		t.Fatalf("no chart %s", id)
	}
	j := strings.Index(body[i:], "</svg>")
	return body[i : i+j]
}

func TestSilencesCreateAndExpire(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	form := func() url.Values {
		return url.Values{"field": {"host", "rule_id", "ip"}, "op": {"=", "=~", "="}, "value": {"web-1", "ssh-.*", ""},
			"starts": {"now"}, "ends": {"2h"}, "reason": {"maintenance " + opsHostile}}
	}
	a := r.as(auth.Analyst)
	if res := a.postForm("/silences", form()); res.StatusCode != http.StatusForbidden {
		t.Errorf("create without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Viewer).post("/silences", form()); res.StatusCode != http.StatusForbidden {
		t.Errorf("create by a viewer: %s", res.Status)
	}
	if sils, _ := r.alarm.Store().Silences(ctx, true); len(sils) != 0 {
		t.Fatal("a refused request created a silence")
	}
	broken := form()
	broken.Set("ends", "soon")
	if body := opsPostPage(t, a, "/silences", broken, http.StatusUnprocessableEntity); !strings.Contains(body, "End: soon") || !strings.Contains(body, `value="ssh-.*"`) {
		t.Error("a refused form neither explains nor keeps what was typed")
	}
	if res := a.post("/silences", form()); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %s", res.Status)
	}
	sils, _ := r.alarm.Store().Silences(ctx, true)
	if len(sils) != 1 || len(sils[0].Matchers) != 2 || sils[0].Author != "user:analyst1" || sils[0].EndsAt.Sub(sils[0].StartsAt) != 2*time.Hour {
		t.Fatalf("stored: %s", opsJSON(sils))
	}
	id := sils[0].ID
	_, body := r.as(auth.Viewer).get("/silences")
	opsEscaped(t, body)
	contains(t, body, "host = web-1", "rule_id =~ ssh-.*")
	if strings.Contains(body, "Expire now") || strings.Contains(body, "Create silence") {
		t.Error("a viewer sees the analyst's buttons")
	}
	if res := a.postForm("/silences/"+id+"/expire", url.Values{}); res.StatusCode != http.StatusForbidden {
		t.Errorf("expire without CSRF: %s", res.Status)
	}
	if res := a.post("/silences/"+id+"/expire", nil); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("expire: %s", res.Status)
	}
	if act, _ := r.alarm.Store().Silences(ctx, false); len(act) != 0 {
		t.Fatal("the silence is still active")
	}
	_, body = a.get("/silences")
	ended := body[strings.Index(body, "<h2>Ended</h2>"):]
	contains(t, ended, id)
}

func opsJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestAssetsImport(t *testing.T) {
	r := newRig(t, nil)
	ctx := context.Background()
	csv := "kind,name,criticality,owner,tags,addresses\nhost,web-1,4,\"" + strings.ReplaceAll(opsHostile, `"`, `""`) + "\",dmz;web,192.0.2.10\n"
	a := r.as(auth.Admin)
	if res := a.postForm("/assets-inventory", url.Values{"text": {csv}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("import without CSRF: %s", res.Status)
	}
	if res := r.as(auth.Responder).post("/assets-inventory", url.Values{"text": {csv}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("import by a responder: %s", res.Status)
	}
	if as, _ := r.alarm.Store().Assets(ctx, true); len(as) != 0 {
		t.Fatal("a refused request stored assets")
	}
	res := a.post("/assets-inventory", url.Values{"text": {csv}, "format": {"auto"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/assets-inventory?stored=1" {
		t.Fatalf("paste CSV: %s to %q", res.Status, res.Header.Get("Location"))
	}
	yaml := "- kind: host\n  name: db-1\n  criticality: 5\n  owner: dba\n- kind: user\n  name: alice\n  criticality: 2\n"
	if res := opsPostFile(t, a, "/assets-inventory", "assets.yaml", yaml); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload YAML: %s", res.Status)
	}
	as, _ := r.alarm.Store().Assets(ctx, false)
	if len(as) != 3 {
		t.Fatalf("stored %s", opsJSON(as))
	}
	_, body := r.as(auth.Viewer).get("/assets-inventory?stored=2")
	opsEscaped(t, body)
	contains(t, body, "2 assets stored", "web-1", "db-1", "alice", "192.0.2.10")
	if strings.Contains(body, "Import") {
		t.Error("a viewer sees the import form")
	}
	body = opsPostPage(t, a, "/assets-inventory", url.Values{"text": {"kind,name,criticality\nhost,x,9\n"}}, http.StatusBadRequest)
	contains(t, body, "outside 1..5", "host,x,9")
	if as, _ := r.alarm.Store().Assets(ctx, false); len(as) != 3 {
		t.Fatal("a refused import stored something")
	}
}

func opsPostFile(t *testing.T, c *client, path, name, content string) *http.Response {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("csrf", c.csrf)
	mw.WriteField("format", "auto")
	fw, _ := mw.CreateFormFile("file", name)
	io.WriteString(fw, content)
	mw.Close()
	res, err := c.hc.Post(c.base+path, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

// TestOpsEventByID: the incident page links each alert's events by ID; the
// events page shows exactly that event, whatever the time window.
func TestOpsEventByID(t *testing.T) {
	r := newOpsRig(t)
	old := time.Now().Add(-30 * 24 * time.Hour).UTC()
	var ids []string
	var ws []event.Wire
	for i, text := range []string{"first event", "second event"} {
		at := old.Add(time.Duration(i) * time.Second)
		e := event.Event{ID: event.NewID(at), Time: at, Received: at, Host: "db-1", Source: "http", Fields: map[string]any{"message": text}, Raw: []byte(text)}
		w, err := event.DecodeMessage(event.AppendWire(event.NewMessage(0), &e))
		if err != nil {
			t.Fatal(err)
		}
		ws, ids = append(ws, w...), append(ids, e.ID)
	}
	if _, err := r.events.Insert(context.Background(), ws); err != nil {
		t.Fatal(err)
	}
	_, body := r.as(auth.Viewer).get("/events?id=" + ids[1])
	if !strings.Contains(body, "second event") || strings.Contains(body, "first event") {
		t.Fatalf("/events?id= does not show exactly the one event:\n%s", body)
	}
}

// TestOpsFeedsPanel: the decisions page lists the firewalls polling the
// block-list feeds, with what they said of themselves shown as text.
func TestOpsFeedsPanel(t *testing.T) {
	r := newOpsRig(t)
	ctx := context.Background()
	if _, _, err := r.feeds.Add(ctx, "edge-fw", "test"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.feeds.Add(ctx, "branch-fw", "test"); err != nil {
		t.Fatal(err)
	}
	list, err := r.feeds.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range list {
		if c.Name == "edge-fw" {
			if _, _, err := r.feeds.Poll(ctx, c, "digest-1", "192.0.2.10:443", "PAN-OS "+opsHostile, "panos", time.Now()); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, body := r.as(auth.Viewer).get("/decisions")
	contains(t, body, "Firewalls polling the block-list feeds", "edge-fw", "branch-fw", "192.0.2.10:443", "panos", "never")
	opsEscaped(t, body)
}
