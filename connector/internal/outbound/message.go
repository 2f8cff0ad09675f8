package outbound

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/notify/channel"
)

// Bounds on a message.
const (
	// MaxTitle is the longest title or subject sent; longer ones are cut
	// and marked.
	MaxTitle = 200
	// DefaultMaxText is the longest text sent when the configuration
	// gives no max_text; longer text is cut and marked.
	DefaultMaxText = 8 << 10
	// MaxLines is how many lines of text are sent; the rest is replaced
	// by one line saying how many were left out.
	MaxLines = 200
	// maxIncident bounds an incident ID.
	maxIncident = 128
)

// Message is a message a step sends: every field may hold event data and
// is only ever data.
type Message struct {
	Title    string
	Text     string
	Incident string
}

// ReadMessage reads the call's title (under titleArg: "title", or
// "subject" for mail), text and incident, each bounded. maxText 0 means
// DefaultMaxText.
func ReadMessage(call connector.Call, titleArg string, maxText int) (Message, error) {
	if maxText <= 0 {
		maxText = DefaultMaxText
	}
	inc, err := Incident(call)
	if err != nil {
		return Message{}, err
	}
	title, _ := call.Args[titleArg].(string)
	text, _ := call.Args["text"].(string)
	return Message{Title: limit.Text(title, MaxTitle), Text: limit.Text(text, maxText), Incident: inc}, nil
}

// Incident returns the incident argument, or the incident the run
// responds to; "" when there is none.
func Incident(call connector.Call) (string, error) {
	id := call.Incident
	if s, _ := call.Args["incident"].(string); s != "" {
		id = s
	}
	if len(id) > maxIncident || strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return "", fmt.Errorf("incident %q is not an incident ID", limit.Text(id, 64))
	}
	return id, nil
}

// Messages turns m into what a notification channel sends: one
// channel.Message per line of text, the first carrying the title and the
// incident. Channels remove line breaks inside a field, so that a value
// cannot forge a header, a line of a mail or a block of a card; sending
// the lines as separate messages keeps the author's lines, each escaped,
// and the connectors' templates put each on its own line.
func (m Message) Messages() []channel.Message {
	lines := strings.Split(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\r", "\n"), "\n")
	if len(lines) > MaxLines {
		more := len(lines) - (MaxLines - 1)
		lines = append(lines[:MaxLines-1], "…["+strconv.Itoa(more)+" more lines, truncated]")
	}
	out := make([]channel.Message, len(lines))
	for i, l := range lines {
		out[i].Text = l
	}
	out[0].Incident = channel.Incident{ID: m.Incident, Title: m.Title}
	return out
}

// Describe is the message in one line for Result.Commands.
func (m Message) Describe() string {
	return fmt.Sprintf("title=%q text=%q incident=%s", limit.Text(m.Title, 128), limit.Text(m.Text, 256), m.Incident)
}
