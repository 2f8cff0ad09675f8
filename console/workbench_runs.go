package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/playbook"
)

// runView is one playbook run of an incident: its steps with their state
// and the graph drawn from them.
type runView struct {
	engine.RunInfo
	Name  string // the playbook's name, when its version is still known
	Error string
	Steps []stepView
	Graph runGraph
}

// stepView is one step instance as the workbench shows it.
type stepView struct {
	engine.TraceStep
	// State is pending, running, waiting, done, failed or cancelled.
	State   string
	Inputs  string
	Outputs string
}

// Label names the step as its author did, or by its id.
func (s stepView) Label() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Step
}

func (c *Console) runView(ctx context.Context, ri engine.RunInfo) (runView, error) {
	eng := c.d.Respond.Engine
	tr, err := eng.Trace(ctx, ri.ID)
	if err != nil {
		return runView{}, err
	}
	live, err := eng.GetRun(ctx, ri.ID)
	if err != nil {
		return runView{}, err
	}
	rv := runView{RunInfo: ri, Error: tr.Error}
	for _, ts := range tr.Steps {
		sv := stepView{TraceStep: ts, State: stepState(ts, live.Snapshot)}
		if len(ts.Commands) > 0 {
			sv.Inputs = strings.Join(ts.Commands, "\n")
		}
		if len(ts.Outputs) > 0 {
			b, _ := json.MarshalIndent(ts.Outputs, "", "  ")
			sv.Outputs = string(b)
		}
		rv.Steps = append(rv.Steps, sv)
	}
	var pb *playbook.Playbook
	if c.d.Respond.Lib != nil {
		pb, _ = c.d.Respond.Lib.Version(ctx, ri.PlaybookID, ri.Version)
	}
	if pb != nil {
		rv.Name = pb.Name
	}
	rv.Graph = drawRun(pb, rv.Steps)
	return rv, nil
}

// stepState maps a trace step and the run's live instances to the five
// states people read on the graph.
func stepState(ts engine.TraceStep, s *engine.Snapshot) string {
	switch ts.Outcome {
	case "succeeded":
		return "done"
	case "failed":
		return "failed"
	case "cancelled":
		return "cancelled"
	}
	if s != nil {
		if in := s.Insts[ts.Inst]; in != nil {
			switch in.State {
			case "waiting", "delayed":
				return "waiting"
			}
			if in.Inquiry != "" {
				return "waiting"
			}
		}
	}
	if ts.Inquiry != "" && ts.Answer == "" {
		return "waiting"
	}
	return "running"
}

// approvalView is an open approval with what asked for it.
type approvalView struct {
	engine.Inquiry
	IncidentID    string
	IncidentTitle string
	Playbook      string
	Step          string
	// Policy is set when an approval policy (not the playbook) held the
	// step: the question names the policy's rule.
	Policy bool
	Fields []formField
}

// formField is one value an approval's form asks for.
type formField struct {
	Name  string // the variable, __name__
	Label string
	Input string // the form input's name
}

func approvalOf(q engine.Inquiry, ri engine.RunInfo, rv runView, incID, incTitle string) approvalView {
	a := approvalView{Inquiry: q, IncidentID: incID, IncidentTitle: incTitle, Playbook: ri.PlaybookID, Policy: q.Kind == "policy"}
	for _, s := range rv.Steps {
		if s.Inst == q.Inst {
			a.Step = s.Label()
		}
	}
	if a.Step == "" {
		a.Step = q.Inst
	}
	for _, f := range q.Form {
		a.Fields = append(a.Fields, formField{Name: f, Label: strings.Trim(f, "_"), Input: "field." + f})
	}
	return a
}

// approvalsPage is every open approval, across incidents.
type approvalsPage struct {
	Approvals []approvalView
	Now       time.Time
}

func (c *Console) approvals(w http.ResponseWriter, r *http.Request, v *viewer) {
	eng := c.d.Respond.Engine
	qs, err := eng.Inquiries(r.Context(), engine.InquiryFilter{State: "open"})
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "Approvals could not be read: "+err.Error())
		return
	}
	p := approvalsPage{Now: c.d.Now()}
	// One read per run (open approvals are few; a run may have several).
	runs := map[string]runView{}
	incidents := map[string]string{}
	for _, q := range qs {
		rv, ok := runs[q.RunID]
		if !ok {
			info, incID := c.runInfo(r.Context(), q.RunID)
			rv, err = c.runView(r.Context(), info)
			if err != nil {
				rv = runView{RunInfo: info}
			}
			runs[q.RunID] = rv
			incidents[q.RunID] = incID
		}
		incID := incidents[q.RunID]
		title := ""
		if incID != "" {
			if inc, err := c.d.Alarm.Store().Get(r.Context(), incID); err == nil {
				title = inc.Title
			}
		}
		p.Approvals = append(p.Approvals, approvalOf(q, rv.RunInfo, rv, incID, title))
	}
	sort.SliceStable(p.Approvals, func(i, j int) bool { return p.Approvals[i].Deadline.Before(p.Approvals[j].Deadline) })
	c.render(w, r, http.StatusOK, "approvals", view{V: v, Title: "Approvals", Nav: "approvals", Page: p})
}

// runInfo reads a run's row and the incident it answers, from its
// snapshot (child runs: their parent's).
func (c *Console) runInfo(ctx context.Context, id string) (engine.RunInfo, string) {
	rv, err := c.d.Respond.Engine.GetRun(ctx, id)
	if err != nil || rv.Snapshot == nil {
		return engine.RunInfo{ID: id}, ""
	}
	s := rv.Snapshot
	info := engine.RunInfo{ID: s.RunID, PlaybookID: s.PlaybookID, Version: s.Version, Status: s.Status, ParentRun: s.ParentRun, Created: s.Created, Updated: s.Updated}
	inc := engine.IncidentOf(s.Vars["__incident__"])
	if inc == "" && s.ParentRun != "" && s.ParentRun != id {
		_, inc = c.runInfo(ctx, s.ParentRun)
	}
	return info, inc
}

// answer approves or denies, as POST /api/v1/approvals/{id}/approve|deny:
// the person's name is who answered, their role and the roles it includes
// are what role assignees match.
func (c *Console) answer(approve bool) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		if err := r.ParseForm(); err != nil {
			c.fail(w, r, v, http.StatusBadRequest, err.Error())
			return
		}
		var values map[string]any
		if approve {
			for k, vs := range r.PostForm {
				if name, ok := strings.CutPrefix(k, "field."); ok && len(vs) > 0 && vs[0] != "" {
					if values == nil {
						values = map[string]any{}
					}
					values[name] = vs[0]
				}
			}
		}
		var roles []string
		for _, role := range auth.Roles {
			if v.User.Role.Allows(role) {
				roles = append(roles, string(role))
			}
		}
		ctx := engine.WithActor(r.Context(), v.Actor())
		err := c.d.Respond.Engine.AnswerForm(ctx, r.PathValue("id"), approve, strings.TrimSpace(r.PostFormValue("comment")), v.User.Name, roles, values)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			c.fail(w, r, v, http.StatusNotFound, "No approval "+r.PathValue("id")+".")
			return
		case errors.Is(err, engine.ErrNotAssignee):
			c.fail(w, r, v, http.StatusForbidden, "This approval is assigned to other people or roles.")
			return
		case err != nil:
			c.fail(w, r, v, http.StatusConflict, err.Error())
			return
		}
		back(w, r, "/approvals")
	}
}

// evidence streams one item of the incident's evidence to the signed-in
// person, as GET /api/v1/evidence/{id} does for a token: checked against
// its recorded SHA-256 first, and every read goes into the audit log.
func (c *Console) evidence(w http.ResponseWriter, r *http.Request, v *viewer) {
	e, f, err := c.d.Fleet.OpenEvidence(r.Context(), r.PathValue("name"))
	switch {
	case errors.Is(err, os.ErrNotExist) || (err == nil && e.Incident != r.PathValue("id")):
		if f != nil {
			f.Close()
		}
		c.fail(w, r, v, http.StatusNotFound, "This incident has no evidence "+r.PathValue("name")+".")
		return
	case err != nil:
		c.fail(w, r, v, http.StatusConflict, err.Error())
		return
	}
	defer f.Close()
	if c.d.Audit != nil {
		if err := c.d.Audit.Append(r.Context(), v.Actor(), "evidence.read", "evidence:"+e.ID, map[string]string{"sha256": e.SHA256}); err != nil {
			// No custody record, no download.
			c.fail(w, r, v, http.StatusInternalServerError, "The read could not be recorded in the audit log: "+err.Error())
			return
		}
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(e.Name))
	w.Header().Set("X-Riposte-SHA256", e.SHA256)
	w.Header().Set("Content-Length", fmt.Sprint(e.Size))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
	_, _ = io.Copy(w, f)
}
