// Package slackapprove answers Riposte approvals from Slack: it posts each
// open approval of a playbook run to a Slack incoming webhook with Approve
// and Deny buttons, and serves the app's interactivity request URL
// (POST /api/v1/hooks/slack/interactions, mounted by package api). A click
// is checked against the app's signing secret and timestamp, refused when
// replayed, mapped to the Riposte user linked to that Slack user
// (riposte user link NAME --slack U…), and answered through the engine
// with that user's name and roles, so an approval asked of responders
// cannot be given by a viewer. The Slack message is then replaced by who
// answered; a refusal is shown only to the person who clicked.
//
// It reads package engine (open inquiries, answers) and auth (users);
// links, posted approvals and recent signatures live in the control
// database.
package slackapprove

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/engine"
	"github.com/riposte-soar/riposte/internal/httpjson"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/secret"
)

// MaxBody bounds an interaction request. Slack's block_actions payloads
// carry the whole message, a few kilobytes; this leaves room and no more.
const MaxBody = 64 << 10

// Action IDs of the buttons.
const (
	ActionApprove = "riposte_approve"
	ActionDeny    = "riposte_deny"
)

// Engine is what the package needs of the playbook engine.
type Engine interface {
	Inquiries(ctx context.Context, f engine.InquiryFilter) ([]engine.Inquiry, error)
	AnswerForm(ctx context.Context, inquiryID string, approve bool, comment, actor string, roles []string, values map[string]any) error
}

// Deps are what a Service calls.
type Deps struct {
	Engine Engine
	Users  *auth.Users
	Store  *Store
	// Secrets resolves secret://NAME at each use, so a rotated signing
	// secret or webhook applies without a restart.
	Secrets *secret.Store
	// PublicURL is how people reach the console (links in messages).
	PublicURL string
	// Client sends to Slack (default: 10s timeout).
	Client *http.Client
	Log    *slog.Logger
	Now    func() time.Time
}

// Service posts approvals to Slack and answers its interactions.
type Service struct {
	cfg Config
	d   Deps
	wg  sync.WaitGroup // response_url updates in flight
}

// New makes the service; cfg comes from ParseConfig.
func New(cfg Config, d Deps) (*Service, error) {
	if !cfg.Enabled() {
		return nil, errors.New("slack: not configured")
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if d.Engine == nil || d.Users == nil || d.Store == nil || d.Secrets == nil {
		return nil, errors.New("slack: engine, users, store and secrets are required")
	}
	if d.Client == nil {
		d.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	d.PublicURL = strings.TrimRight(d.PublicURL, "/")
	return &Service{cfg: cfg, d: d}, nil
}

// Wait returns once the Slack message updates started so far are sent.
func (s *Service) Wait() { s.wg.Wait() }

// interaction is the part of a block_actions payload Riposte reads.
type interaction struct {
	Type string `json:"type"`
	User struct {
		ID       string `json:"id"`
		Username string `json:"username"`
	} `json:"user"`
	Team struct {
		ID string `json:"id"`
	} `json:"team"`
	ResponseURL string `json:"response_url"`
	Actions     []struct {
		ActionID string `json:"action_id"`
		Value    string `json:"value"`
	} `json:"actions"`
}

// parseInteraction reads the form body Slack posts: payload=<JSON>.
func parseInteraction(body []byte) (interaction, error) {
	var in interaction
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return in, fmt.Errorf("body is not a form: %v", err)
	}
	p := form.Get("payload")
	if p == "" {
		return in, errors.New("the form has no payload")
	}
	if err := json.Unmarshal([]byte(p), &in); err != nil {
		return in, fmt.Errorf("payload is not JSON: %v", err)
	}
	return in, nil
}

// ServeHTTP handles one interaction. Failures of the request itself
// (signature, age, replay, shape) are HTTP errors Slack logs; decisions
// about the person (not linked, not allowed, already answered) are 200
// answers shown to them alone through response_url.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			httpjson.Error(w, http.StatusRequestEntityTooLarge, "too_large", fmt.Sprintf("an interaction is at most %d bytes", MaxBody))
			return
		}
		httpjson.Error(w, http.StatusBadRequest, "bad_request", "body: "+err.Error())
		return
	}
	ctx := r.Context()
	key, err := s.d.Secrets.Resolve(ctx, s.cfg.SigningSecret)
	if err != nil {
		// Fail closed, and say which key to fix without the value.
		s.d.Log.Error("slack interaction refused: signing secret unavailable", "key", "slack.signing_secret", "err", err)
		httpjson.Error(w, http.StatusServiceUnavailable, "no_signing_secret", "the Slack signing secret (slack.signing_secret) cannot be read")
		return
	}
	if err := Verify([]byte(key), r.Header, body, s.d.Now()); err != nil {
		httpjson.Error(w, http.StatusUnauthorized, "bad_signature", err.Error())
		return
	}
	// Remember the signature for the window (and a little more, for
	// clocks that disagree): the same request again is a replay.
	first, err := s.d.Store.firstSeen(ctx, r.Header.Get("X-Slack-Signature"), 2*Window+time.Minute)
	if err != nil {
		httpjson.Error(w, http.StatusInternalServerError, "store_error", err.Error())
		return
	}
	if !first {
		httpjson.Error(w, http.StatusUnauthorized, "replayed", "this signed request was already received")
		return
	}
	in, err := parseInteraction(body)
	if err != nil {
		httpjson.Error(w, http.StatusBadRequest, "bad_payload", err.Error())
		return
	}
	out := s.handle(ctx, in)
	httpjson.Write(w, http.StatusOK, out)
}

// outcome is the HTTP answer (Slack ignores it; it is for logs and tests).
type outcome struct {
	Outcome string `json:"outcome"` // answered, refused, ignored
	Reason  string `json:"reason,omitempty"`
	User    string `json:"user,omitempty"`
}

func (s *Service) handle(ctx context.Context, in interaction) outcome {
	if in.Type != "block_actions" || len(in.Actions) != 1 {
		return outcome{Outcome: "ignored", Reason: "not a single button action"}
	}
	act := in.Actions[0]
	var approve bool
	switch act.ActionID {
	case ActionApprove:
		approve = true
	case ActionDeny:
	default:
		// The "Open in Riposte" link button sends an action too.
		return outcome{Outcome: "ignored", Reason: "not an approval button"}
	}
	refuse := func(reason string) outcome {
		s.respond(in.ResponseURL, map[string]any{"response_type": "ephemeral", "replace_original": false, "text": reason})
		s.d.Log.Info("slack approval refused", "slack_user", in.User.ID, "approval", act.Value, "reason", reason)
		return outcome{Outcome: "refused", Reason: reason}
	}
	if s.cfg.TeamID != "" && in.Team.ID != s.cfg.TeamID {
		return refuse("This Slack workspace may not answer Riposte approvals.")
	}
	name, err := s.d.Store.UserOf(ctx, in.User.ID)
	if errors.Is(err, ErrNotLinked) {
		return refuse(fmt.Sprintf("Your Slack account (%s) is not linked to a Riposte user: ask an admin to run riposte user link NAME --slack %s", in.User.ID, in.User.ID))
	}
	if err != nil {
		return refuse("Riposte could not read its user links; try again or answer in the console.")
	}
	u, err := s.d.Users.Get(ctx, name)
	switch {
	case err != nil:
		return refuse("Your linked Riposte user no longer exists.")
	case u.Disabled:
		return refuse("Your Riposte user is disabled.")
	case !u.Role.Allows(auth.Responder):
		// The same floor as the API's approve route.
		return refuse(fmt.Sprintf("Your Riposte role (%s) may not answer approvals.", u.Role))
	}
	q, err := s.inquiry(ctx, act.Value)
	if err != nil {
		return refuse("This approval does not exist in Riposte.")
	}
	if q.State != "open" {
		return refuse(fmt.Sprintf("This approval is already %s.", q.State))
	}
	if len(q.Form) > 0 && approve {
		return refuse("This approval has a form to fill in: answer it in the Riposte console.")
	}
	// The person's role and every role it includes, as the API does.
	var roles []string
	for _, r := range auth.Roles {
		if u.Role.Allows(r) {
			roles = append(roles, string(r))
		}
	}
	actx := engine.WithChannel(engine.WithActor(ctx, u.Actor()), "slack")
	err = s.d.Engine.AnswerForm(actx, q.ID, approve, "answered in Slack", u.Name, roles, nil)
	switch {
	case errors.Is(err, engine.ErrNotAssignee):
		return refuse("You may not answer this approval: it is asked of " + askedOf(q) + ".")
	case errors.Is(err, engine.ErrAlreadyAnswered):
		return refuse("You already answered this approval.")
	case errors.Is(err, engine.ErrInquiryClosed), errors.Is(err, engine.ErrNotFound):
		return refuse("This approval is no longer open.")
	case err != nil:
		s.d.Log.Error("slack approval answer failed", "approval", q.ID, "user", u.Name, "err", err)
		return refuse("Riposte could not record your answer; try again or answer in the console.")
	}
	verb := "Denied"
	if approve {
		verb = "Approved"
	}
	after, err := s.inquiry(ctx, q.ID)
	if err == nil && after.State == "open" {
		// A quorum: the vote counts, the buttons stay for the others.
		s.respond(in.ResponseURL, map[string]any{"response_type": "ephemeral", "replace_original": false,
			"text": fmt.Sprintf("%s: your answer counts; the approval waits for %d answers in all.", verb, q.Quorum)})
	} else {
		line := fmt.Sprintf("%s by %s (%s) in Slack at %s", verb, u.Name, u.Role, s.d.Now().UTC().Format(time.RFC3339))
		s.respond(in.ResponseURL, map[string]any{"replace_original": true, "text": line + ": " + plain(q.Question),
			"blocks": []block{
				{Type: "section", Text: &text{Type: "mrkdwn", Text: "*" + escape(q.Question) + "*", Verbatim: true}},
				{Type: "context", Elements: []element{{Type: "mrkdwn", Text: escape(line), Verbatim: true}}},
			}})
	}
	return outcome{Outcome: "answered", User: u.Name}
}

func (s *Service) inquiry(ctx context.Context, id string) (engine.Inquiry, error) {
	if id == "" {
		return engine.Inquiry{}, engine.ErrNotFound
	}
	qs, err := s.d.Engine.Inquiries(ctx, engine.InquiryFilter{})
	if err != nil {
		return engine.Inquiry{}, err
	}
	for _, q := range qs {
		if q.ID == id {
			return q, nil
		}
	}
	return engine.Inquiry{}, engine.ErrNotFound
}

func askedOf(q engine.Inquiry) string {
	var who []string
	who = append(who, q.Assignees...)
	for _, r := range q.Roles {
		who = append(who, "role "+r)
	}
	if len(who) == 0 {
		return "anyone"
	}
	return strings.Join(who, ", ")
}

// respond posts to a payload's response_url, in the background (Slack
// wants the HTTP answer within 3 seconds), and only to Slack's own
// address (ResponseURLPrefix): the payload is signed, but the server
// should not be a way to reach anywhere else.
func (s *Service) respond(u string, msg any) {
	if u == "" || !strings.HasPrefix(u, s.cfg.ResponseURLPrefix) || channel.CheckURL(u) != nil {
		s.d.Log.Warn("slack response_url refused", "prefix", s.cfg.ResponseURLPrefix)
		return
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.post(ctx, u, b); err != nil {
			s.d.Log.Warn("slack message not updated", "err", err)
		}
	}()
}

// post sends JSON to a Slack URL. Errors never repeat the URL (a webhook
// URL is a credential).
func (s *Service) post(ctx context.Context, u string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad Slack URL")
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.d.Client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post to Slack: %v", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post to Slack: %s: %s", resp.Status, channel.Sanitize(string(msg), true))
	}
	return nil
}
