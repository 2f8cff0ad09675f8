package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/detect"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/eventstore"
	"github.com/riposte-soar/riposte/rulestore"
)

// The rule manager (detect.Manager) offers more than the REST API's
// RuleService: the console uses it when it is there.
type (
	ruleSummaries interface {
		Summaries(ctx context.Context) ([]detect.RuleSummary, error)
	}
	ruleChecker interface {
		Check(ctx context.Context, body []byte) []detect.LoadError
	}
	ruleBacktester interface {
		Backtest(ctx context.Context, body []byte, from, to time.Time, events detect.EventPage, maxEvents int) (detect.BacktestReport, error)
	}
)

// ruleRoutes: the roles of api/rules.go (analysts change rules); a
// backtest reads stored events and replays them on this node, an
// analyst's tool too.
func (c *Console) ruleRoutes() []route {
	if c.d.Rules == nil {
		return nil
	}
	return []route{
		{"GET", "/rules", auth.Viewer, c.rules},
		{"GET", "/rules/new", auth.Viewer, c.ruleNew},
		{"GET", "/rules/{id}", auth.Viewer, c.rule},
		{"POST", "/rules/lint", auth.Viewer, c.ruleLint},
		{"POST", "/rules/backtest", auth.Analyst, c.ruleBacktest},
		{"POST", "/rules", auth.Analyst, c.ruleSave},
		{"POST", "/rules/{id}/rollback", auth.Analyst, c.ruleRollback},
		{"POST", "/rules/{id}/enable", auth.Analyst, c.ruleToggle(true)},
		{"POST", "/rules/{id}/disable", auth.Analyst, c.ruleToggle(false)},
	}
}

const rulesPageSize = 50

// backtestMaxEvents bounds a backtest started from a page: it runs in the
// request, on the server.
const backtestMaxEvents = 200_000

// ruleRow is one rule of the list with what the alarm store says of it.
type ruleRow struct {
	rulestore.Rule
	Level    string
	Tags     []string
	Alerts   int64
	Hits     int64
	Judged   int64
	FP       int64
	Benign   int64
	FPRate   string // "12%", "" when nothing was judged
	LastSeen time.Time
}

type ruleList struct {
	Rows       []ruleRow
	Q, Level   string
	Levels     []string
	Total      int
	Shown      int
	Next, Prev string
	NoStats    bool
	HasLevels  bool
	Page       int
}

func (l ruleList) url(page int) string {
	v := url.Values{}
	if l.Q != "" {
		v.Set("q", l.Q)
	}
	if l.Level != "" {
		v.Set("level", l.Level)
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/rules"
	}
	return "/rules?" + v.Encode()
}

func fpRate(s alarm.RuleStats) string {
	r, ok := s.FPRate()
	if !ok {
		return ""
	}
	return strconv.FormatFloat(r*100, 'f', 0, 64) + "%"
}

func (c *Console) rules(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	l := ruleList{Q: strings.TrimSpace(q.Get("q")), Level: q.Get("level"),
		Levels: []string{"informational", "low", "medium", "high", "critical"}}
	l.Page, _ = strconv.Atoi(q.Get("page"))
	l.Page = max(l.Page, 0)
	var rows []ruleRow
	if rs, ok := c.d.Rules.(ruleSummaries); ok {
		sums, err := rs.Summaries(r.Context())
		if err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The rules could not be read: "+err.Error())
			return
		}
		l.HasLevels = true
		for _, s := range sums {
			rows = append(rows, ruleRow{Rule: s.Rule, Level: s.Level, Tags: s.Tags})
		}
	} else {
		list, err := c.d.Rules.List(r.Context())
		if err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The rules could not be read: "+err.Error())
			return
		}
		for _, s := range list {
			rows = append(rows, ruleRow{Rule: s})
		}
	}
	if c.d.Alarm != nil {
		stats, err := c.d.Alarm.Store().RuleStats(r.Context())
		if err != nil {
			c.fail(w, r, v, http.StatusInternalServerError, "The rules' hit counts could not be read: "+err.Error())
			return
		}
		for i := range rows {
			s := stats[rows[i].ID]
			rows[i].Alerts, rows[i].Hits, rows[i].Judged, rows[i].FP, rows[i].Benign = s.Alerts, s.Hits, s.Judged, s.FalsePositives, s.Benign
			rows[i].FPRate = fpRate(s)
			if s.Alerts > 0 {
				rows[i].LastSeen = s.LastSeen
			}
		}
	} else {
		l.NoStats = true
	}
	needle := strings.ToLower(l.Q)
	kept := rows[:0]
	for _, row := range rows {
		if l.Level != "" && row.Level != l.Level {
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(row.ID+" "+row.Title+" "+strings.Join(row.Tags, " ")), needle) {
			continue
		}
		kept = append(kept, row)
	}
	// The noisiest first: what a tuning session starts with.
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].Hits > kept[j].Hits })
	l.Total = len(kept)
	from := min(l.Page*rulesPageSize, len(kept))
	to := min(from+rulesPageSize, len(kept))
	l.Rows, l.Shown = kept[from:to], to
	if to < len(kept) {
		l.Next = l.url(l.Page + 1)
	}
	if l.Page > 0 {
		l.Prev = l.url(l.Page - 1)
	}
	c.render(w, r, http.StatusOK, "rules", view{V: v, Title: "Rules", Nav: "rules", Page: l})
}

// rulePage is a rule's page: versions, diffs, the editor, the backtest.
type rulePage struct {
	New      bool
	Head     rulestore.Rule
	Shown    rulestore.Version
	Stats    alarm.RuleStats
	FPRate   string
	Body     string
	Reason   string
	Lint     lintView
	History  []rulestore.Version
	Diff     *diffView
	From, To string // the backtest window, as the form shows it
	Backtest *backtestView
}

type backtestView struct {
	Report detect.BacktestReport
	Err    string
	Max    int
	// Added and Removed are the first hits of each, for the page; the
	// report keeps them all.
	Added, Removed []detect.BacktestHit
}

// backtestShown bounds the hits listed on the page.
const backtestShown = 200

const formTime = "2006-01-02T15:04"

func (c *Console) newRulePage() rulePage {
	now := c.d.Now().UTC()
	return rulePage{New: true, From: now.Add(-7 * 24 * time.Hour).Format(formTime), To: now.Add(time.Minute).Format(formTime)}
}

func (c *Console) ruleNew(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.render(w, r, http.StatusOK, "rule", view{V: v, Title: "New rule", Nav: "rules", Page: c.newRulePage()})
}

func (c *Console) ruleLoad(ctx context.Context, id, version string) (rulePage, error) {
	head, cur, err := c.d.Rules.Get(ctx, id)
	if err != nil {
		return rulePage{}, err
	}
	hist, err := c.d.Rules.History(ctx, id)
	if err != nil {
		return rulePage{}, err
	}
	p := c.newRulePage()
	p.New, p.Head, p.Shown, p.History = false, head, cur, newestFirst(hist)
	if n, err := strconv.Atoi(version); err == nil {
		found := false
		for _, h := range hist {
			if h.Version == n {
				p.Shown, found = h, true
			}
		}
		if !found {
			return rulePage{}, &notFound{"rule " + id + " has no version " + version}
		}
	}
	p.Body = p.Shown.Body
	if c.d.Alarm != nil {
		// One grouped query for every rule; a rule's page reads its row.
		if stats, err := c.d.Alarm.Store().RuleStats(ctx); err == nil {
			p.Stats = stats[id]
			p.FPRate = fpRate(p.Stats)
		}
	}
	return p, nil
}

func (c *Console) rule(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	p, err := c.ruleLoad(r.Context(), r.PathValue("id"), q.Get("version"))
	if err != nil {
		c.respondFail(w, r, v, err)
		return
	}
	p.Diff = pickDiff(p.History, q.Get("from"), q.Get("to"))
	c.render(w, r, http.StatusOK, "rule", view{V: v, Title: p.Head.Title, Nav: "rules", Page: p})
}

// ruleEditorPage redraws a rule's page (or the new-rule page) around the
// text a person posted.
func (c *Console) ruleEditorPage(w http.ResponseWriter, r *http.Request, v *viewer, status int, body string, set func(*rulePage)) {
	p := c.newRulePage()
	if info, errs := detect.Inspect([]byte(body), "candidate"); len(errs) == 0 && info.ID != "" {
		if loaded, err := c.ruleLoad(r.Context(), info.ID, ""); err == nil {
			p = loaded
		}
	}
	p.Body, p.Reason = body, r.PostFormValue("reason")
	if f := r.PostFormValue("from"); f != "" {
		p.From = f
	}
	if t := r.PostFormValue("to"); t != "" {
		p.To = t
	}
	set(&p)
	title := "New rule"
	if !p.New {
		title = p.Head.Title
	}
	c.render(w, r, status, "rule", view{V: v, Title: title, Nav: "rules", Page: p})
}

func ruleProblems(errs []detect.LoadError) []problem {
	out := make([]problem, 0, len(errs))
	for _, e := range errs {
		out = append(out, problem{Line: e.Line, Severity: "error", Msg: e.Reason})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

func (c *Console) ruleCheck(ctx context.Context, body string) lintView {
	if strings.TrimSpace(body) == "" {
		return newLint(body, []problem{{Line: 1, Severity: "error", Msg: "the rule is empty"}})
	}
	var errs []detect.LoadError
	if rc, ok := c.d.Rules.(ruleChecker); ok {
		errs = rc.Check(ctx, []byte(body))
	} else {
		_, errs = detect.Inspect([]byte(body), "candidate")
	}
	return newLint(body, ruleProblems(errs))
}

func (c *Console) ruleLint(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body := r.PostFormValue("body")
	lv := c.ruleCheck(r.Context(), body)
	if r.Header.Get("HX-Request") != "" {
		c.fragment(w, "rule", "pb-lint-result", lintResult{Lint: lv})
		return
	}
	c.ruleEditorPage(w, r, v, http.StatusOK, body, func(p *rulePage) { p.Lint = lv })
}

func (c *Console) ruleSave(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body, reason := r.PostFormValue("body"), strings.TrimSpace(r.PostFormValue("reason"))
	if reason == "" {
		c.ruleEditorPage(w, r, v, http.StatusUnprocessableEntity, body, func(p *rulePage) {
			p.Lint = lintView{Checked: true, Errors: 1, Problems: []problem{{Severity: "error", Msg: "say why (the reason is kept in the rule's history)"}}}
		})
		return
	}
	if strings.TrimSpace(body) == "" {
		c.ruleEditorPage(w, r, v, http.StatusUnprocessableEntity, body, func(p *rulePage) { p.Lint = c.ruleCheck(r.Context(), body) })
		return
	}
	ver, err := c.d.Rules.Put(r.Context(), []byte(body), v.Actor(), reason)
	var ve *detect.ValidationError
	switch {
	case errors.As(err, &ve):
		c.ruleEditorPage(w, r, v, http.StatusUnprocessableEntity, body, func(p *rulePage) { p.Lint = newLint(body, ruleProblems(ve.Errors)) })
		return
	case err != nil:
		c.respondFail(w, r, v, err)
		return
	}
	back(w, r, "/rules/"+url.PathEscape(ver.RuleID))
}

func (c *Console) ruleRollback(w http.ResponseWriter, r *http.Request, v *viewer) {
	id := r.PathValue("id")
	to, err := strconv.Atoi(r.PostFormValue("version"))
	if err != nil || to < 1 {
		c.fail(w, r, v, http.StatusBadRequest, "Choose the version to roll back to.")
		return
	}
	if _, err := c.d.Rules.Rollback(r.Context(), id, to, v.Actor(), strings.TrimSpace(r.PostFormValue("reason"))); err != nil {
		c.respondFail(w, r, v, err)
		return
	}
	back(w, r, "/rules/"+url.PathEscape(id))
}

func (c *Console) ruleToggle(on bool) func(http.ResponseWriter, *http.Request, *viewer) {
	return func(w http.ResponseWriter, r *http.Request, v *viewer) {
		id := r.PathValue("id")
		reason := strings.TrimSpace(r.PostFormValue("reason"))
		if reason == "" {
			c.fail(w, r, v, http.StatusUnprocessableEntity, "Say why: the reason is kept in the rule's history.")
			return
		}
		if err := c.d.Rules.SetEnabled(r.Context(), id, on, v.Actor(), reason); err != nil {
			c.respondFail(w, r, v, err)
			return
		}
		back(w, r, "/rules/"+url.PathEscape(id))
	}
}

func (c *Console) ruleBacktest(w http.ResponseWriter, r *http.Request, v *viewer) {
	r.Body = http.MaxBytesReader(w, r.Body, maxSource)
	body := r.PostFormValue("body")
	bv := &backtestView{Max: backtestMaxEvents}
	from, ok1 := parseWhen(r.PostFormValue("from"))
	to, ok2 := parseWhen(r.PostFormValue("to"))
	bt, canRun := c.d.Rules.(ruleBacktester)
	switch {
	case !ok1 || !ok2 || !to.After(from):
		bv.Err = "Give the window as two times (from before to), e.g. 2026-12-01T10:00."
	case !canRun || c.d.Events == nil:
		bv.Err = "Backtests need the event store, which this node does not have."
	default:
		events := func(ctx context.Context, from, to time.Time, cursor string) ([]event.Event, string, error) {
			return c.d.Events.Find(ctx, eventstore.Query{From: from, To: to, After: cursor, Limit: 5000})
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Minute)
		rep, err := bt.Backtest(ctx, []byte(body), from, to, events, backtestMaxEvents)
		cancel()
		var ve *detect.ValidationError
		switch {
		case errors.As(err, &ve):
			msgs := make([]string, len(ve.Errors))
			for i, e := range ve.Errors {
				msgs[i] = e.Error()
			}
			bv.Err = "The edited rule does not load: " + strings.Join(msgs, "; ")
		case err != nil:
			bv.Err = "The backtest failed: " + err.Error()
		}
		bv.Report = rep
		bv.Added, bv.Removed = rep.Added[:min(len(rep.Added), backtestShown)], rep.Removed[:min(len(rep.Removed), backtestShown)]
	}
	if r.Header.Get("HX-Request") != "" {
		c.fragment(w, "rule", "rule-backtest", bv)
		return
	}
	c.ruleEditorPage(w, r, v, http.StatusOK, body, func(p *rulePage) { p.Backtest = bv })
}
