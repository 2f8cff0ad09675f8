package console

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/auth"
)

// queuePage is the home page: open incidents, most important first.
type queuePage struct {
	Filter    queueFilter
	Incidents []queueRow
	Total     int
	Shown     int
	Next      string // URL of the next page, "" on the last
	Prev      string
	Now       time.Time
	Statuses  []alarm.Status
	Prios     []string
}

// queueFilter is the queue's filter, kept in the URL so a view can be
// bookmarked and shared.
type queueFilter struct {
	Status, Priority, Assignee, Tag, Q string
	Page                               int
}

func (f queueFilter) URL(page int) string {
	v := url.Values{}
	for k, s := range map[string]string{"status": f.Status, "priority": f.Priority, "assignee": f.Assignee, "tag": f.Tag, "q": f.Q} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if page > 0 {
		v.Set("page", strconv.Itoa(page))
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

// queueRow is one incident as the queue shows it.
type queueRow struct {
	*alarm.Incident
	Clocks []slaClock
	Hosts  []string
	Users  []string
	Addrs  []string
}

// slaClock is one SLA deadline as a countdown.
type slaClock struct {
	Name     string // ack, contain, resolve
	Due      time.Time
	Left     time.Duration
	Met      bool // the step was done (in time or not)
	Breached bool
}

const queuePageSize = 50

func clocks(inc *alarm.Incident, now time.Time) []slaClock {
	mk := func(name string, due time.Time, done *time.Time) slaClock {
		k := slaClock{Name: name, Due: due}
		if due.IsZero() {
			return k
		}
		if done != nil {
			k.Met = true
			k.Breached = done.After(due)
			return k
		}
		k.Left = due.Sub(now)
		k.Breached = k.Left < 0
		return k
	}
	return []slaClock{mk("ack", inc.AckDue, inc.AckedAt), mk("contain", inc.ContainDue, inc.ContainedAt), mk("resolve", inc.ResolveDue, inc.ResolvedAt)}
}

func row(inc *alarm.Incident, now time.Time) queueRow {
	r := queueRow{Incident: inc, Clocks: clocks(inc, now)}
	for _, e := range inc.Entities {
		switch e.Kind {
		case "host":
			r.Hosts = append(r.Hosts, e.Value)
		case "user":
			r.Users = append(r.Users, e.Value)
		case "ip":
			r.Addrs = append(r.Addrs, e.Value)
		}
	}
	return r
}

func (c *Console) queue(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	f := queueFilter{Status: q.Get("status"), Priority: q.Get("priority"), Assignee: q.Get("assignee"), Tag: q.Get("tag"), Q: q.Get("q")}
	if f.Assignee == "me" {
		f.Assignee = v.User.Name
	}
	f.Page, _ = strconv.Atoi(q.Get("page"))
	f.Page = max(f.Page, 0)
	af := alarm.Filter{Priority: f.Priority, Assignee: f.Assignee, Tag: f.Tag, Text: strings.TrimSpace(f.Q),
		Limit: queuePageSize, Offset: f.Page * queuePageSize}
	if f.Status != "" {
		st, err := alarm.ParseStatus(f.Status)
		if err != nil {
			c.fail(w, r, v, http.StatusBadRequest, err.Error())
			return
		}
		af.Statuses = []alarm.Status{st}
	} else {
		af.Statuses = []alarm.Status{alarm.StatusNew, alarm.StatusTriaged, alarm.StatusContained, alarm.StatusEradicated, alarm.StatusRecovered}
	}
	if f.Priority != "" && !strings.HasPrefix(f.Priority, "P") {
		c.fail(w, r, v, http.StatusBadRequest, "priority must be P1, P2, P3 or P4")
		return
	}
	st := c.d.Alarm.Store()
	incs, err := st.List(r.Context(), af)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The queue could not be read: "+err.Error())
		return
	}
	total, err := st.Count(r.Context(), af)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The queue could not be counted: "+err.Error())
		return
	}
	now := c.d.Now()
	p := queuePage{Filter: f, Total: total, Now: now, Statuses: alarm.Statuses, Prios: []string{"P1", "P2", "P3", "P4"}}
	for _, inc := range incs {
		p.Incidents = append(p.Incidents, row(inc, now))
	}
	p.Shown = f.Page*queuePageSize + len(incs)
	if p.Shown < total {
		p.Next = f.URL(f.Page + 1)
	}
	if f.Page > 0 {
		p.Prev = f.URL(f.Page - 1)
	}
	if r.Header.Get("HX-Request") != "" && r.Header.Get("HX-Target") == "queue" {
		c.fragment(w, "queue", "queue-table", view{V: v, Page: p})
		return
	}
	c.render(w, r, http.StatusOK, "queue", view{V: v, Title: "Queue", Nav: "queue", Page: p})
}

// assignMe is the queue's one-click "assign to me".
func (c *Console) assignMe(w http.ResponseWriter, r *http.Request, v *viewer) {
	name := v.User.Name
	if _, err := c.d.Alarm.Update(r.Context(), r.PathValue("id"), alarm.Change{Assignee: &name}, v.Actor()); err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	back(w, r, "/incidents/"+url.PathEscape(r.PathValue("id")))
}

func (c *Console) alarmFail(w http.ResponseWriter, r *http.Request, v *viewer, err error) {
	status := http.StatusUnprocessableEntity
	if errors.Is(err, alarm.ErrNotFound) {
		status = http.StatusNotFound
	}
	c.fail(w, r, v, status, err.Error())
}

func (c *Console) table() []route {
	rs := []route{
		{"GET", "/login", public, c.loginForm},
		{"POST", "/login", public, c.login},
		{"POST", "/logout", auth.Viewer, c.logout},
		{"GET", "/live", auth.Viewer, c.stream},
	}
	if c.d.Alarm != nil {
		rs = append(rs,
			route{"GET", "/{$}", auth.Viewer, c.queue},
			route{"POST", "/incidents/{id}/assign-me", auth.Analyst, c.assignMe},
		)
	}
	rs = append(rs, c.workbenchRoutes()...)
	rs = append(rs, c.playbookRoutes()...)
	rs = append(rs, c.opsRoutes()...)
	rs = append(rs, c.oidcRoutes()...)
	return rs
}
