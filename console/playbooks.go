package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/playbook"
	"github.com/riposte-soar/riposte/respond"
	"github.com/riposte-soar/riposte/rulestore"
)

// playbookRoutes lists the routes of playbooks and rules. Roles are those
// of the REST routes (api/respond.go, api/rules.go); the linter changes
// nothing and is open to every reader, a dry run is a responder's, like
// starting a run.
func (c *Console) playbookRoutes() []route {
	var rs []route
	if c.d.Respond != nil {
		rs = append(rs,
			route{"GET", "/playbooks", auth.Viewer, c.playbooks},
			route{"GET", "/playbooks/new", auth.Viewer, c.playbookNew},
			route{"GET", "/playbooks/{id}", auth.Viewer, c.playbook},
			route{"POST", "/playbooks/lint", auth.Viewer, c.playbookLint},
			route{"POST", "/playbooks/dry-run", auth.Responder, c.playbookDryRun},
			route{"POST", "/playbooks", auth.Responder, c.playbookSave},
			route{"POST", "/playbooks/{id}/rollback", auth.Responder, c.playbookRollback},
			route{"POST", "/playbooks/{id}/enable", auth.Responder, c.playbookToggle(true)},
			route{"POST", "/playbooks/{id}/disable", auth.Responder, c.playbookToggle(false)},
		)
	}
	return append(rs, c.ruleRoutes()...)
}

// maxSource bounds a playbook or rule posted from an editor (the REST API
// takes the same documents).
const maxSource = 1 << 20

// pbRow is one playbook of the list.
type pbRow struct {
	ID, Name, Description string
	Version               int
	Enabled               bool
	Triggers              []string
	Steps                 int
	Author                string
	Changed               time.Time
	Broken                bool // the stored body no longer parses
}

type pbList struct {
	Rows []pbRow
}

func (c *Console) playbooks(w http.ResponseWriter, r *http.Request, v *viewer) {
	hs, err := c.d.Respond.Lib.Store.Heads(r.Context())
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The playbooks could not be read: "+err.Error())
		return
	}
	var p pbList
	for _, h := range hs {
		row := pbRow{ID: h.ID, Name: h.Title, Version: h.Current, Enabled: h.Enabled, Author: h.Version.Author, Changed: h.Version.CreatedAt}
		pb, errs := playbook.ParseYAML([]byte(h.Version.Body))
		if pb == nil || playbook.HasErrors(errs) {
			row.Broken = true
		} else {
			row.Description, row.Triggers, row.Steps = pb.Description, triggerText(pb.Trigger), len(pb.Steps)
		}
		p.Rows = append(p.Rows, row)
	}
	c.render(w, r, http.StatusOK, "playbooks", view{V: v, Title: "Playbooks", Nav: "playbooks", Page: p})
}

// pbPage is a playbook's page: its graph, editor, history; or the editor
// alone for a new one.
type pbPage struct {
	New     bool
	Head    rulestore.Rule
	Shown   rulestore.Version // the version drawn (current unless ?version=)
	PB      *playbook.Playbook
	Graph   *pbGraph
	Draft   bool // the graph is of the editor's text, not a stored version
	Format  string
	Body    string // the editor's text
	Reason  string
	Lint    lintView
	History []rulestore.Version // newest first
	Diff    *diffView
	// Incidents to dry-run against (open ones, most important first).
	Incidents []*alarm.Incident
	Incident  string
	Dry       *dryView
	Problem   string // why the shown version cannot be drawn
}

// dryResult is the dry run's fragment: its trace, and the linter's
// findings for the editor (out of band), since a draft with errors does
// not run.
type dryResult struct {
	Dry  *dryView
	Lint lintView
}

// dryView is a dry run's trace.
type dryView struct {
	Trace    engine.Trace
	Incident string
	Err      string
}

func (c *Console) playbookNew(w http.ResponseWriter, r *http.Request, v *viewer) {
	p := pbPage{New: true, Format: "yaml"}
	c.pbEditorData(r.Context(), &p)
	c.render(w, r, http.StatusOK, "playbook", view{V: v, Title: "New playbook", Nav: "playbooks", Page: p})
}

func (c *Console) playbook(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	p, err := c.pbLoad(r.Context(), r.PathValue("id"), q.Get("version"), q.Get("format"))
	if err != nil {
		c.respondFail(w, r, v, err)
		return
	}
	p.Diff = pickDiff(newestFirst(p.History), q.Get("from"), q.Get("to"))
	c.render(w, r, http.StatusOK, "playbook", view{V: v, Title: p.Head.Title, Nav: "playbooks", Page: p})
}

// pbLoad reads a stored playbook, the version to show and its history.
func (c *Console) pbLoad(ctx context.Context, id, version, format string) (pbPage, error) {
	st := c.d.Respond.Lib.Store
	head, cur, err := st.Get(ctx, id)
	if err != nil {
		return pbPage{}, err
	}
	hist, err := st.History(ctx, id)
	if err != nil {
		return pbPage{}, err
	}
	p := pbPage{Head: head, Shown: cur, History: newestFirst(hist), Format: "yaml"}
	if n, err := strconv.Atoi(version); err == nil {
		found := false
		for _, h := range hist {
			if h.Version == n {
				p.Shown, found = h, true
			}
		}
		if !found {
			return pbPage{}, &notFound{"playbook " + id + " has no version " + version}
		}
	}
	p.Body = p.Shown.Body
	pb, errs := playbook.ParseYAML([]byte(p.Shown.Body))
	if pb == nil || playbook.HasErrors(errs) {
		p.Problem = "This version no longer parses."
		if len(errs) > 0 {
			p.Problem = "This version no longer parses: " + errs[0].Error()
		}
	} else {
		p.PB = pb
		g := layoutPlaybook(pb)
		p.Graph = &g
		if format == "cacao" {
			if b, err := pb.CACAO(); err == nil {
				p.Body, p.Format = string(b), "cacao"
			}
		}
	}
	c.pbEditorData(ctx, &p)
	return p, nil
}

// pbEditorData adds what the editor's dry run offers: open incidents.
func (c *Console) pbEditorData(ctx context.Context, p *pbPage) {
	if c.d.Alarm == nil {
		return
	}
	incs, err := c.d.Alarm.Store().List(ctx, alarm.Filter{Statuses: []alarm.Status{alarm.StatusNew, alarm.StatusTriaged,
		alarm.StatusContained, alarm.StatusEradicated, alarm.StatusRecovered}, Limit: 50})
	if err == nil {
		p.Incidents = incs
	}
}

// editorPage redraws a playbook's page around the text a person posted
// (a check, a dry run or a refused save without JavaScript), so nothing
// they typed is lost.
func (c *Console) editorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, body string, set func(*pbPage)) {
	p := pbPage{New: true, Format: "yaml"}
	if pb, _, _ := respond.Parse([]byte(body), false, nil); pb != nil && pb.ID != "" {
		if loaded, err := c.pbLoad(r.Context(), pb.ID, "", ""); err == nil {
			p = loaded
		}
	}
	if p.New {
		c.pbEditorData(r.Context(), &p)
	}
	p.Body, p.Reason, p.Incident = body, r.PostFormValue("reason"), r.PostFormValue("incident")
	if respond.Detect([]byte(body)) == respond.FormatCACAO {
		p.Format = "cacao"
	}
	set(&p)
	title := "New playbook"
	if !p.New {
		title = p.Head.Title
	}
	c.render(w, r, status, "playbook", view{V: v, Title: title, Nav: "playbooks", Page: p})
}

// lint checks an editor's text as saving would.
func (c *Console) lint(ctx context.Context, body string) (*playbook.Playbook, lintView) {
	if strings.TrimSpace(body) == "" {
		return nil, newLint(body, []problem{{Line: 1, Severity: "error", Msg: "the playbook is empty"}})
	}
	pb, errs := c.d.Respond.Lib.Check(ctx, []byte(body))
	if pb == nil && len(errs) == 0 {
		errs = []playbook.Error{{Severity: playbook.SeverityError, Msg: "the document does not load"}}
	}
	return pb, newLint(body, playbookProblems(errs))
}

// lintResult is the linter's fragment: the findings, the gutter and,
// when the text parses, the graph of the draft.
type lintResult struct {
	Lint  lintView
	Graph *pbGraph
}

func (c *Console) playbookLint(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body := r.PostFormValue("body")
	pb, lv := c.lint(r.Context(), body)
	var g *pbGraph
	if pb != nil && lv.Errors == 0 {
		lg := layoutPlaybook(pb)
		g = &lg
	}
	if r.Header.Get("HX-Request") != "" {
		c.fragment(w, "playbook", "pb-lint-result", lintResult{Lint: lv, Graph: g})
		return
	}
	c.editorPage(w, r, v, http.StatusOK, body, func(p *pbPage) {
		p.Lint = lv
		if g != nil {
			p.Graph, p.Draft = g, true
		}
	})
}

func (c *Console) playbookDryRun(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body := r.PostFormValue("body")
	pb, lv := c.lint(r.Context(), body)
	dv := &dryView{Incident: r.PostFormValue("incident")}
	in := respond.StartInput{Actor: v.Actor(), Trigger: "manual"}
	switch {
	case pb == nil || lv.Errors > 0:
		dv.Err = "The playbook has errors; fix them before a dry run (they are listed at their lines)."
	case dv.Incident != "" && c.d.Alarm == nil:
		dv.Err = "Incidents are not available on this node."
	case dv.Incident != "":
		inc, err := c.d.Alarm.Store().Get(r.Context(), dv.Incident)
		if err != nil {
			dv.Err = "Incident " + dv.Incident + ": " + err.Error()
			break
		}
		in.Incident = inc
	}
	if dv.Err == "" {
		// Simulated and on a virtual clock, so even long waits end fast;
		// the bound is for a playbook that loops without end.
		ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
		tr, err := c.d.Respond.DryRun(ctx, pb, in)
		cancel()
		if err != nil {
			dv.Err = "The dry run could not run: " + err.Error()
		}
		dv.Trace = tr
	}
	if r.Header.Get("HX-Request") != "" {
		c.fragment(w, "playbook", "pb-dry-result", dryResult{Dry: dv, Lint: lv})
		return
	}
	c.editorPage(w, r, v, http.StatusOK, body, func(p *pbPage) { p.Lint, p.Dry = lv, dv })
}

func (c *Console) playbookSave(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body, reason := r.PostFormValue("body"), strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		c.editorPage(w, r, v, http.StatusUnprocessableEntity, body, func(p *pbPage) {
			p.Lint = lintView{Checked: true, Errors: 1, Problems: []problem{{Severity: "error", Msg: "say why (the reason is kept in the playbook's history)"}}}
		})
		return
	}
	ver, err := c.d.Respond.Put(r.Context(), []byte(body), v.Actor(), reason)
	var ce *respond.CheckError
	switch {
	case errors.As(err, &ce):
		c.editorPage(w, r, v, http.StatusUnprocessableEntity, body, func(p *pbPage) {
			p.Lint = newLint(body, playbookProblems(ce.Errors))
		})
		return
	case err != nil:
		c.respondFail(w, r, v, err)
		return
	}
	back(w, r, "/playbooks/"+url.PathEscape(ver.RuleID))
}

func (c *Console) playbookRollback(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	to, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil || to < 1 {
		c.fail(w, r, v, http.StatusBadRequest, "Choose the version to roll back to.")
		return
	}
	if _, err := c.d.Respond.Rollback(r.Context(), id, to, v.Actor(), strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		c.respondFail(w, r, v, err)
		return
	}
	back(w, r, "/playbooks/"+url.PathEscape(id))
}

func (c *Console) playbookToggle(on bool) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		id := r.PathValue("id")
		if err := c.d.Respond.SetEnabled(r.Context(), id, on, v.Actor(), strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
			c.respondFail(w, r, v, err)
			return
		}
		back(w, r, "/playbooks/"+url.PathEscape(id))
	}
}

// notFound is a page's own "no such thing".
type notFound struct{ msg string }

func (e *notFound) Error() string { return e.msg }

// respondFail answers a refusal of the playbook or rule stores as the REST
// API does: 404, 409 for no change, 422 for the rest.
func (c *Console) respondFail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	var nf *notFound
	status := http.StatusUnprocessableEntity
	switch {
	case errors.Is(err, rulestore.ErrNotFound), errors.Is(err, engine.ErrNotFound), errors.As(err, &nf):
		status = http.StatusNotFound
	case errors.Is(err, rulestore.ErrUnchanged):
		status = http.StatusConflict
	}
	c.fail(w, r, v, status, err.Error())
}
