package channel

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Template holds a channel's optional templates, in Go text/template
// syntax. Each channel type uses the parts that apply to it and refuses the
// others; empty parts use the channel's built-in default.
type Template struct {
	Subject string `yaml:"subject"` // email: subject line
	Body    string `yaml:"body"`    // email: plain-text body
	Text    string `yaml:"text"`    // slack (mrkdwn), teams (markdown): message text
}

// Escaper makes untrusted strings inert in a channel's markup before any
// template sees them. Text applies to every string field; URL to
// Incident.URL, and should return "" for a URL it will not link to.
type Escaper struct {
	Text func(string) string
	URL  func(string) string
}

// Data is what a template is executed with. Every string reachable from
// Messages has been escaped for the channel, so the template's own text is
// the only markup in the output.
type Data struct {
	Channel  string
	Messages []Message
}

// First returns the first message (the only one unless Digest).
func (d Data) First() Message {
	if len(d.Messages) == 0 {
		return Message{}
	}
	return d.Messages[0]
}

// Count is the number of messages.
func (d Data) Count() int { return len(d.Messages) }

// Digest reports whether the send groups several messages.
func (d Data) Digest() bool { return len(d.Messages) > 1 }

// Breakdown counts the messages by priority, most urgent first, such as
// "2×P1, 5×P3", plus "N more collapsed" for a summary.
func (d Data) Breakdown() string {
	counts := map[string]int{}
	collapsed := 0
	for _, m := range d.Messages {
		if m.Event == EventSummary {
			if m.Collapsed != nil {
				collapsed += m.Collapsed.Messages
			}
			continue
		}
		counts[m.Incident.Priority]++
	}
	return Breakdown(counts, collapsed)
}

// Breakdown writes counts by priority, most urgent first, such as
// "2×P1, 5×P3", then "N more collapsed" when collapsed is not zero. An
// empty priority counts as "unprioritized".
func Breakdown(counts map[string]int, collapsed int) string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if ra, rb := PriorityRank(a), PriorityRank(b); ra != rb {
			return ra - rb
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		label := k
		if label == "" {
			label = "unprioritized"
		}
		parts = append(parts, strconv.Itoa(counts[k])+"×"+label)
	}
	if collapsed > 0 {
		parts = append(parts, strconv.Itoa(collapsed)+" more collapsed")
	}
	return strings.Join(parts, ", ")
}

// EventLabel is the human name of an event.
func EventLabel(e string) string {
	switch e {
	case EventNew:
		return "New incident"
	case EventEscalated:
		return "Escalated"
	case EventNeedsApproval:
		return "Approval needed"
	case EventContained:
		return "Contained"
	case EventResolved:
		return "Resolved"
	case EventSLABreach:
		return "SLA breached"
	case EventSummary:
		return "Summary"
	}
	return e
}

// Funcs are the functions templates may call, besides the built-ins.
var Funcs = template.FuncMap{
	"join":     func(list []string, sep string) string { return strings.Join(list, sep) },
	"event":    EventLabel,
	"datetime": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
}

// Renderer is a parsed template with its channel's escaping.
type Renderer struct {
	t   *template.Template
	esc Escaper
}

// MaxOutput bounds what one template execution may produce.
const MaxOutput = 1 << 20

// Compile parses text as the template called name (such as
// "template.subject") and executes it once against sample messages (one,
// a digest, and a collapsed summary), so that a mistake shows when the
// configuration is loaded rather than when an incident needs telling.
func Compile(name, text string, esc Escaper) (*Renderer, error) {
	t, err := template.New(name).Funcs(Funcs).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err // text/template names the template: "template: template.subject:1:8: ..."
	}
	r := &Renderer{t: t, esc: esc}
	for _, sample := range Samples() {
		if _, err := r.Render("sample", sample); err != nil {
			return nil, errors.Unwrap(err) // drop the Permanent wrapper
		}
	}
	return r, nil
}

// Render escapes msgs and executes the template. Errors are Permanent:
// the same messages would fail the same way again.
func (r *Renderer) Render(channelName string, msgs []Message) (string, error) {
	d := Data{Channel: channelName, Messages: make([]Message, len(msgs))}
	for i, m := range msgs {
		d.Messages[i] = m.Escaped(r.esc)
	}
	var buf limitedBuffer
	if err := r.t.Execute(&buf, d); err != nil {
		return "", Permanent(err)
	}
	return buf.String(), nil
}

type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > MaxOutput {
		return 0, fmt.Errorf("output is larger than %d bytes", MaxOutput)
	}
	return b.Buffer.Write(p)
}

// Escaped returns a copy of m with every string escaped by esc.
func (m Message) Escaped(esc Escaper) Message {
	t, u := esc.Text, esc.URL
	if t == nil {
		t = func(s string) string { return s }
	}
	if u == nil {
		u = t
	}
	list := func(l []string) []string {
		if l == nil {
			return nil
		}
		out := make([]string, len(l))
		for i, s := range l {
			out[i] = t(s)
		}
		return out
	}
	in := m.Incident
	ev := m.Event
	if !KnownEvent(ev) && ev != EventSummary {
		ev = t(ev)
	}
	out := Message{
		Event: ev,
		Time:  m.Time,
		Text:  t(m.Text),
		Incident: Incident{
			ID: t(in.ID), Title: t(in.Title), Priority: t(in.Priority), Severity: t(in.Severity),
			Status: t(in.Status), Assignee: t(in.Assignee), Owners: list(in.Owners), Tags: list(in.Tags),
			Hosts: list(in.Hosts), Users: list(in.Users), AlertCount: in.AlertCount, URL: u(in.URL),
			Summary: t(in.Summary),
		},
	}
	if c := m.Collapsed; c != nil {
		cc := &Collapsed{Messages: c.Messages, Incidents: c.Incidents, IDs: list(c.IDs)}
		if c.ByPriority != nil {
			cc.ByPriority = make(map[string]int, len(c.ByPriority))
			for k, v := range c.ByPriority {
				cc.ByPriority[t(k)] += v
			}
		}
		out.Collapsed = cc
	}
	return out
}

// Samples are the message sets Compile tries a template on.
func Samples() [][]Message {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	one := Message{
		Event: EventNew, Time: at, Text: "sample extra line",
		Incident: Incident{
			ID: "INC-SAMPLE", Title: "Sample incident", Priority: "P2", Severity: "high", Status: "new",
			Assignee: "analyst", Owners: []string{"it-ops"}, Tags: []string{"attack.t1110"},
			Hosts: []string{"web-1"}, Users: []string{"alice"}, AlertCount: 3,
			URL: "https://riposte.example/incidents/INC-SAMPLE", Summary: "Sample summary.",
		},
	}
	two := one
	two.Event, two.Incident.ID, two.Incident.Priority = EventEscalated, "INC-SAMPLE-2", "P1"
	summary := Message{
		Event: EventSummary, Time: at, Text: "sample summary",
		Incident: Incident{Title: "40 more incidents", Priority: "P4", AlertCount: 80},
		Collapsed: &Collapsed{Messages: 50, Incidents: 40, IDs: []string{"INC-X"},
			ByPriority: map[string]int{"P3": 10, "P4": 40}},
	}
	return [][]Message{{one}, {one, two}, {summary, one}}
}
