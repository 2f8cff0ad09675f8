// Package slack is the Slack notification channel: it posts to a Slack
// incoming webhook (or anything that speaks its payload, such as Mattermost
// or Rocket.Chat) a message with "text" and Block Kit "blocks".
package slack

import (
	"context"
	_ "embed"
	"strings"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/notify/channel"
)

// SampleConfig is the part of riposte.yaml a Slack channel reads.
//
//go:embed sample.conf
var SampleConfig string

// DefaultText is the built-in template, in Slack mrkdwn.
const DefaultText = `{{if .Digest}}*{{.Count}} notifications* ({{.Breakdown}})
{{end}}{{range $m := .Messages}}{{if $.Digest}}• {{end}}*{{with $m.Incident.Priority}}{{.}} {{end}}{{event $m.Event}}*` +
	`{{with $m.Incident.ID}} {{with $m.Incident.URL}}<{{.}}|{{$m.Incident.ID}}>{{else}}{{$m.Incident.ID}}{{end}}{{end}}: {{$m.Incident.Title}}
{{if not $.Digest}}{{with $m.Incident.Status}}Status: {{.}}   {{end}}{{with $m.Incident.Severity}}Severity: {{.}}   {{end}}` +
	`{{with $m.Incident.Assignee}}Assignee: {{.}}   {{end}}Alerts: {{$m.Incident.AlertCount}}
{{with $m.Incident.Hosts}}Hosts: {{join . ", "}}
{{end}}{{with $m.Incident.Users}}Users: {{join . ", "}}
{{end}}{{with $m.Incident.Owners}}Owners: {{join . ", "}}
{{end}}{{with $m.Incident.Tags}}Tags: {{join . ", "}}
{{end}}{{with $m.Incident.Summary}}{{.}}
{{end}}{{end}}{{with $m.Text}}{{if $.Digest}}    {{end}}Note: {{.}}
{{end}}{{end}}`

// Escape makes an untrusted string inert in mrkdwn: &, < and > become
// entities, so it cannot open a link, a mention (<!channel>, <@U123>) or
// a quote; control characters and line breaks are removed.
func Escape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(channel.Sanitize(s, true))
}

// EscapeURL returns u fit for <url|label>, or "" when u is not an http(s)
// URL.
func EscapeURL(u string) string {
	u = channel.Sanitize(u, true)
	if channel.CheckURL(u) != nil || strings.ContainsAny(u, " \t") {
		return ""
	}
	return strings.ReplaceAll(Escape(u), "|", "%7C")
}

// Escaper is the escaping applied to every field before the template.
var Escaper = channel.Escaper{Text: Escape, URL: EscapeURL}

// Payload is what the channel posts.
type Payload struct {
	Text   string  `json:"text"`
	Blocks []Block `json:"blocks,omitempty"`
}

// Block is a Block Kit block (section or actions).
type Block struct {
	Type     string    `json:"type"`
	Text     *TextObj  `json:"text,omitempty"`
	Elements []Element `json:"elements,omitempty"`
}

// TextObj is a Block Kit text object. Verbatim stops Slack from turning
// bare names and URLs into mentions and links.
type TextObj struct {
	Type     string `json:"type"`
	Text     string `json:"text"`
	Verbatim bool   `json:"verbatim,omitempty"`
}

// Element is a button.
type Element struct {
	Type string  `json:"type"`
	Text TextObj `json:"text"`
	URL  string  `json:"url,omitempty"`
}

// Slack's limits.
const (
	maxSection = 3000
	maxBlocks  = 50
)

// Channel posts to one Slack webhook.
type Channel struct{ h *channel.TextHook }

// New checks cfg and the template and returns the channel.
func New(name string, cfg channel.HookConfig, tmpl *channel.Template) (*Channel, error) {
	h, err := channel.NewTextHook("slack", name, cfg, tmpl, DefaultText, Escaper)
	if err != nil {
		return nil, err
	}
	return &Channel{h: h}, nil
}

// Name is the channel's configured name.
func (c *Channel) Name() string { return c.h.Name }

// Send posts msgs as one Slack message.
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

// Payload renders msgs.
func (c *Channel) Payload(msgs []channel.Message) (Payload, error) {
	text, err := c.h.Render(msgs)
	if err != nil {
		return Payload{}, err
	}
	p := Payload{Text: cut(text, maxSection)}
	for _, chunk := range split(text, maxSection) {
		if len(p.Blocks) == maxBlocks-1 {
			break
		}
		p.Blocks = append(p.Blocks, Block{Type: "section", Text: &TextObj{Type: "mrkdwn", Text: chunk, Verbatim: true}})
	}
	if len(msgs) == 1 {
		if u := msgs[0].Incident.URL; u != "" && channel.CheckURL(u) == nil && len(u) <= 3000 {
			p.Blocks = append(p.Blocks, Block{Type: "actions", Elements: []Element{{
				Type: "button", Text: TextObj{Type: "plain_text", Text: "Open incident"}, URL: u,
			}}})
		}
	}
	return p, nil
}

// split cuts text into pieces of at most max characters, at line breaks
// when it can.
func split(text string, max int) []string {
	var out []string
	for text != "" {
		if utf8.RuneCountInString(text) <= max {
			return append(out, text)
		}
		piece := cut(text, max)
		if i := strings.LastIndexByte(piece, '\n'); i > 0 {
			piece = piece[:i]
		}
		out = append(out, piece)
		text = strings.TrimLeft(text[len(piece):], "\n")
	}
	return out
}

// cut shortens text to at most max characters without splitting an entity
// (&amp;) or a link (<url|label>) in two.
func cut(text string, max int) string {
	if utf8.RuneCountInString(text) <= max {
		return text
	}
	r := []rune(text)
	s := string(r[:max-1])
	if i := strings.LastIndexByte(s, '&'); i >= 0 && !strings.Contains(s[i:], ";") {
		s = s[:i]
	}
	if i := strings.LastIndexByte(s, '<'); i >= 0 && !strings.Contains(s[i:], ">") {
		s = s[:i]
	}
	return s + "…"
}
