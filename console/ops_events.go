package console

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/eventstore"
)

// opsEventsPage is the event search: the store's query (GET
// /api/v1/events) with cursor paging.
type opsEventsPage struct {
	Host, From, To, Q string
	// ID shows one event (the incident page links alerts' events here).
	ID string
	// Searched is false until the form was sent (the page does not list
	// the whole store on arrival).
	Searched bool
	Events   []opsEvent
	// Next continues after the last event shown; First restarts.
	Next, First string
	Paged       bool
}

// opsEvent is an event as fields and raw line, all of it text to show.
type opsEvent struct {
	event.Event
	Fields []opsField
	Raw    string
	// RawBinary: the raw bytes were not UTF-8, Raw shows them quoted.
	RawBinary bool
}

type opsField struct{ Name, Value string }

func (c *Console) opsEvents(w http.ResponseWriter, r *http.Request, v *viewer) {
	q := r.URL.Query()
	p := opsEventsPage{Host: strings.TrimSpace(q.Get("host")), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to")),
		Q: q.Get("q"), ID: strings.TrimSpace(q.Get("id")), Paged: q.Get("cursor") != ""}
	p.Searched = q.Has("host") || q.Has("from") || q.Has("to") || q.Has("q") || q.Has("id")
	if !p.Searched {
		p.From = "1h"
		c.render(w, r, http.StatusOK, "events", view{V: v, Title: "Events", Nav: "events", Page: p})
		return
	}
	now := c.d.Now()
	eq := eventstore.Query{Host: p.Host, Text: p.Q, ID: p.ID, After: q.Get("cursor"), Limit: opsPageSize}
	var err error
	if eq.From, err = opsWhen(p.From, now); err == nil {
		eq.To, err = opsWhen(p.To, now)
	}
	if err != nil {
		c.render(w, r, http.StatusBadRequest, "events", view{V: v, Title: "Events", Nav: "events", Error: "Time window: " + err.Error(), Page: p})
		return
	}
	// A relative window is resolved once, on the first page: the next
	// pages then walk the same window even as time passes.
	if p.From != "" && !eq.From.IsZero() {
		p.From = eq.From.UTC().Format(time.RFC3339Nano)
	}
	if p.To != "" && !eq.To.IsZero() {
		p.To = eq.To.UTC().Format(time.RFC3339Nano)
	}
	evs, next, err := c.d.Events.Find(r.Context(), eq)
	if err != nil {
		status := http.StatusInternalServerError
		if eq.After != "" {
			status = http.StatusBadRequest
		}
		c.fail(w, r, v, status, "The events could not be searched: "+err.Error())
		return
	}
	base := url.Values{}
	for k, s := range map[string]string{"host": p.Host, "from": p.From, "to": p.To, "q": p.Q, "id": p.ID} {
		if s != "" {
			base.Set(k, s)
		}
	}
	p.First = "/events?" + base.Encode()
	if next != "" {
		base.Set("cursor", next)
		p.Next = "/events?" + base.Encode()
	}
	for _, e := range evs {
		p.Events = append(p.Events, opsEventOf(e))
	}
	c.render(w, r, http.StatusOK, "events", view{V: v, Title: "Events", Nav: "events", Page: p})
}

func opsEventOf(e event.Event) opsEvent {
	out := opsEvent{Event: e}
	for k, v := range e.Fields {
		out.Fields = append(out.Fields, opsField{k, opsValue(v)})
	}
	sort.Slice(out.Fields, func(i, j int) bool { return out.Fields[i].Name < out.Fields[j].Name })
	if utf8.Valid(e.Raw) {
		out.Raw = string(e.Raw)
	} else {
		out.Raw, out.RawBinary = fmt.Sprintf("%q", e.Raw), true
	}
	return out
}

// opsValue writes a field's value as text; lists as their items.
func opsValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = opsValue(p)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}
