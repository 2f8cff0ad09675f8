package notifyops

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/notify"
)

// recorder records what it is given, like a dispatcher that sends nothing.
type recorder struct {
	mu   sync.Mutex
	msgs []notify.Message
	to   [][]string
}

func (r *recorder) Notify(m notify.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() }

func (r *recorder) count() int { r.mu.Lock(); defer r.mu.Unlock(); return len(r.msgs) }

// targeted also sends to named channels.
type targeted struct{ recorder }

func (t *targeted) NotifyChannels(m notify.Message, ch []string) error {
	if ch[0] == "nope" {
		return fmt.Errorf("unknown channel %q", ch[0])
	}
	t.Notify(m)
	t.mu.Lock()
	t.to = append(t.to, ch)
	t.mu.Unlock()
	return nil
}

func send(key string, args map[string]any) connector.Call {
	return connector.Call{Operation: "send", Args: args, Incident: "INC-1", RunID: "run-1", IdempotencyKey: key}
}

func TestSendOncePerKey(t *testing.T) {
	rec := &recorder{}
	c := New(rec, Config{})
	args := map[string]any{"event": "contained", "text": "host web-1 isolated", "priority": "p1"}
	for range 3 {
		if _, err := c.Execute(context.Background(), send("run-1/s/0", args)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Execute(context.Background(), send("run-1/s/1", args))
	if err != nil || res.Outputs["sent"] != true {
		t.Fatal(err, res.Outputs)
	}
	if rec.count() != 2 {
		t.Fatalf("%d messages, want 2 (one per key)", rec.count())
	}
	m := rec.msgs[0]
	if m.Event != "contained" || m.Incident.ID != "INC-1" || m.Incident.Priority != "P1" || m.Text != "host web-1 isolated" || m.Time.IsZero() {
		t.Fatalf("message %+v", m)
	}
}

func TestKeysAreBounded(t *testing.T) {
	rec := &recorder{}
	c := New(rec, Config{RememberKeys: 2})
	args := map[string]any{"event": "new"}
	for _, k := range []string{"a", "b", "c", "a"} { // "a" was forgotten when "c" came
		if _, err := c.Execute(context.Background(), send(k, args)); err != nil {
			t.Fatal(err)
		}
	}
	if rec.count() != 4 || c.keys.Len() != 2 {
		t.Fatalf("%d messages, %d keys", rec.count(), c.keys.Len())
	}
}

func TestChannels(t *testing.T) {
	args := map[string]any{"event": "needs_approval", "channels": []any{"soc-slack"}, "incident": "INC-9"}
	if _, err := New(&recorder{}, Config{}).Simulate(context.Background(), send("k", args)); connector.ClassOf(err) != connector.Permanent || err == nil {
		t.Fatalf("channels without ChannelNotifier: %v", err)
	}
	tg := &targeted{}
	c := New(tg, Config{})
	if _, err := c.Execute(context.Background(), send("k", args)); err != nil {
		t.Fatal(err)
	}
	if tg.msgs[0].Incident.ID != "INC-9" || tg.to[0][0] != "soc-slack" {
		t.Fatalf("%+v %v", tg.msgs, tg.to)
	}
	// A failed send does not keep the key: the retry sends.
	bad := map[string]any{"event": "new", "channels": []any{"nope"}}
	if _, err := c.Execute(context.Background(), send("k2", bad)); err == nil {
		t.Fatal("unknown channel accepted")
	}
	if c.keys.Has("k2") {
		t.Fatal("key kept after a failed send")
	}
}

func TestSimulateAndArgErrors(t *testing.T) {
	rec := &recorder{}
	c := New(rec, Config{})
	res, err := c.Simulate(context.Background(), send("k", map[string]any{"event": "resolved", "text": "done"}))
	if err != nil || rec.count() != 0 {
		t.Fatal(err, rec.count())
	}
	if want := `notify resolved incident=INC-1 priority= to=routes text="done"`; res.Commands[0] != want {
		t.Fatalf("%q", res.Commands)
	}
	for name, call := range map[string]connector.Call{
		"no event":    send("k", map[string]any{}),
		"bad event":   send("k", map[string]any{"event": "summary"}),
		"priority":    send("k", map[string]any{"event": "new", "priority": "urgent"}),
		"unknown arg": send("k", map[string]any{"event": "new", "to": "x"}),
		"channels":    send("k", map[string]any{"event": "new", "channels": "soc"}),
		"no incident": {Operation: "send", Args: map[string]any{"event": "new"}},
		"operation":   {Operation: "page", Args: map[string]any{"event": "new"}, Incident: "I"},
	} {
		if _, err := c.Execute(context.Background(), call); err == nil || connector.ClassOf(err) != connector.Permanent {
			t.Errorf("%s: err %v, want permanent", name, err)
		}
	}
	if rec.count() != 0 {
		t.Fatal("an invalid call was sent")
	}
}

func TestTextIsBounded(t *testing.T) {
	rec := &recorder{}
	c := New(rec, Config{})
	if _, err := c.Execute(context.Background(), send("k", map[string]any{"event": "new", "text": strings.Repeat("x", 1<<20)})); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.msgs[0].Text); n > MaxText {
		t.Fatalf("text %d bytes", n)
	}
}

func TestSampleConfig(t *testing.T) {
	var doc struct {
		Connectors struct {
			Notify Config `yaml:"notify"`
		} `yaml:"connectors"`
	}
	if err := yaml.UnmarshalWithOptions([]byte(SampleConfig), &doc, yaml.Strict()); err != nil || doc.Connectors.Notify.RememberKeys != 4096 {
		t.Fatalf("%v %+v", err, doc)
	}
}
