// Package teams is the Microsoft Teams notification channel: it posts an
// Adaptive Card in a "message" with attachments, the payload Teams
// incoming webhooks made with Workflows (and Power Automate) accept.
package teams

import (
	"context"
	_ "embed"
	"strings"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml a Teams channel reads.
//
//go:embed sample.conf
var SampleConfig string

// DefaultText is the built-in template, in the Markdown subset Adaptive
// Cards render. Each line becomes a TextBlock; the first is the heading.
const DefaultText = `{{if .Digest}}{{.Count}} notifications ({{.Breakdown}})
{{range $m := .Messages}}- **{{with $m.Incident.Priority}}{{.}} {{end}}{{event $m.Event}}**` +
	`{{with $m.Incident.ID}} {{with $m.Incident.URL}}[{{$m.Incident.ID}}]({{.}}){{else}}{{$m.Incident.ID}}{{end}}{{end}}: {{$m.Incident.Title}}{{with $m.Text}} ({{.}}){{end}}
{{end}}{{else}}{{with .First}}{{with .Incident.Priority}}{{.}} {{end}}{{event .Event}}: {{.Incident.Title}}
{{with .Incident.ID}}**Incident:** {{with $.First.Incident.URL}}[{{$.First.Incident.ID}}]({{.}}){{else}}{{.}}{{end}}
{{end}}{{with .Incident.Status}}**Status:** {{.}}
{{end}}{{with .Incident.Severity}}**Severity:** {{.}}
{{end}}{{with .Incident.Assignee}}**Assignee:** {{.}}
{{end}}**Alerts:** {{.Incident.AlertCount}}
{{with .Incident.Hosts}}**Hosts:** {{join . ", "}}
{{end}}{{with .Incident.Users}}**Users:** {{join . ", "}}
{{end}}{{with .Incident.Owners}}**Owners:** {{join . ", "}}
{{end}}{{with .Incident.Tags}}**Tags:** {{join . ", "}}
{{end}}{{with .Text}}**Note:** {{.}}
{{end}}{{with .Incident.Summary}}
{{.}}
{{end}}{{end}}{{end}}`

var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "[", `\[`, "]", `\]`,
	"(", `\(`, ")", `\)`, "<", `\<`, ">", `\>`, "&", `\&`, "#", `\#`, "|", `\|`,
)

// Escape makes an untrusted string inert in Adaptive Card Markdown: every
// character that starts emphasis, code, a link, HTML, an entity or a
// heading is escaped with a backslash, as is a leading list marker;
// control characters and line breaks are removed.
func Escape(s string) string {
	s = mdEscaper.Replace(channel.Sanitize(s, true))
	// A list marker needs a space (or the end) after it: "- x", "+ x", "1. x".
	marker := func(i int) bool { return i == len(s) || s[i] == ' ' || s[i] == '\t' }
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') && marker(1) {
		return `\` + s
	}
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < len(s) && s[i] == '.' && marker(i+1) {
		s = s[:i] + `\` + s[i:]
	}
	return s
}

// EscapeURL returns u fit for [label](url), or "" when u is not an
// http(s) URL.
func EscapeURL(u string) string {
	u = channel.Sanitize(u, true)
	if channel.CheckURL(u) != nil || strings.ContainsAny(u, " \t") {
		return ""
	}
	return strings.NewReplacer("(", "%28", ")", "%29", "<", "%3C", ">", "%3E", `\`, "%5C").Replace(u)
}

// Escaper is the escaping applied to every field before the template.
var Escaper = channel.Escaper{Text: Escape, URL: EscapeURL}

// Payload is a Teams "message" carrying one Adaptive Card.
type Payload struct {
	Type        string       `json:"type"`
	Attachments []Attachment `json:"attachments"`
}

// Attachment wraps the card.
type Attachment struct {
	ContentType string  `json:"contentType"`
	ContentURL  *string `json:"contentUrl"`
	Content     Card    `json:"content"`
}

// Card is an Adaptive Card.
type Card struct {
	Schema  string         `json:"$schema"`
	Type    string         `json:"type"`
	Version string         `json:"version"`
	Body    []TextBlock    `json:"body"`
	Actions []Action       `json:"actions,omitempty"`
	MSTeams map[string]any `json:"msteams,omitempty"`
}

// TextBlock is one line of the card.
type TextBlock struct {
	Type    string `json:"type"`
	Text    string `json:"text"`
	Wrap    bool   `json:"wrap"`
	Weight  string `json:"weight,omitempty"`
	Size    string `json:"size,omitempty"`
	Color   string `json:"color,omitempty"`
	Spacing string `json:"spacing,omitempty"`
}

// Action opens the incident.
type Action struct {
	Type  string `json:"type"`
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Limits that keep a card under Teams' payload size (about 28 KB).
const (
	maxLines = 150
	maxText  = 20000
)

// Channel posts to one Teams webhook.
type Channel struct{ h *channel.TextHook }

// New checks cfg and the template and returns the channel.
func New(name string, cfg channel.HookConfig, tmpl *channel.Template) (*Channel, error) {
	h, err := channel.NewTextHook("teams", name, cfg, tmpl, DefaultText, Escaper)
	if err != nil {
		return nil, err
	}
	return &Channel{h: h}, nil
}

// Name is the channel's configured name.
func (c *Channel) Name() string { return c.h.Name }

// Send posts msgs as one card.
func (c *Channel) Send(ctx context.Context, msgs []channel.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	p, err := c.Payload(msgs)
	if err != nil {
		return err
	}
	return c.h.PostJSON(ctx, p)
}

// Payload renders msgs as a card: the template's first line is the
// heading (red for P1, amber for P2), each further line a TextBlock.
func (c *Channel) Payload(msgs []channel.Message) (Payload, error) {
	text, err := c.h.Render(msgs)
	if err != nil {
		return Payload{}, err
	}
	if utf8.RuneCountInString(text) > maxText {
		text = string([]rune(text)[:maxText-1]) + "…"
	}
	card := Card{
		Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		MSTeams: map[string]any{"width": "Full"},
	}
	gap := false
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimRight(line, " \t\r")
		if line == "" {
			gap = true
			continue
		}
		if len(card.Body) == maxLines {
			card.Body = append(card.Body, TextBlock{Type: "TextBlock", Text: "…", Wrap: true, Spacing: "None"})
			break
		}
		b := TextBlock{Type: "TextBlock", Text: line, Wrap: true, Spacing: "None"}
		if len(card.Body) == 0 {
			b.Weight, b.Size, b.Spacing = "Bolder", "Medium", ""
			switch top := topRank(msgs); {
			case top == 1:
				b.Color = "Attention"
			case top == 2:
				b.Color = "Warning"
			}
		} else if gap {
			b.Spacing = "Medium"
		}
		gap = false
		card.Body = append(card.Body, b)
	}
	if len(msgs) == 1 {
		if u := msgs[0].Incident.URL; u != "" && channel.CheckURL(u) == nil {
			card.Actions = []Action{{Type: "Action.OpenUrl", Title: "Open incident", URL: u}}
		}
	}
	return Payload{Type: "message", Attachments: []Attachment{{
		ContentType: "application/vnd.microsoft.card.adaptive", Content: card,
	}}}, nil
}

func topRank(msgs []channel.Message) int {
	top := 5
	for _, m := range msgs {
		top = min(top, channel.PriorityRank(m.Incident.Priority))
	}
	return top
}
