package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/all"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/detect/correlate"
	"github.com/riposte-soar/riposte/detect/intel"
	"github.com/riposte-soar/riposte/detect/sigma"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/store"
)

// pbRig is the console rig with the real playbook service (engine,
// connectors, versioned library), the real rule manager and an event
// store. Playbooks and rules live in a control database of their own: the
// rig's is not reachable from a tweak, and the pages join nothing across.
type pbRig struct {
	*rig
	respond *respond.Service
	rules   *detect.Manager
	events  *eventstore.Store
}

func newPBRig(t *testing.T) *pbRig {
	t.Helper()
	dir := t.TempDir()
	docs, err := store.Open(filepath.Join(dir, "docs.db"), "normal", store.Control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { docs.Close() })
	evs, err := eventstore.Open(filepath.Join(dir, "events.db"), "normal")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { evs.Close() })
	pr := &pbRig{events: evs}
	pr.rig = newRig(t, func(d *Deps) {
		reg := connector.NewRegistry()
		if err := all.Register(reg, all.Deps{Incidents: d.Alarm}); err != nil {
			t.Fatal(err)
		}
		eng, err := engine.Open(filepath.Join(dir, "engine.db"), reg, engine.Options{Sync: "off", Logger: d.Log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { eng.Close() })
		pr.respond = &respond.Service{Lib: &respond.Library{Store: rulestore.NewPlaybooks(docs), Reg: reg}, Engine: eng, Log: d.Log, Registry: reg}
		empty, _ := detect.Build(nil, sigma.DefaultMapping())
		pr.rules = &detect.Manager{Store: rulestore.New(docs), Engine: detect.NewEngine(empty, intel.NewIndex(intel.Config{}), correlate.Options{}),
			Mapping: sigma.DefaultMapping(), Log: d.Log}
		d.Respond, d.Rules, d.Events = pr.respond, pr.rules, evs
	})
	return pr
}

// hostile is user-supplied text that must show as text.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `"><img src=x onerror=alert(1)>`
)

func assertEscaped(t *testing.T, body string) {
	t.Helper()
	for _, raw := range []string{hostileScript, `<img src=x onerror`} {
		if strings.Contains(body, raw) {
			t.Errorf("page holds %q unescaped", raw)
		}
	}
	if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the script tag is not shown as text")
	}
	if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the img tag is not shown as text")
	}
}

// blocks is a playbook with an if, a parallel and a while loop, named by a
// hostile author.
const blocks = `id: playbook--0b7e3c1a-1111-4222-8333-944455556666
name: <script>alert(1)</script>
description: '"><img src=x onerror=alert(1)>'
modified: 2026-12-01T00:00:00Z
trigger:
  manual: true
vars:
  n: {type: integer, value: '0'}
start: check
steps:
  check:
    if: n < 1
    then: fan
    else: skip
    next: loop
  fan:
    parallel: [left, right]
    next: fanned
  left: {connector: set.vars, args: {values: {n: '0'}}, next: left_end}
  left_end: end
  right: {connector: wait.sleep, args: {duration: 1s}, next: right_end}
  right_end: end
  fanned: end
  skip: end
  loop: {while: n < 3, do: body, next: done}
  body: {connector: set.vars, args: {values: {n: '3'}}, out_args: [n], next: loop}
  done: end
`

type edge struct{ from, to, label string }

func TestPlaybookGraphNodesAndEdges(t *testing.T) {
	pb, errs := playbook.ParseYAML([]byte(blocks))
	if playbook.HasErrors(errs) {
		t.Fatalf("fixture: %v", errs)
	}
	if lint := playbook.Errors(playbook.Lint(pb, nil)); len(lint) > 0 {
		t.Fatalf("fixture does not lint: %v", lint)
	}
	g := layoutPlaybook(pb)
	byID := map[string]gNode{}
	names := map[string]bool{}
	for _, n := range g.Nodes {
		byID[n.ID], names[n.Name] = n, true
	}
	for _, want := range []string{"start", "check", "fan", "left", "left_end", "right", "right_end", "fanned", "skip", "loop", "body", "done"} {
		if !names[want] {
			t.Errorf("no node for step %s", want)
		}
	}
	if len(g.Nodes) != len(pb.Steps) {
		t.Errorf("%d nodes for %d steps", len(g.Nodes), len(pb.Steps))
	}
	got := map[edge]string{}
	for _, e := range g.Edges {
		got[edge{byID[e.From].Name, byID[e.To].Name, e.Label}] = e.Kind
	}
	want := map[edge]string{
		{"start", "check", "next"}:     "next",
		{"check", "fan", "then"}:       "branch",
		{"check", "skip", "else"}:      "branch",
		{"check", "loop", "next"}:      "next",
		{"fan", "left", "branch 1"}:    "branch",
		{"fan", "right", "branch 2"}:   "branch",
		{"fan", "fanned", "next"}:      "next",
		{"left", "left_end", "next"}:   "next",
		{"right", "right_end", "next"}: "next",
		{"loop", "body", "do"}:         "branch",
		{"body", "loop", "next"}:       "back",
		{"loop", "done", "next"}:       "next",
	}
	for e, kind := range want {
		if k, ok := got[e]; !ok {
			t.Errorf("no edge %s -%s-> %s", e.from, e.label, e.to)
		} else if k != kind {
			t.Errorf("edge %s -%s-> %s is drawn as %s, want %s", e.from, e.label, e.to, k, kind)
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d edges, want %d: %v", len(got), len(want), got)
	}
	y := func(name string) int {
		for _, n := range g.Nodes {
			if n.Name == name {
				return n.Y
			}
		}
		return -1
	}
	// Top-down: a block's continuation below everything its branches run.
	for _, c := range []struct{ above, below string }{{"start", "check"}, {"check", "fan"}, {"fan", "left"}, {"left", "left_end"}, {"left_end", "fanned"}, {"fanned", "loop"}, {"loop", "body"}, {"body", "done"}} {
		if y(c.above) >= y(c.below) {
			t.Errorf("%s (y=%d) is not above %s (y=%d)", c.above, y(c.above), c.below, y(c.below))
		}
	}
	for _, n := range g.Nodes {
		if n.X < 0 || n.Y < 0 || n.X+n.W > g.Width || n.Y+n.H > g.Height {
			t.Errorf("node %s at %d,%d lies outside the %dx%d drawing", n.Name, n.X, n.Y, g.Width, g.Height)
		}
	}
}

// save stores a playbook through the console as c.
func save(c *client, body, reason string) *http.Response {
	return c.post("/playbooks", url.Values{"body": {body}, "reason": {reason}})
}

func history(t *testing.T, pr *pbRig, id string) []rulestore.Version {
	t.Helper()
	vs, err := pr.respond.Lib.Store.History(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

const blocksID = "playbook--0b7e3c1a-1111-4222-8333-944455556666"

func TestPlaybookPagesShowGraphAndEscape(t *testing.T) {
	pr := newPBRig(t)
	if res := save(pr.as(auth.Responder), blocks, "first"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %s", res.Status)
	}
	v := pr.as(auth.Viewer)
	res, body := v.get("/playbooks")
	if res.StatusCode != 200 {
		t.Fatalf("list: %s", res.Status)
	}
	contains(t, body, "/playbooks/"+blocksID, "manual", "v1", "enabled")
	assertEscaped(t, body)
	if strings.Contains(body, "New playbook") {
		t.Error("a viewer is offered a new playbook")
	}
	res, body = v.get("/playbooks/" + blocksID)
	if res.StatusCode != 200 {
		t.Fatalf("playbook: %s", res.Status)
	}
	assertEscaped(t, body)
	// The parser adds a start step before "check".
	if n := strings.Count(body, `<g class="pb-node`); n != 12 {
		t.Errorf("%d nodes drawn, want 12", n)
	}
	if n := strings.Count(body, `<g class="pb-edge`); n != 12 {
		t.Errorf("%d edges drawn, want 12", n)
	}
	contains(t, body, `<svg`, `role="img"`, `pb-edge-back`, `branch 2`, `<ol class="pb-steps"`, `do → <a href="#pb-step-`)
	for _, b := range []string{"Disable its triggers", "Roll back", ">Save<", "Dry run"} {
		if strings.Contains(body, b) {
			t.Errorf("a viewer sees %q", b)
		}
	}
	_, body = v.get("/playbooks/" + blocksID + "?format=cacao")
	contains(t, body, "&#34;type&#34;: &#34;playbook&#34;")
	if res, _ := v.get("/playbooks/playbook--00000000-0000-4000-8000-000000000000"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown playbook: %s", res.Status)
	}
}

// htmx posts like htmx does: the CSRF token in the header.
func (c *client) htmx(path string, v url.Values) (*http.Response, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("HX-Request", "true")
	req.Header.Set("X-CSRF-Token", c.csrf)
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func lineOf(doc, needle string) int {
	for i, l := range strings.Split(doc, "\n") {
		if strings.Contains(l, needle) {
			return i + 1
		}
	}
	return 0
}

func TestPlaybookLintAtLinesAsYouType(t *testing.T) {
	pr := newPBRig(t)
	broken := strings.Replace(blocks, "next: fanned", "next: nowhere", 1)
	line := lineOf(broken, "nowhere")
	v := pr.as(auth.Viewer)
	res, body := v.htmx("/playbooks/lint", url.Values{"body": {broken}})
	if res.StatusCode != 200 {
		t.Fatalf("lint: %s", res.Status)
	}
	if !regexp.MustCompile(fmt.Sprintf(`data-line="%d">line %d</button>: [^<]*nowhere`, line, line)).MatchString(body) {
		t.Errorf("the linter does not name line %d:\n%s", line, body)
	}
	if !strings.Contains(body, fmt.Sprintf(`<span class="g-bad" title="`)) || !strings.Contains(body, `id="pb-gutter-wrap" hx-swap-oob="true"`) {
		t.Error("the gutter is not marked out of band")
	}
	marked := regexp.MustCompile(`<span class="g-bad"[^>]*>(\d+)</span>`).FindAllStringSubmatch(body, -1)
	if len(marked) != 1 || marked[0][1] != fmt.Sprint(line) {
		t.Errorf("marked lines %v, want only %d", marked, line)
	}
	// A clean draft: no problem, and its graph drawn out of band.
	_, body = v.htmx("/playbooks/lint", url.Values{"body": {blocks}})
	contains(t, body, "No problems found.", `id="pb-graph-wrap" hx-swap-oob="true"`, "As edited, not saved.", "&lt;script&gt;alert(1)&lt;/script&gt;")
	if strings.Contains(body, hostileScript) {
		t.Error("the draft's name is not escaped in its graph")
	}
	// Without JavaScript the Check button posts the form: the whole page,
	// the text kept, the findings listed.
	res = v.postForm("/playbooks/lint", url.Values{"body": {broken}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("lint without CSRF: %s", res.Status)
	}
	req := url.Values{"body": {broken}, "csrf": {v.csrf}}
	hres, err := v.hc.PostForm(v.base+"/playbooks/lint", req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(hres.Body)
	hres.Body.Close()
	contains(t, string(b), fmt.Sprintf("line %d</button>", line), "next: nowhere", `<html`)
}

func TestPlaybookSaveRefusedWithLines(t *testing.T) {
	pr := newPBRig(t)
	broken := strings.Replace(blocks, "do: body", "do: nobody", 1)
	res := save(pr.as(auth.Responder), broken, "try")
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("saving a broken playbook: %s", res.Status)
	}
	if _, err := pr.respond.Lib.Store.History(context.Background(), blocksID); err == nil {
		t.Fatal("a refused playbook was stored")
	}
	if res := save(pr.as(auth.Responder), blocks, ""); res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("saving without a reason: %s", res.Status)
	}
}

func TestPlaybookVersionsDiffRollbackToggle(t *testing.T) {
	pr := newPBRig(t)
	ctx := context.Background()
	resp := pr.as(auth.Responder)
	analyst := pr.as(auth.Analyst)
	if res := save(resp, blocks, "first"); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/playbooks/"+blocksID {
		t.Fatalf("save: %s to %q", res.Status, res.Header.Get("Location"))
	}
	v2 := strings.Replace(blocks, "duration: 1s", "duration: 2s", 1)
	// Refused: no CSRF token, or a role below responder.
	if res := resp.postForm("/playbooks", url.Values{"body": {v2}, "reason": {"x"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("save without CSRF: %s", res.Status)
	}
	if res := save(analyst, v2, "x"); res.StatusCode != http.StatusForbidden {
		t.Errorf("save as analyst: %s", res.Status)
	}
	if n := len(history(t, pr, blocksID)); n != 1 {
		t.Fatalf("refused saves stored versions: %d", n)
	}
	if res := save(resp, v2, "longer wait"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("save v2: %s", res.Status)
	}
	hist := history(t, pr, blocksID)
	if len(hist) != 2 || hist[1].Author != "user:responder1" || hist[1].Reason != "longer wait" {
		t.Fatalf("history %+v", hist)
	}
	_, body := pr.as(auth.Viewer).get("/playbooks/" + blocksID + "?from=1&to=2")
	contains(t, body, "1 line(s) added, 1 removed")
	if !regexp.MustCompile(`<tr class="d-del">.*removed: </span>-\s*duration: 1s`).MatchString(body) ||
		!regexp.MustCompile(`<tr class="d-add">.*added: </span>\+\s*duration: 2s`).MatchString(body) {
		t.Error("the diff does not show the 1s line removed and the 2s line added")
	}

	for name, c := range map[string]struct {
		cl   *client
		csrf bool
	}{"no CSRF": {resp, false}, "analyst": {analyst, true}} {
		for _, path := range []string{"/rollback", "/disable"} {
			f := url.Values{"version": {"1"}, "reason": {"r"}}
			var res *http.Response
			if c.csrf {
				res = c.cl.post("/playbooks/"+blocksID+path, f)
			} else {
				res = c.cl.postForm("/playbooks/"+blocksID+path, f)
			}
			if res.StatusCode != http.StatusForbidden {
				t.Errorf("%s %s: %s", name, path, res.Status)
			}
		}
	}
	if h, _, _ := pr.respond.Lib.Store.Get(ctx, blocksID); h.Current != 2 || !h.Enabled {
		t.Fatalf("refused requests changed the playbook: %+v", h)
	}

	if res := resp.post("/playbooks/"+blocksID+"/rollback", url.Values{"version": {"1"}, "reason": {"the wait was right"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("rollback: %s", res.Status)
	}
	hist = history(t, pr, blocksID)
	if len(hist) != 3 || hist[2].Body != hist[0].Body || hist[2].Reason != "the wait was right" || hist[2].Author != "user:responder1" {
		t.Fatalf("after rollback: %+v", hist[len(hist)-1])
	}
	if res := resp.post("/playbooks/"+blocksID+"/disable", url.Values{"reason": {"noisy"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %s", res.Status)
	}
	if h, _, _ := pr.respond.Lib.Store.Get(ctx, blocksID); h.Enabled {
		t.Fatal("still enabled after disable")
	}
	_, body = resp.get("/playbooks/" + blocksID)
	contains(t, body, "Enable its triggers", "disabled")
	if res := resp.post("/playbooks/"+blocksID+"/enable", url.Values{"reason": {"fixed"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("enable: %s", res.Status)
	}
	if h, _, _ := pr.respond.Lib.Store.Get(ctx, blocksID); !h.Enabled {
		t.Fatal("still disabled after enable")
	}
}

func TestPlaybookDryRunAgainstIncident(t *testing.T) {
	pr := newPBRig(t)
	id := pr.raise("ssh-brute", "high", "web-07", "203.0.113.77", t0)
	before, _ := pr.alarm.Store().Timeline(context.Background(), id)
	draft := `id: playbook--5a0c1f9e-2222-4333-8444-955566667777
name: Note the host
modified: 2026-12-01T00:00:00Z
trigger:
  manual: true
  bind:
    host: incident.entities[0].value
inputs:
  host: {type: string}
start: note
steps:
  note: {connector: incident.comment, args: {text: 'seen __host__:value'}, next: done}
  done: end
`
	resp := pr.as(auth.Responder)
	_, page := resp.get("/playbooks/new")
	contains(t, page, `<option value="`+id+`"`)
	res, body := resp.htmx("/playbooks/dry-run", url.Values{"body": {draft}, "incident": {id}})
	if res.StatusCode != 200 {
		t.Fatalf("dry run: %s", res.Status)
	}
	contains(t, body, "against incident "+id, `outcome-succeeded">succeeded`, "note", "web-07")
	after, _ := pr.alarm.Store().Timeline(context.Background(), id)
	if len(after) != len(before) {
		t.Errorf("a dry run wrote on the incident's timeline: %d entries, was %d", len(after), len(before))
	}
	if _, err := pr.respond.Lib.Store.History(context.Background(), "playbook--5a0c1f9e-2222-4333-8444-955566667777"); err == nil {
		t.Error("a dry run stored the playbook")
	}
	// A dry run needs the responder role and the CSRF token.
	if res, _ := pr.as(auth.Analyst).htmx("/playbooks/dry-run", url.Values{"body": {draft}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("analyst dry run: %s", res.Status)
	}
	if res := resp.postForm("/playbooks/dry-run", url.Values{"body": {draft}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("dry run without CSRF: %s", res.Status)
	}
	// A draft with errors is not run.
	_, body = resp.htmx("/playbooks/dry-run", url.Values{"body": {strings.Replace(draft, "next: done", "next: gone", 1)}})
	contains(t, body, "fix them before a dry run")
}

// TestPlaybookAndRuleRoleMatrix is the role matrix over these pages'
// routes, which the plain rig leaves out (it has no playbook service).
func TestPlaybookAndRuleRoleMatrix(t *testing.T) {
	pr := newPBRig(t)
	clients := map[auth.Role]*client{}
	for _, role := range []auth.Role{auth.Viewer, auth.Analyst, auth.Responder, auth.Admin} {
		clients[role] = pr.as(role)
	}
	anon := pr.anon()
	seen := 0
	for _, rt := range pr.con.Routes() {
		if !strings.HasPrefix(rt.Path, "/playbooks") && !strings.HasPrefix(rt.Path, "/rules") {
			continue
		}
		seen++
		path := strings.ReplaceAll(rt.Path, "{id}", "x")
		t.Run(rt.Method+" "+rt.Path, func(t *testing.T) {
			if res := do(t, anon, rt.Method, path); res.StatusCode != http.StatusSeeOther && res.StatusCode != http.StatusUnauthorized {
				t.Errorf("without a session: %s", res.Status)
			}
			for role, c := range clients {
				res := do(t, c, rt.Method, path)
				allowed := role.Allows(rt.Role)
				if !allowed && res.StatusCode != http.StatusForbidden {
					t.Errorf("%s: %s, want 403 (route needs %s)", role, res.Status, rt.Role)
				}
				if allowed && res.StatusCode == http.StatusForbidden {
					t.Errorf("%s: 403, but the route needs only %s", role, rt.Role)
				}
			}
		})
	}
	if seen != 18 {
		t.Errorf("%d playbook and rule routes, want 18", seen)
	}
}
