package console

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/alarm"
)

// opsInsightsPage is the metrics page: the figures of GET
// /api/v1/metrics/response over a window, and the same per day.
type opsInsightsPage struct {
	Days      int
	Windows   []int
	From, To  time.Time
	M         alarm.ResponseMetrics
	Automated int
	Lines     []opsLineChart
	Bars      []opsBarChart
}

var opsWindows = []int{7, 30, 90}

func (c *Console) opsInsights(w http.ResponseWriter, r *http.Request, v *viewer) {
	days := 30
	if s := r.URL.Query().Get("days"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(opsWindows, n) {
			c.fail(w, r, v, http.StatusBadRequest, "days must be 7, 30 or 90")
			return
		}
		days = n
	}
	to := c.d.Now().UTC()
	// Whole days, today included: each point of a chart is one day.
	from := to.Truncate(24*time.Hour).AddDate(0, 0, 1-days)
	st := c.d.Alarm.Store()
	m, err := st.ResponseMetrics(r.Context(), from, to)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The metrics could not be computed: "+err.Error())
		return
	}
	series, err := st.ResponseSeries(r.Context(), from, to)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The metrics could not be computed: "+err.Error())
		return
	}
	p := opsInsightsPage{Days: days, Windows: opsWindows, From: from, To: to, M: m}
	for _, d := range series {
		p.Automated += d.Automated
	}
	for _, s := range []struct {
		id, title, desc string
		stat            func(alarm.Day) alarm.Stat
	}{
		{"mttd", "Mean time to detect", "first event to first alert, mean per day of incident creation", func(d alarm.Day) alarm.Stat { return d.MTTD }},
		{"mtta", "Mean time to acknowledge", "incident to the first human step, mean per day", func(d alarm.Day) alarm.Stat { return d.MTTA }},
		{"mttc", "Mean time to contain", "incident to contained, mean per day", func(d alarm.Day) alarm.Stat { return d.MTTC }},
		{"mttr", "Mean time to resolve", "incident to recovered, mean per day", func(d alarm.Day) alarm.Stat { return d.MTTR }},
	} {
		vals := make([]opsDayValue, len(series))
		for i, d := range series {
			st := s.stat(d)
			vals[i] = opsDayValue{Day: d.Date, Secs: st.Mean, Count: st.Count, OK: st.Count > 0}
		}
		p.Lines = append(p.Lines, opsLine(s.id, s.title, s.desc, vals))
	}
	prios := []string{"P1", "P2", "P3", "P4"}
	p.Bars = append(p.Bars, opsBars("by-priority", "Incidents by priority", "incidents created in the window, by priority",
		prios, opsCounts(prios, m.ByPriority), prioClass, 1))
	verdicts := opsKeys([]string{string(alarm.VerdictTruePositive), string(alarm.VerdictFalsePositive), string(alarm.VerdictBenign), "undecided"}, m.ByVerdict)
	p.Bars = append(p.Bars, opsBars("by-verdict", "Incidents by verdict", "incidents created in the window, by verdict",
		verdicts, opsCounts(verdicts, m.ByVerdict), func(s string) string { return "verdict-" + s }, 1))
	var dayLabels []string
	var breaches []int
	for _, d := range series {
		dayLabels = append(dayLabels, d.Date.Format(time.DateOnly))
		breaches = append(breaches, d.SLABreaches)
	}
	p.Bars = append(p.Bars, opsBars("sla-breaches", "SLA breaches per day", "SLA clocks that ran out, by day the incident was created",
		dayLabels, breaches, nil, max(1, len(dayLabels)/8)))
	c.render(w, r, http.StatusOK, "insights", view{V: v, Title: "Metrics", Nav: "insights", Page: p})
}

func opsCounts(keys []string, m map[string]int) []int {
	out := make([]int, len(keys))
	for i, k := range keys {
		out[i] = m[k]
	}
	return out
}

// opsKeys is known keys first, in their order, then any others in m.
func opsKeys(known []string, m map[string]int) []string {
	out := slices.Clone(known)
	var more []string
	for k := range m {
		if !slices.Contains(known, k) {
			more = append(more, k)
		}
	}
	sort.Strings(more)
	return append(out, more...)
}
