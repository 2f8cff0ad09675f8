// Package outbound holds what the connectors that send one message out
// (connector/email, connector/webhook, connector/slack, connector/teams)
// share: their common options, the in-memory guard that sends a call once
// per idempotency key, the message arguments and their bounds, the
// classification of a failed HTTP send, and the connector over Slack- or
// Teams-compatible incoming webhooks. Delivery itself is the notification
// channels' (package notify/channel and its children); connector/all
// registers the connectors built from here.
package outbound

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/connector/internal/limit"
)

// DefaultRememberKeys is how many idempotency keys of sent calls are kept.
const DefaultRememberKeys = 4096

// Options are the settings every outbound connector has.
type Options struct {
	// Timeout bounds one send (connect, deliver, answer); 0 means the
	// connector's default.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// RememberKeys is how many idempotency keys of sent calls are kept in
	// memory to drop repeats; 0 means DefaultRememberKeys.
	RememberKeys int `yaml:"remember_keys" json:"remember_keys,omitempty"`
}

// Sender is what o configures, with def as the timeout when o has none.
func (o Options) Sender(def time.Duration) *Sender {
	if o.Timeout <= 0 {
		o.Timeout = def
	}
	if o.RememberKeys <= 0 {
		o.RememberKeys = DefaultRememberKeys
	}
	return &Sender{Once: NewOnce(o.RememberKeys), Timeout: o.Timeout}
}

// Sender executes the calls of an outbound connector: each is sent at
// most once per idempotency key (see Once), within Timeout.
type Sender struct {
	*Once
	Timeout time.Duration
}

// Send executes a call: send runs within s.Timeout unless a call with the
// same key already succeeded. The result shows cmd, one line saying what
// goes where, and outputs with "sent" set: false for a repeat.
func (s *Sender) Send(ctx context.Context, key, cmd string, outputs map[string]any, send func(context.Context) error) (connector.Result, error) {
	sent, err := s.Do(key, func() error {
		ctx, cancel := context.WithTimeout(ctx, s.Timeout)
		defer cancel()
		return send(ctx)
	})
	if err != nil {
		return connector.Result{Commands: []string{cmd}}, err
	}
	outputs["sent"] = sent
	summary := cmd
	if !sent {
		summary = limit.Text("already sent (same idempotency key): "+cmd, limit.Command)
	}
	return connector.Result{Summary: summary, Commands: []string{cmd}, Outputs: outputs}, nil
}

// Once sends a call at most once per idempotency key within a process.
// The keys live in memory (the last n), so a call repeated after a restart
// is sent again: delivery is at least once.
type Once struct {
	mu   sync.Mutex
	busy map[string]bool
	done *limit.Keys
}

// NewOnce remembers the keys of the last n successful sends.
func NewOnce(n int) *Once { return &Once{busy: map[string]bool{}, done: limit.NewKeys(n)} }

// Do calls send unless a call with the same key already succeeded; sent
// reports whether send ran. A key is remembered only once its send
// succeeded: after a failure, the engine's re-send (or a person answering
// "it did not take effect") must go out.
func (o *Once) Do(key string, send func() error) (sent bool, err error) {
	if key == "" {
		return true, send()
	}
	o.mu.Lock()
	switch {
	case o.done.Has(key):
		o.mu.Unlock()
		return false, nil
	case o.busy[key]:
		o.mu.Unlock()
		// Reporting "already sent" here could hide a send that then fails.
		return false, connector.Errorf(connector.Transient, "a call with the same idempotency key is being sent")
	}
	o.busy[key] = true
	o.mu.Unlock()
	err = send()
	o.mu.Lock()
	delete(o.busy, key)
	if err == nil {
		o.done.Add(key)
	}
	o.mu.Unlock()
	return true, err
}

// Sent reports whether a call with key succeeded and is still remembered.
func (o *Once) Sent(key string) bool { return o.done.Has(key) }

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// CheckNames checks the names of configured channels: at least one, each
// a short word, because playbooks name them in an argument.
func CheckNames[T any](kind string, m map[string]T) error {
	if len(m) == 0 {
		return fmt.Errorf("%s: channels: at least one channel is required", kind)
	}
	var errs []error
	for _, n := range slices.Sorted(keys(m)) {
		if !nameRE.MatchString(n) {
			errs = append(errs, fmt.Errorf("%s: channels: %q is not a channel name (letters, digits, _ . -; at most 64)", kind, n))
		}
	}
	return errors.Join(errs...)
}

// Lookup reads the channel argument and returns the configured channel it
// names. The argument only selects: addresses never come from playbooks.
func Lookup[T any](m map[string]T, args map[string]any) (string, T, error) {
	name, _ := args["channel"].(string)
	ch, ok := m[name]
	if !ok {
		var zero T
		return "", zero, fmt.Errorf("channel %q is not configured (configured: %s)", limit.Text(name, 64), strings.Join(slices.Sorted(keys(m)), ", "))
	}
	return name, ch, nil
}

func keys[T any](m map[string]T) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Bad makes the permanent error of an invalid call, prefixed by what was
// called ("email.send").
func Bad(what, format string, a ...any) error {
	return connector.Errorf(connector.Permanent, what+": "+format, a...)
}

// CheckCall checks the operation and the arguments against spec.
func CheckCall(spec connector.Spec, call connector.Call) (connector.Operation, error) {
	op, ok := spec.Operations[call.Operation]
	if !ok {
		return op, connector.Errorf(connector.Permanent, "%s: unknown operation %q (want %s)", spec.Name,
			limit.Text(call.Operation, 64), strings.Join(slices.Sorted(keys(spec.Operations)), ", "))
	}
	if err := connector.CheckArgs(op, call.Args); err != nil {
		return op, &connector.Error{Class: connector.Permanent, Err: fmt.Errorf("%s.%s: %w", spec.Name, call.Operation, err)}
	}
	return op, nil
}

// Simulated is the result of a dry run that would send cmd (one line
// saying what goes where).
func Simulated(cmd string, outputs map[string]any) connector.Result {
	return connector.Result{Summary: limit.Text("would "+cmd, limit.Command), Commands: []string{cmd}, Outputs: outputs}
}
