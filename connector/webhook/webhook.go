// Package webhook is the webhook connector: a playbook step posts one JSON
// body, built around the step's payload, to a named webhook from the
// connector's configuration, signed like the notify webhook channel
// (package notify/webhook: X-Riposte-Signature, HMAC-SHA256 over the
// timestamp and the body), with the step's idempotency key.
//
// Steps name a webhook; its URL never comes from a playbook, so a playbook
// fed with event data cannot be turned against internal addresses.
// Delivery is at least once: repeats of a sent call are dropped in memory,
// and the receiver can drop the rest by Idempotency-Key or body id.
package webhook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
	"github.com/riposte-soar/riposte/connector/internal/outbound"
	"github.com/riposte-soar/riposte/notify/channel"
	"github.com/riposte-soar/riposte/notify/webhook"
)

// Name is the connector's name in playbooks.
const Name = "webhook"

const (
	headerIdempotencyKey = "Idempotency-Key"
	maxKeyHeader         = 200
)

// Body is the JSON the connector posts.
type Body struct {
	// ID identifies the call: derived from the step's idempotency key, it
	// is the same on every re-send of one step attempt (also sent as
	// X-Riposte-Delivery), so a receiver can drop duplicates.
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Incident string `json:"incident,omitempty"`
	Run      string `json:"run,omitempty"`
	Step     string `json:"step,omitempty"`
	// Payload is the step's payload argument, as given.
	Payload json.RawMessage `json:"payload"`
}

var spec = connector.Spec{
	Name:        Name,
	Description: "Posts a signed JSON body with the step's payload to a configured webhook (the URL comes from the configuration, never from the playbook).",
	Operations: map[string]connector.Operation{
		"post": {
			Description: "POST {id, channel, incident, run, step, payload} to the named webhook, HMAC-signed, with the idempotency key as Idempotency-Key. Repeats with the same key are dropped (in memory: at least once across restarts).",
			Args: map[string]connector.ArgSpec{
				"channel":  {Type: "string", Required: true, Description: "name of a webhook in connectors.webhook.channels"},
				"payload":  {Type: "map", Required: true, Description: "the data to send, as JSON (at most max_payload_bytes)"},
				"incident": {Type: "string", Description: "incident ID (default: the incident the run responds to)"},
			},
			Outputs: map[string]string{
				"sent":     "whether the body was posted (false for a repeat of a sent call)",
				"channel":  "the webhook's name",
				"delivery": "the body's id, also X-Riposte-Delivery",
			},
			Idempotent: false,
		},
	},
}

// Connector implements connector.Connector.
type Connector struct {
	targets    map[string]target
	maxPayload int
	client     *http.Client
	sender     *outbound.Sender
}

// New checks cfg, resolves every webhook and its secrets, and makes the
// connector.
func New(cfg Config) (*Connector, error) {
	t, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	c := &Connector{targets: t, maxPayload: cfg.MaxPayloadBytes, client: channel.NewHTTPClient(), sender: cfg.Options.Sender(DefaultTimeout)}
	if c.maxPayload == 0 {
		c.maxPayload = DefaultMaxPayloadBytes
	}
	return c, nil
}

// Spec declares the connector.
func (c *Connector) Spec() connector.Spec {
	s := spec
	s.SampleConfig = SampleConfig
	return s
}

type job struct {
	name   string
	t      target
	id     string
	keyHdr string
	body   []byte
	cmd    string
}

func (j *job) outputs() map[string]any {
	return map[string]any{"channel": j.name, "delivery": j.id}
}

func (c *Connector) prepare(call connector.Call) (*job, error) {
	if _, err := outbound.CheckCall(spec, call); err != nil {
		return nil, err
	}
	const what = "webhook.post"
	name, t, err := outbound.Lookup(c.targets, call.Args)
	if err != nil {
		return nil, outbound.Bad(what, "%v", err)
	}
	inc, err := outbound.Incident(call)
	if err != nil {
		return nil, outbound.Bad(what, "%v", err)
	}
	payload, err := json.Marshal(call.Args["payload"])
	if err != nil {
		return nil, outbound.Bad(what, "payload cannot be sent as JSON: %s", limit.Text(err.Error(), 256))
	}
	if len(payload) > c.maxPayload {
		return nil, outbound.Bad(what, "payload is %d bytes as JSON, over the limit of %d (max_payload_bytes)", len(payload), c.maxPayload)
	}
	// Without a key, the same step sending the same payload still gets the
	// same id, which is what a receiver dropping duplicates wants.
	seed := call.IdempotencyKey
	if seed == "" {
		seed = call.RunID + "\x00" + call.StepID + "\x00" + string(payload)
	}
	sum := sha256.Sum256([]byte("riposte-webhook\x00" + name + "\x00" + seed))
	j := &job{name: name, t: t, id: hex.EncodeToString(sum[:16])}
	j.keyHdr = call.IdempotencyKey
	if !headerSafe(j.keyHdr) {
		j.keyHdr = j.id
	}
	j.body, err = json.Marshal(Body{ID: j.id, Channel: name, Incident: inc, Run: call.RunID, Step: call.StepID, Payload: payload})
	if err != nil {
		return nil, outbound.Bad(what, "encode: %v", err)
	}
	j.cmd = limit.Text(fmt.Sprintf("POST %s (webhook channel %s) %s: %s body=%s", t.where, name, headerIdempotencyKey, j.keyHdr, j.body), limit.Command)
	return j, nil
}

// headerSafe reports whether a key can be sent as a header value as it is.
func headerSafe(s string) bool {
	if s == "" || len(s) > maxKeyHeader {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// Simulate validates the call and returns the body it would post, without
// any network access.
func (c *Connector) Simulate(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	out := j.outputs()
	out["body"] = string(j.body)
	return outbound.Simulated(j.cmd, out), nil
}

// Execute posts the body, once per idempotency key.
func (c *Connector) Execute(ctx context.Context, call connector.Call) (connector.Result, error) {
	j, err := c.prepare(call)
	if err != nil {
		return connector.Result{}, err
	}
	return c.sender.Send(ctx, call.IdempotencyKey, j.cmd, j.outputs(), func(ctx context.Context) error {
		ctx, p := outbound.Track(ctx)
		return p.Classify("webhook.post to "+j.name, channel.Post(ctx, c.client, j.t.url, j.body, j.header()))
	})
}

// header is signed at each attempt: the timestamp says when, so a
// receiver can refuse replays of an old request.
func (j *job) header() http.Header {
	h := j.t.header.Clone()
	h.Set("User-Agent", "riposte-connector/1")
	h.Set(webhook.HeaderDelivery, j.id)
	h.Set(headerIdempotencyKey, j.keyHdr)
	if j.t.secret != nil {
		ts := strconv.FormatInt(time.Now().Unix(), 10)
		h.Set(webhook.HeaderTimestamp, ts)
		h.Set(webhook.HeaderSignature, webhook.Sign(j.t.secret, ts, j.body))
	}
	return h
}
