package console

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/fleet"
	"github.com/riposte-soar/riposte/respond"
)

// workbenchRoutes lists the routes of the incident workbench and approvals.
// Each has the least role of the REST route that does the same.
func (c *Console) workbenchRoutes() []route {
	if c.d.Alarm == nil {
		return nil
	}
	rs := []route{
		{"GET", "/incidents/{id}", auth.Viewer, c.incident},
		{"POST", "/incidents/{id}/status", auth.Analyst, c.incidentChange("status")},
		{"POST", "/incidents/{id}/assign", auth.Analyst, c.incidentChange("assign")},
		{"POST", "/incidents/{id}/priority", auth.Analyst, c.incidentChange("priority")},
		{"POST", "/incidents/{id}/tags", auth.Analyst, c.incidentChange("tags")},
		{"POST", "/incidents/{id}/verdict", auth.Analyst, c.incidentChange("verdict")},
		{"POST", "/incidents/{id}/comment", auth.Analyst, c.incidentChange("comment")},
		{"POST", "/incidents/{id}/merge", auth.Analyst, c.merge},
		{"POST", "/incidents/{id}/split", auth.Analyst, c.split},
	}
	if c.d.Respond != nil {
		rs = append(rs,
			route{"GET", "/incidents/{id}/recover", auth.Viewer, c.recoverForm},
			route{"POST", "/incidents/{id}/recover", auth.Responder, c.recoverIncident},
			route{"GET", "/approvals", auth.Viewer, c.approvals},
			route{"POST", "/approvals/{id}/approve", auth.Responder, c.answer(true)},
			route{"POST", "/approvals/{id}/deny", auth.Responder, c.answer(false)},
		)
	}
	if c.d.Decisions != nil {
		// Under the incident: the decisions page has its own revert.
		rs = append(rs, route{"POST", "/incidents/{id}/decisions/{name}/revert", auth.Responder, c.revertDecision})
	}
	if c.d.Fleet != nil {
		rs = append(rs, route{"GET", "/incidents/{id}/evidence/{name}", auth.Analyst, c.evidence})
	}
	return rs
}

// Page sizes of the workbench: an incident of thousands of alerts shows
// the newest ones and pages through the rest.
const (
	alertPageSize    = 100
	timelinePageSize = 200
	entityPageSize   = 100
)

func critOf(e entityRow) int {
	if e.Asset == nil || e.Asset.Discovered {
		return 0
	}
	return e.Asset.Criticality
}

// incidentPage is the workbench of one incident.
type incidentPage struct {
	Inc      *alarm.Incident
	URL      string // the workbench's own URL (forms come back here)
	Self     string // this view of it (with its pages), for live refresh
	Clocks   []slaClock
	Next     []alarm.Status // NIST SP 800-61 transitions offered
	Verdicts []alarm.Verdict
	Prios    []string

	Timeline      []tlEntry // newest first
	TimelineTotal int
	TimelineMore  string

	Groups    []alarm.AlertGroup
	Alerts    []*alarm.Alert
	AlertFrom int // 1-based index of the first alert shown
	AlertTo   int
	AlertPrev string
	AlertNext string
	Repeated  int // alerts shown that repeated (count > 1)
	Entities  []entityRow
	// EntitiesCut counts the entities not shown.
	EntitiesCut int
	Decisions   []decisionRow
	Evidence    []fleet.Evidence
	Runs        []runView
	Approvals   []approvalView
	Undo        int // undos recovery would run
	HasRespond  bool
	HasFleet    bool
	HasDecide   bool
	Now         time.Time
	Notes       []string // parts that could not be read, said plainly
}

// tlEntry is one line of the merged timeline.
type tlEntry struct {
	At     time.Time
	Actor  string
	Kind   string
	Text   string
	Detail string
	Run    string // run id, for playbook steps
}

// entityRow is an entity with what the inventory knows of it.
type entityRow struct {
	alarm.Entity
	Asset *alarm.Asset
}

// decisionRow is a decision with the agents that report enforcing it.
type decisionRow struct {
	decision.Decision
	Active     bool
	EnforcedBy []string
	Missing    []string
}

func (c *Console) incident(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	page, _ := strconv.Atoi(r.URL.Query().Get("alerts"))
	page = max(page, 0)
	p, err := c.loadIncident(r.Context(), id, page, r.URL.Query().Get("timeline") == "all")
	if err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	p.Self = localPath(r.URL.RequestURI())
	vw := view{V: v, Title: p.Inc.Title, Nav: "queue", Page: p}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "wb" {
		c.fragment(w, "incident", "incident-body", vw)
		return
	}
	c.render(w, r, http.StatusOK, "incident", vw)
}

// loadIncident reads everything the workbench shows. Each part is one
// query (or one per playbook run of the incident, which are few), never
// one per alert.
func (c *Console) loadIncident(ctx context.Context, id string, alertPage int, allTimeline bool) (*incidentPage, error) {
	st := c.d.Alarm.Store()
	inc, err := st.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := c.d.Now()
	p := &incidentPage{Inc: inc, URL: "/incidents/" + url.PathEscape(id), Clocks: clocks(inc, now), Now: now,
		Verdicts:   []alarm.Verdict{alarm.VerdictTruePositive, alarm.VerdictFalsePositive, alarm.VerdictBenign},
		Prios:      []string{"P1", "P2", "P3", "P4"},
		HasRespond: c.d.Respond != nil, HasFleet: c.d.Fleet != nil, HasDecide: c.d.Decisions != nil}
	p.Next = transitions(inc.Status)

	// Alerts: the newest page, and every alert summarized by rule.
	if p.Groups, err = st.AlertGroups(ctx, id); err != nil {
		return nil, err
	}
	total := 0
	for _, g := range p.Groups {
		total += g.Alerts
	}
	if p.Alerts, err = st.AlertPage(ctx, id, alertPageSize, alertPage*alertPageSize); err != nil {
		return nil, err
	}
	if len(p.Alerts) > 0 {
		p.AlertFrom, p.AlertTo = alertPage*alertPageSize+1, alertPage*alertPageSize+len(p.Alerts)
	}
	if p.AlertTo < total {
		p.AlertNext = fmt.Sprintf("%s?alerts=%d#alerts", p.URL, alertPage+1)
	}
	if alertPage > 0 {
		p.AlertPrev = fmt.Sprintf("%s?alerts=%d#alerts", p.URL, alertPage-1)
	}
	for _, a := range p.Alerts {
		if a.Count > 1 {
			p.Repeated++
		}
	}

	// Entities with their asset records, the most critical first; an
	// incident of thousands of users shows the first ones and a count.
	inv := c.d.Alarm.Inventory()
	for _, e := range inc.Entities {
		p.Entities = append(p.Entities, entityRow{Entity: e, Asset: inv.Lookup(e)})
	}
	sort.SliceStable(p.Entities, func(i, j int) bool { return critOf(p.Entities[i]) > critOf(p.Entities[j]) })
	if len(p.Entities) > entityPageSize {
		p.EntitiesCut = len(p.Entities) - entityPageSize
		p.Entities = p.Entities[:entityPageSize]
	}

	// Timeline: the newest entries (all on request), with playbook steps.
	limit := timelinePageSize
	if allTimeline {
		limit = 1 << 30
	}
	tl, tlTotal, err := st.TimelinePage(ctx, id, limit)
	if err != nil {
		return nil, err
	}
	p.TimelineTotal = tlTotal
	if tlTotal > len(tl) {
		p.TimelineMore = p.URL + "?timeline=all#timeline"
	}
	for _, e := range tl {
		p.Timeline = append(p.Timeline, tlEntry{At: e.At, Actor: e.Actor, Kind: e.Kind, Text: e.Text, Detail: detailText(e.Detail)})
	}

	if c.d.Respond != nil {
		c.loadRuns(ctx, p, v0(tl))
	}
	if c.d.Decisions != nil {
		c.loadDecisions(ctx, p, now)
	}
	if c.d.Fleet != nil {
		ev, err := c.d.Fleet.ListEvidence(ctx, id)
		if err != nil {
			p.Notes = append(p.Notes, "Evidence could not be read: "+err.Error())
		}
		p.Evidence = ev
	}
	// Newest first, whatever part an entry came from.
	sort.SliceStable(p.Timeline, func(i, j int) bool { return p.Timeline[i].At.After(p.Timeline[j].At) })
	return p, nil
}

// v0 is the time of the oldest timeline entry shown: playbook steps older
// than it stay off a timeline that is itself cut.
func v0(tl []alarm.TimelineEntry) time.Time {
	if len(tl) == 0 {
		return time.Time{}
	}
	return tl[len(tl)-1].At
}

// loadRuns reads the incident's playbook runs, their traces (for the
// graph and the timeline) and their open approvals.
func (c *Console) loadRuns(ctx context.Context, p *incidentPage, since time.Time) {
	eng := c.d.Respond.Engine
	runs, err := eng.Runs(ctx, engine.RunFilter{Incident: p.Inc.ID, Limit: 50})
	if err != nil {
		p.Notes = append(p.Notes, "Playbook runs could not be read: "+err.Error())
		return
	}
	// Steps already on the timeline (a connector that notes its own
	// actions) are not repeated.
	noted := map[string]bool{}
	for _, e := range p.Timeline {
		noted[e.Kind+"\x00"+e.Text] = true
	}
	for _, ri := range runs {
		rv, err := c.runView(ctx, ri)
		if err != nil {
			p.Notes = append(p.Notes, "Run "+ri.ID+" could not be read: "+err.Error())
			continue
		}
		p.Runs = append(p.Runs, rv)
		for _, s := range rv.Steps {
			if s.Entered.Before(since) {
				continue
			}
			e := tlEntry{At: s.Entered, Actor: "playbook:" + ri.PlaybookID, Kind: "action", Text: s.Label() + ": " + s.State, Run: ri.ID}
			if s.Ended != nil {
				e.At = *s.Ended
			}
			if s.Inquiry != "" {
				e.Kind = "approval"
				e.Text = s.Label() + ": " + s.Inquiry
				if s.Answer != "" {
					e.Text += " — " + s.Answer
				}
			}
			if !noted[e.Kind+"\x00"+e.Text] {
				p.Timeline = append(p.Timeline, e)
			}
		}
		qs, err := eng.Inquiries(ctx, engine.InquiryFilter{State: "open", RunID: ri.ID})
		if err != nil {
			p.Notes = append(p.Notes, "Approvals of run "+ri.ID+" could not be read: "+err.Error())
			continue
		}
		for _, q := range qs {
			p.Approvals = append(p.Approvals, approvalOf(q, ri, rv, p.Inc.ID, p.Inc.Title))
		}
	}
	if es, err := c.d.Respond.Ledger.Entries(ctx, p.Inc.ID); err == nil {
		for _, e := range es {
			if e.DoneAt == nil {
				p.Undo++
			}
		}
	}
}

func (c *Console) loadDecisions(ctx context.Context, p *incidentPage, now time.Time) {
	ds, err := c.d.Decisions.List(ctx, true, now)
	if err != nil {
		p.Notes = append(p.Notes, "Decisions could not be read: "+err.Error())
		return
	}
	var agents []fleet.Agent
	if c.d.Fleet != nil {
		agents = c.d.Fleet.List()
	}
	for _, d := range ds {
		if d.Incident != p.Inc.ID {
			continue
		}
		row := decisionRow{Decision: d, Active: d.Active(now)}
		if row.Active {
			row.EnforcedBy, row.Missing = enforcement(d, agents)
		}
		p.Decisions = append(p.Decisions, row)
	}
}

// enforcement is what GET /api/v1/decisions reports per decision: the
// agents whose last heartbeat holds its rule, and those that should.
func enforcement(d decision.Decision, agents []fleet.Agent) (by, missing []string) {
	for _, a := range agents {
		if a.Revoked || !a.Enforces(d) {
			continue
		}
		if a.Holds(d) {
			by = append(by, a.Hostname)
		} else {
			missing = append(missing, a.Hostname)
		}
	}
	return by, missing
}

// transitions are the statuses a person can move an incident to from
// st: forward along the life cycle, and back to triaged to reopen.
func transitions(st alarm.Status) []alarm.Status {
	i := slices.Index(alarm.Statuses, st)
	if st == alarm.StatusClosed {
		return []alarm.Status{alarm.StatusTriaged}
	}
	if i < 0 {
		return alarm.Statuses
	}
	return alarm.Statuses[i+1:]
}

// detailText shows a timeline entry's detail as "key=value" pairs.
func detailText(d map[string]any) string {
	if len(d) == 0 {
		return ""
	}
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%v", k, d[k])
	}
	return b.String()
}

// changeForm reads a workbench form into the change the REST route makes
// from its JSON body; the checks are the REST route's.
func changeForm(kind string, r *http.Request, v *viewer) (alarm.Change, string) {
	var ch alarm.Change
	f := func(k string) string { return strings.TrimSpace(r.PostFormValue(k)) }
	switch kind {
	case "assign":
		name := f("assignee")
		if r.PostFormValue("me") != "" {
			name = v.User.Name
		}
		ch.Assignee = &name
	case "status":
		st, err := alarm.ParseStatus(f("status"))
		if err != nil {
			return ch, "status: " + err.Error()
		}
		ch.Status, ch.Comment = &st, f("comment")
		if vd := f("verdict"); vd != "" {
			vv, err := alarm.ParseVerdict(vd)
			if err != nil {
				return ch, "verdict: " + err.Error()
			}
			ch.Verdict = &vv
		}
	case "comment":
		if f("text") == "" {
			return ch, "Write a comment first."
		}
		ch.Comment = r.PostFormValue("text")
	case "verdict":
		vv, err := alarm.ParseVerdict(f("verdict"))
		if err != nil {
			return ch, "verdict: " + err.Error()
		}
		ch.Verdict = &vv
	case "tags":
		ch.AddTags = splitList(f("add"))
		ch.DelTags = r.PostForm["remove"]
		if len(ch.AddTags) == 0 && len(ch.DelTags) == 0 {
			return ch, "Name a tag to add or remove."
		}
	case "priority":
		if r.PostFormValue("clear") != "" {
			ch.ClearOverride = true
		} else if pr := f("priority"); pr != "" {
			ch.Priority = &pr
		} else {
			return ch, "Choose a priority, or hand the rating back to detection."
		}
		if ch.Reason = f("reason"); ch.Reason == "" {
			return ch, "A reason is required: it goes on the timeline and in the audit log."
		}
	}
	return ch, ""
}

// splitList reads a list typed into one field: commas, spaces or lines.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\r' || r == '\t' })
}

func (c *Console) incidentChange(kind string) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		ch, bad := changeForm(kind, r, v)
		if bad != "" {
			c.fail(w, r, v, http.StatusBadRequest, bad)
			return
		}
		id := r.PathValue("id")
		if _, err := c.d.Alarm.Update(r.Context(), id, ch, v.Actor()); err != nil {
			c.alarmFail(w, r, v, err)
			return
		}
		back(w, r, "/incidents/"+url.PathEscape(id))
	}
}

func (c *Console) merge(w http.ResponseWriter, r *http.Request, v *viewer) {
	srcs := splitList(r.PostFormValue("sources"))
	if len(srcs) == 0 {
		c.fail(w, r, v, http.StatusBadRequest, "Name the incidents to merge into this one.")
		return
	}
	id := r.PathValue("id")
	if _, err := c.d.Alarm.Merge(r.Context(), id, srcs, v.Actor(), strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	back(w, r, "/incidents/"+url.PathEscape(id))
}

func (c *Console) split(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	if r.ParseForm() != nil || len(r.PostForm["alert"]) == 0 {
		c.fail(w, r, v, http.StatusBadRequest, "Choose the alerts to split into a new incident.")
		return
	}
	inc, err := c.d.Alarm.Split(r.Context(), id, r.PostForm["alert"], v.Actor(), strings.TrimSpace(r.PostFormValue("reason")))
	if err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	// The new incident is where the person wants to be next.
	r.PostForm.Del("back")
	back(w, r, "/incidents/"+url.PathEscape(inc.ID))
}

// recoverPage lists what "undo all" will undo before the person confirms.
type recoverPage struct {
	Inc       *alarm.Incident
	Undo      []respond.UndoEntry
	Pending   int
	Decisions []decision.Decision
}

func (c *Console) recoverForm(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	inc, err := c.d.Alarm.Store().Get(r.Context(), id)
	if err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	es, err := c.d.Respond.Ledger.Entries(r.Context(), id)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The undo list could not be read: "+err.Error())
		return
	}
	p := recoverPage{Inc: inc, Undo: es}
	for _, e := range es {
		if e.DoneAt == nil {
			p.Pending++
		}
	}
	if c.d.Decisions != nil {
		ds, err := c.d.Decisions.List(r.Context(), false, c.d.Now())
		if err == nil {
			for _, d := range ds {
				if d.Incident == id {
					p.Decisions = append(p.Decisions, d)
				}
			}
		}
	}
	c.render(w, r, http.StatusOK, "incident_recover", view{V: v, Title: "Undo all: " + inc.Title, Nav: "queue", Page: p})
}

func (c *Console) recoverIncident(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	// Nothing to recover for what never existed (as the REST route).
	if _, err := c.d.Alarm.Store().Get(r.Context(), id); err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	steps, err := c.d.Respond.Recover(r.Context(), id, v.Actor())
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "Recovery stopped: "+err.Error())
		return
	}
	failed := 0
	for _, s := range steps {
		if !s.OK {
			failed++
		}
	}
	if failed > 0 {
		c.fail(w, r, v, http.StatusBadGateway, fmt.Sprintf("%d of %d undos failed; the timeline says which. Try again once the cause is fixed.", failed, len(steps)))
		return
	}
	back(w, r, "/incidents/"+url.PathEscape(id))
}

func (c *Console) revertDecision(w http.ResponseWriter, r *http.Request, v *viewer) {
	id, did := r.PathValue("id"), r.PathValue("name")
	d, err := c.d.Decisions.Get(r.Context(), did)
	if err != nil || d.Incident != id {
		c.fail(w, r, v, http.StatusNotFound, "This incident has no decision "+did+".")
		return
	}
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if _, err := c.d.Decisions.Revert(r.Context(), did, v.Actor(), reason, c.d.Now().UTC()); err != nil {
		c.fail(w, r, v, http.StatusConflict, err.Error())
		return
	}
	back(w, r, "/incidents/"+url.PathEscape(id))
}
