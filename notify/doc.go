// Package notify tells people about incidents: the alarm stage hands it a
// Message (an incident was opened, escalated, needs an approval, was
// contained or resolved, breached its SLA), and the Dispatcher routes it to
// channels — email, a signed generic webhook, Slack, Microsoft Teams.
//
// Routes match on event, priority, asset owner and tag, in order; the first
// match wins unless it says Continue. Every channel has its own queue and
// worker, so a slow or failing receiver holds up only itself. A worker:
//
//   - groups messages that arrive within the channel's Group.Window into one
//     digest of at most Group.Max, most urgent first, so an alert storm is
//     not a message storm;
//   - keeps to the channel's rate (a token bucket over sends); messages wait
//     and are grouped, never dropped. When more than QueueMax wait, the
//     oldest of the least urgent are folded into one "N more incidents"
//     summary, and a Delivery with ErrQueueOverflow names them;
//   - retries transient failures (HTTP 5xx and 429, timeouts, refused
//     connections, SMTP 4xx) with exponential backoff and jitter, honouring
//     Retry-After, and does not retry permanent ones (other 4xx, SMTP 5xx,
//     certificate and template errors);
//   - reports every attempt as a Delivery, for the incident timeline.
//
// Every string of an Incident may come from event data and is untrusted.
// Before a template sees a message, each channel escapes every field for
// its own markup (no control characters or line breaks anywhere; entities
// for Slack mrkdwn; backslashes for Teams Markdown), so a template's own
// text is the only markup in what is sent, and a field can neither forge an
// email header nor become template syntax. Secrets — SMTP passwords, HMAC
// keys, header values, webhook URLs — are read from environment variables
// named in the configuration and never appear in errors or logs; errors
// show only the scheme and host of a URL.
//
// The channels live in sub-packages (email, webhook, slack, teams) that can
// be used alone; package channel holds what they share.
package notify
