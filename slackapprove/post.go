package slackapprove

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/slack"
	"github.com/riposte-soar/riposte/secret"
)

// Block Kit, as far as Riposte writes it.
type (
	block struct {
		Type     string    `json:"type"`
		BlockID  string    `json:"block_id,omitempty"`
		Text     *text     `json:"text,omitempty"`
		Elements []element `json:"elements,omitempty"`
	}
	text struct {
		Type     string `json:"type"`
		Text     string `json:"text"`
		Verbatim bool   `json:"verbatim,omitempty"`
	}
	// element is a button (Text is then a *text) or a context text.
	element struct {
		Type     string `json:"type"`
		Text     any    `json:"text,omitempty"`
		ActionID string `json:"action_id,omitempty"`
		Value    string `json:"value,omitempty"`
		Style    string `json:"style,omitempty"`
		URL      string `json:"url,omitempty"`
		Verbatim bool   `json:"verbatim,omitempty"`
	}
)

// Message is what is posted for one approval.
type Message struct {
	Text   string  `json:"text"`
	Blocks []block `json:"blocks"`
}

// escape makes untrusted text (a question built from event fields) inert
// in mrkdwn and short enough for a section.
func escape(s string) string { return slack.Escape(shorten(s, 2500)) }

// plain is text for the notification fallback: Slack reads it as mrkdwn
// too, so it is escaped the same way.
func plain(s string) string { return escape(s) }

func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// buttonKinds are the inquiries a yes or no answers: a playbook's
// approval step and a policy's question before a command. An unknown
// outcome needs a person to look, not a button.
var buttonKinds = map[string]bool{"approval": true, "policy": true}

// approvalMessage is the message for q: the question, who is asked and
// until when, Approve and Deny buttons whose value is the approval's ID,
// and a link to the console. An approval with a form gets no Approve
// button: its values are typed in the console.
func (s *Service) approvalMessage(q engine.Inquiry) Message {
	facts := fmt.Sprintf("Asked of %s · answer by %s · run %s", askedOf(q), q.Deadline.UTC().Format(time.RFC3339), q.RunID)
	if q.Quorum > 1 {
		facts += fmt.Sprintf(" · %d answers needed", q.Quorum)
	}
	m := Message{
		Text: "Approval needed: " + plain(q.Question),
		Blocks: []block{
			{Type: "section", Text: &text{Type: "mrkdwn", Text: "*Approval needed*\n" + escape(q.Question), Verbatim: true}},
			{Type: "context", Elements: []element{{Type: "mrkdwn", Text: escape(facts), Verbatim: true}}},
		},
	}
	var buttons []element
	if len(q.Form) == 0 {
		buttons = append(buttons, element{Type: "button", ActionID: ActionApprove, Value: q.ID, Style: "primary",
			Text: &text{Type: "plain_text", Text: "Approve"}})
	}
	buttons = append(buttons, element{Type: "button", ActionID: ActionDeny, Value: q.ID, Style: "danger",
		Text: &text{Type: "plain_text", Text: "Deny"}})
	if s.d.PublicURL != "" && channel.CheckURL(s.d.PublicURL) == nil {
		buttons = append(buttons, element{Type: "button", ActionID: "riposte_open", URL: s.d.PublicURL + "/approvals",
			Text: &text{Type: "plain_text", Text: "Open in Riposte"}})
	}
	m.Blocks = append(m.Blocks, block{Type: "actions", BlockID: "riposte_approval", Elements: buttons})
	return m
}

// PostOpen posts every open approval not posted yet, and returns how many
// it posted. Each is claimed in the database first, so of several nodes
// one posts it; a failed post is released and tried at the next pass.
func (s *Service) PostOpen(ctx context.Context) (int, error) {
	if s.cfg.ApprovalsWebhook == "" {
		return 0, nil
	}
	qs, err := s.d.Engine.Inquiries(ctx, engine.InquiryFilter{State: "open"})
	if err != nil {
		return 0, err
	}
	n := 0
	var errs []error
	for _, q := range qs {
		if !buttonKinds[q.Kind] {
			continue
		}
		if done, err := s.d.Store.posted(ctx, q.ID); err != nil || done {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		ok, err := s.d.Store.claimPost(ctx, q.ID)
		if err != nil || !ok {
			if err != nil {
				errs = append(errs, err)
			}
			continue
		}
		if err := s.send(ctx, s.approvalMessage(q)); err != nil {
			errs = append(errs, fmt.Errorf("approval %s: %w", q.ID, err))
			if rerr := s.d.Store.releasePost(ctx, q.ID); rerr != nil {
				errs = append(errs, rerr)
			}
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

func (s *Service) send(ctx context.Context, m Message) error {
	u := s.cfg.ApprovalsWebhook
	if _, ok, _ := secret.ParseRef(u); ok {
		var err error
		if u, err = s.d.Secrets.Resolve(ctx, u); err != nil {
			return fmt.Errorf("slack.approvals_webhook: %w", err)
		}
		if channel.CheckURL(u) != nil {
			return errors.New("slack.approvals_webhook: the secret is not an http(s) URL")
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return s.post(ctx, u, b)
}

// Run posts open approvals every Poll until ctx ends.
func (s *Service) Run(ctx context.Context) {
	if s.cfg.ApprovalsWebhook == "" {
		return
	}
	t := time.NewTicker(s.cfg.Poll)
	defer t.Stop()
	for {
		if n, err := s.PostOpen(ctx); err != nil && ctx.Err() == nil {
			s.d.Log.Warn("slack approvals not all posted", "posted", n, "err", err)
		}
		select {
		case <-ctx.Done():
			s.wg.Wait()
			return
		case <-t.C:
		}
	}
}
