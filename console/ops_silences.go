package console

import (
	"net/http"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/alarm"
)

// opsSilencesPage lists silences, active then ended, and the form that
// makes one.
type opsSilencesPage struct {
	Active, Pending, Ended []*alarm.Silence
	Form                   opsSilenceForm
	Fields                 []string
	Ops                    []string
}

// opsSilenceForm is the create form as typed, kept when it is refused.
type opsSilenceForm struct {
	Matchers     []alarm.Matcher
	Starts, Ends string
	Reason       string
}

// opsMatcherRows is how many matcher rows the form offers without
// JavaScript (ops.js adds more).
const opsMatcherRows = 3

func (c *Console) opsSilences(w http.ResponseWriter, r *http.Request, v *viewer) {
	c.opsRenderSilences(w, r, v, http.StatusOK, opsSilenceForm{Starts: "now", Ends: "2h"}, "")
}

func (c *Console) opsRenderSilences(w http.ResponseWriter, r *http.Request, v *viewer, status int, f opsSilenceForm, msg string) {
	sils, err := c.d.Alarm.Store().Silences(r.Context(), true)
	if err != nil {
		c.fail(w, r, v, http.StatusInternalServerError, "The silences could not be read: "+err.Error())
		return
	}
	now := c.d.Now()
	p := opsSilencesPage{Form: f, Fields: alarm.MatcherFields(), Ops: []string{"=", "!=", "=~", "!~"}}
	for _, s := range sils {
		switch {
		case s.Active(now):
			p.Active = append(p.Active, s)
		case now.Before(s.StartsAt):
			p.Pending = append(p.Pending, s)
		default:
			p.Ended = append(p.Ended, s)
		}
	}
	// Ended ones newest first: the list grows with time and the recent
	// ones are those people look for.
	for i, j := 0, len(p.Ended)-1; i < j; i, j = i+1, j-1 {
		p.Ended[i], p.Ended[j] = p.Ended[j], p.Ended[i]
	}
	if len(p.Ended) > opsPageSize {
		p.Ended = p.Ended[:opsPageSize]
	}
	for len(p.Form.Matchers) < opsMatcherRows {
		p.Form.Matchers = append(p.Form.Matchers, alarm.Matcher{Op: "="})
	}
	c.render(w, r, status, "silences", view{V: v, Title: "Silences", Nav: "silences", Error: msg, Page: p})
}

// opsCreateSilence is POST /api/v1/silences from a form: matcher rows
// (field, op, value; rows without a value are skipped), a start ("now" or
// RFC 3339), an end (RFC 3339, or a span after the start like "2h") and a
// reason.
func (c *Console) opsCreateSilence(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := r.ParseForm(); err != nil {
		c.fail(w, r, v, http.StatusBadRequest, err.Error())
		return
	}
	f := opsSilenceForm{Starts: strings.TrimSpace(r.PostForm.Get("starts")), Ends: strings.TrimSpace(r.PostForm.Get("ends")),
		Reason: strings.TrimSpace(r.PostForm.Get("reason"))}
	fields, ops, vals := r.PostForm["field"], r.PostForm["op"], r.PostForm["value"]
	sil := alarm.Silence{Reason: f.Reason}
	for i := range fields {
		m := alarm.Matcher{Field: fields[i]}
		if i < len(ops) {
			m.Op = ops[i]
		}
		if i < len(vals) {
			m.Value = strings.TrimSpace(vals[i])
		}
		f.Matchers = append(f.Matchers, m)
		if m.Value == "" {
			continue // an unused row
		}
		sil.Matchers = append(sil.Matchers, &m)
	}
	fail := func(msg string) {
		if r.Header.Get("HX-Request") != "" {
			c.fail(w, r, v, http.StatusUnprocessableEntity, msg)
			return
		}
		c.opsRenderSilences(w, r, v, http.StatusUnprocessableEntity, f, msg)
	}
	now := c.d.Now().UTC()
	sil.StartsAt = now
	if f.Starts != "" && f.Starts != "now" {
		t, err := time.Parse(time.RFC3339, f.Starts)
		if err != nil {
			fail("Start: " + f.Starts + " is not an RFC 3339 time like 2026-11-26T22:00:00Z (or \"now\").")
			return
		}
		sil.StartsAt = t.UTC()
	}
	if t, err := time.Parse(time.RFC3339, f.Ends); err == nil {
		sil.EndsAt = t.UTC()
	} else if d, err := opsSpan(f.Ends); err == nil {
		sil.EndsAt = sil.StartsAt.Add(d)
	} else {
		fail("End: " + f.Ends + " is neither an RFC 3339 time nor a duration after the start like 2h or 1d.")
		return
	}
	if _, err := c.d.Alarm.AddSilence(r.Context(), &sil, v.Actor()); err != nil {
		fail("The silence was not created: " + err.Error())
		return
	}
	back(w, r, "/silences")
}

// opsExpireSilence ends a silence now (DELETE /api/v1/silences/{id}).
func (c *Console) opsExpireSilence(w http.ResponseWriter, r *http.Request, v *viewer) {
	if err := c.d.Alarm.ExpireSilence(r.Context(), r.PathValue("id"), v.Actor()); err != nil {
		c.alarmFail(w, r, v, err)
		return
	}
	back(w, r, "/silences")
}
