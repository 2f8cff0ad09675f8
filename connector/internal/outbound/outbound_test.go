package outbound

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/riposte-soar/riposte/connector"
)

func TestOnce(t *testing.T) {
	o := NewOnce(2)
	calls := 0
	send := func(err error) func() error { return func() error { calls++; return err } }
	if sent, err := o.Do("a", send(errors.New("down"))); !sent || err == nil || o.Sent("a") {
		t.Fatal("a failed send must not be remembered")
	}
	if sent, err := o.Do("a", send(nil)); !sent || err != nil || !o.Sent("a") {
		t.Fatal("retry after a failure")
	}
	if sent, _ := o.Do("a", send(nil)); sent {
		t.Fatal("repeat sent")
	}
	if sent, _ := o.Do("", send(nil)); !sent {
		t.Fatal("no key: always sent")
	}
	if calls != 3 {
		t.Fatalf("%d sends", calls)
	}
}

// A repeat arriving while the first send is in flight is not reported as
// sent: the first may still fail.
func TestOnceInFlight(t *testing.T) {
	o := NewOnce(8)
	started, release := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = o.Do("k", func() error { close(started); <-release; return nil }) })
	<-started
	sent, err := o.Do("k", func() error { t.Error("sent twice"); return nil })
	close(release)
	wg.Wait()
	if sent || connector.ClassOf(err) != connector.Transient || err == nil {
		t.Fatalf("in flight: sent %v err %v", sent, err)
	}
}

func TestMessages(t *testing.T) {
	m := Message{Title: "T", Text: "a\r\nb\rc\n", Incident: "I"}
	got := m.Messages()
	if len(got) != 4 || got[0].Text != "a" || got[1].Text != "b" || got[2].Text != "c" || got[0].Incident.Title != "T" || got[0].Incident.ID != "I" {
		t.Fatalf("%+v", got)
	}
	many := Message{Text: strings.Repeat("x\n", 1000)}.Messages()
	if len(many) != MaxLines || !strings.Contains(many[MaxLines-1].Text, "802 more lines, truncated") {
		t.Fatalf("%d lines, last %q", len(many), many[len(many)-1].Text)
	}
}

func TestReadMessage(t *testing.T) {
	call := connector.Call{Incident: "RUN-INC", Args: map[string]any{"title": strings.Repeat("t", 1000), "text": strings.Repeat("x", 1<<20)}}
	m, err := ReadMessage(call, "title", 0)
	if err != nil || m.Incident != "RUN-INC" || len(m.Title) > MaxTitle || len(m.Text) > DefaultMaxText ||
		!strings.Contains(m.Text, "1048576 bytes, truncated") || !strings.Contains(m.Title, "1000 bytes, truncated") {
		t.Fatalf("%v %d %d", err, len(m.Title), len(m.Text))
	}
	for _, id := range []string{"a b", "a\r\nb", strings.Repeat("i", 129)} {
		if _, err := ReadMessage(connector.Call{Args: map[string]any{"incident": id}}, "title", 0); err == nil {
			t.Errorf("incident %q accepted", id)
		}
	}
}
