package natsin

import (
	"github.com/riposte-soar/riposte/internal/bustest"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/ingest"
)

const (
	accepted = "riposte_ingest_events_accepted_total"
	rejected = "riposte_ingest_events_rejected_total"
	bytesIn  = "riposte_ingest_bytes_total"
)

// run subscribes on the bus's own connection, as the server does, and runs
// the source until the test ends. The returned stop ends Run and waits.
func run(t *testing.T, tb *bustest.Bus, cfg Config, sink ingest.Sink) (stop func()) {
	t.Helper()
	if cfg.Subject == "" {
		cfg.Subject = "logs.>"
	}
	src, err := Subscribe(tb.B.Conn, cfg, sink, tb.M, bustest.DiscardLog())
	if err != nil {
		t.Fatal(err)
	}
	// The subscription is live on the server once the flush returns.
	if err := tb.B.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		src.Run(ctx)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// shipper connects to the bus over TCP like an external shipper.
func shipper(t *testing.T, tb *bustest.Bus) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(tb.B.ClientURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func request(t *testing.T, nc *nats.Conn, subject, data string) Reply {
	t.Helper()
	m, err := nc.Request(subject, []byte(data), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var r Reply
	if err := json.Unmarshal(m.Data, &r); err != nil {
		t.Fatalf("reply %q: %v", m.Data, err)
	}
	return r
}

// checkReply compares a reply with want. An expected error "A…B" matches
// one that starts with A and then contains B: the wording of JSON syntax
// errors (and their byte offsets) belongs to the decoder.
func checkReply(t *testing.T, got, want Reply) {
	t.Helper()
	ok := got.Accepted == want.Accepted && got.Rejected == want.Rejected && len(got.Errors) == len(want.Errors)
	for i := 0; ok && i < len(want.Errors); i++ {
		g := got.Errors[i]
		prefix, part, cut := strings.Cut(want.Errors[i], "…")
		if cut {
			ok = strings.HasPrefix(g, prefix) && strings.Contains(g[len(prefix):], part)
		} else {
			ok = g == want.Errors[i]
		}
	}
	if !ok {
		t.Errorf("reply\n got %+v\nwant %+v", got, want)
	}
}

func rawsOf(evs []event.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, string(e.Raw))
	}
	return out
}

const sshd = `<38>Mar  5 10:00:01 bastion sshd[1201]: Failed password for root from 203.0.113.5 port 52144 ssh2`

func TestRequests(t *testing.T) {
	tb := bustest.Start(t, 0)
	run(t, tb, Config{MaxEventBytes: 256}, tb.Pipe)
	nc := shipper(t, tb)
	long := strings.Repeat("z", 300)

	cases := []struct {
		name      string
		subject   string
		data      string
		want      Reply
		wantRaw   []string
		check     func(t *testing.T, evs []event.Event)
		malformed float64
		tooLarge  float64
	}{
		{
			name: "json object", subject: "logs.app", data: `{"msg":"a","host":"h1"}`,
			want: Reply{Accepted: 1}, wantRaw: []string{`{"msg":"a","host":"h1"}`},
			check: func(t *testing.T, evs []event.Event) {
				if e := evs[0]; e.GetString("msg") != "a" || e.Host != "h1" {
					t.Errorf("fields %v host %q", e.Fields, e.Host)
				}
			},
		},
		{
			name: "ndjson with a bad line", subject: "logs.app.v2", data: "{\"msg\":\"a\"}\nbad\n{\"msg\":\"c\"}\n",
			want: Reply{Accepted: 2, Rejected: 1, Errors: []string{
				"line 2: …invalid character 'b' looking for beginning of value",
			}},
			wantRaw: []string{`{"msg":"a"}`, `{"msg":"c"}`}, malformed: 1,
		},
		{
			name: "array", subject: "logs.arr", data: `[{"msg":"a"}, {"msg":"b"}]`,
			want: Reply{Accepted: 2}, wantRaw: []string{`{"msg":"a"}`, `{"msg":"b"}`},
		},
		{
			name: "syslog line", subject: "logs.syslog", data: sshd + "\n",
			want: Reply{Accepted: 1}, wantRaw: []string{sshd},
			check: func(t *testing.T, evs []event.Event) {
				e := evs[0]
				if e.LogSource != (event.LogSource{Product: "linux", Service: "sshd"}) || e.Host != "bastion" ||
					e.GetString("source.ip") != "203.0.113.5" || e.GetString("user.name") != "root" {
					t.Errorf("logsource %+v host %q fields %v", e.LogSource, e.Host, e.Fields)
				}
			},
		},
		{
			name: "plain text", subject: "logs.text", data: "hello there",
			want: Reply{Accepted: 1}, wantRaw: []string{"hello there"},
			check: func(t *testing.T, evs []event.Event) {
				if evs[0].GetString("message") != "hello there" {
					t.Errorf("fields %v", evs[0].Fields)
				}
			},
		},
		{
			name: "text over the event size limit", subject: "logs.text", data: long,
			want: Reply{Rejected: 1, Errors: []string{"message over the event size limit"}}, tooLarge: 1,
		},
		{
			// A JSON line over the limit is refused by line like a bad one.
			name: "json line over the event size limit", subject: "logs.app", data: `{"msg":"ok"}` + "\n" + `{"msg":"` + long + `"}`,
			want:    Reply{Accepted: 1, Rejected: 1, Errors: []string{"line 2: event too large: 310 bytes, the limit is 256"}},
			wantRaw: []string{`{"msg":"ok"}`}, tooLarge: 1,
		},
		{
			name: "empty message", subject: "logs.empty", data: "",
			want: Reply{},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mal0 := bustest.Counter(t, tb.Reg, rejected, "source", "nats", "reason", "malformed")
			big0 := bustest.Counter(t, tb.Reg, rejected, "source", "nats", "reason", "too_large")
			acc0 := bustest.Counter(t, tb.Reg, accepted, "source", "nats")
			bytes0 := bustest.Counter(t, tb.Reg, bytesIn, "source", "nats")

			got := request(t, nc, tc.subject, tc.data)
			checkReply(t, got, tc.want)
			// The reply comes after the events are stored: they are
			// readable now, without waiting.
			evs := tb.Stored(t)
			if raws := rawsOf(evs); !reflect.DeepEqual(raws, append([]string{}, tc.wantRaw...)) {
				t.Fatalf("stored %q, want %q", raws, tc.wantRaw)
			}
			for _, e := range evs {
				if e.Source != "nats" || e.GetString("nats.subject") != tc.subject || e.ID == "" {
					t.Errorf("event source %q subject %q id %q", e.Source, e.GetString("nats.subject"), e.ID)
				}
			}
			if tc.check != nil {
				tc.check(t, evs)
			}
			for _, c := range []struct {
				name      string
				got, want float64
			}{
				{"accepted", bustest.Counter(t, tb.Reg, accepted, "source", "nats") - acc0, float64(tc.want.Accepted)},
				{"rejected malformed", bustest.Counter(t, tb.Reg, rejected, "source", "nats", "reason", "malformed") - mal0, tc.malformed},
				{"rejected too_large", bustest.Counter(t, tb.Reg, rejected, "source", "nats", "reason", "too_large") - big0, tc.tooLarge},
				{"bytes", bustest.Counter(t, tb.Reg, bytesIn, "source", "nats") - bytes0, float64(len(tc.data))},
			} {
				if c.got != c.want {
					t.Errorf("%s +%v, want +%v", c.name, c.got, c.want)
				}
			}
		})
	}
}

func TestPlainPublish(t *testing.T) {
	tb := bustest.Start(t, 0)
	run(t, tb, Config{}, tb.Pipe)
	nc := shipper(t, tb)
	var want []string
	for i := range 30 {
		m := fmt.Sprintf(`{"msg":"p%02d"}`, i)
		want = append(want, m)
		if err := nc.Publish(fmt.Sprintf("logs.host%d", i%3), []byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	// Subjects outside logs.> are not taken.
	if err := nc.Publish("other.app", []byte(`{"msg":"other"}`)); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	evs := tb.WaitStored(t, len(want))
	if got := rawsOf(evs); !reflect.DeepEqual(got, want) {
		t.Errorf("stored %q\nwant %q", got, want)
	}
	if n := len(tb.Stored(t)); n != 0 {
		t.Errorf("%d more events stored", n)
	}
}

// TestConcurrentRequests: many requests share stored batches, and each
// reply counts its own events only.
func TestConcurrentRequests(t *testing.T) {
	tb := bustest.Start(t, 0)
	run(t, tb, Config{BatchMessages: 4}, tb.Pipe)
	nc := shipper(t, tb)
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var b strings.Builder
			for j := range i%3 + 1 {
				fmt.Fprintf(&b, "{\"msg\":\"r%d-%d\"}\n", i, j)
			}
			if i%5 == 0 {
				b.WriteString("oops\n")
			}
			m, err := nc.Request(fmt.Sprintf("logs.r%d", i), []byte(b.String()), 10*time.Second)
			if err != nil {
				t.Error(err)
				return
			}
			var r Reply
			if err := json.Unmarshal(m.Data, &r); err != nil {
				t.Error(err)
				return
			}
			wantRej := 0
			if i%5 == 0 {
				wantRej = 1
			}
			if r.Accepted != i%3+1 || r.Rejected != wantRej {
				t.Errorf("request %d: reply %+v, want %d accepted %d rejected", i, r, i%3+1, wantRej)
			}
		})
	}
	wg.Wait()
	evs := tb.Stored(t)
	want := 0
	for i := range n {
		want += i%3 + 1
	}
	if len(evs) != want {
		t.Errorf("stored %d events, want %d", len(evs), want)
	}
}

type failSink struct{ err error }

func (s failSink) Submit(context.Context, []event.Event, string) error { return s.err }

func TestStoreFailureIsReported(t *testing.T) {
	tb := bustest.Start(t, 0)
	run(t, tb, Config{}, failSink{errors.New("bus unavailable")})
	nc := shipper(t, tb)
	got := request(t, nc, "logs.app", "{\"msg\":\"a\"}\nbad\n{\"msg\":\"c\"}")
	want := Reply{Rejected: 3, Errors: []string{
		"line 2: …invalid character 'b' looking for beginning of value",
		"not stored: bus unavailable",
	}}
	checkReply(t, got, want)
	if c := bustest.Counter(t, tb.Reg, rejected, "source", "nats", "reason", "store_failed"); c != 2 {
		t.Errorf("store_failed = %v, want 2", c)
	}
	if c := bustest.Counter(t, tb.Reg, accepted, "source", "nats"); c != 0 {
		t.Errorf("accepted = %v, want 0", c)
	}
}

// TestShutdownFlushes: messages received but not yet due for storing are
// stored, and requests answered, before Run returns.
func TestShutdownFlushes(t *testing.T) {
	tb := bustest.Start(t, 0)
	stop := run(t, tb, Config{BatchMessages: 100000, FlushEvery: time.Hour}, tb.Pipe)
	nc := shipper(t, tb)
	replies := make(chan *nats.Msg, 1)
	inbox := nats.NewInbox()
	sub, err := nc.ChanSubscribe(inbox, replies)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	total := 0
	var want []string
	for i := range 10 {
		m := fmt.Sprintf(`{"msg":"s%d"}`, i)
		want = append(want, m)
		total += len(m)
		if i == 9 {
			err = nc.PublishRequest("logs.s", inbox, []byte(m))
		} else {
			err = nc.Publish("logs.s", []byte(m))
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for bustest.Counter(t, tb.Reg, bytesIn, "source", "nats") != float64(total) {
		if time.Now().After(deadline) {
			t.Fatal("messages not received")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := len(tb.Stored(t)); n != 0 {
		t.Fatalf("%d stored before the batch was due", n)
	}
	select {
	case m := <-replies:
		t.Fatalf("reply %q before the event was stored", m.Data)
	default:
	}
	stop()
	if got := rawsOf(tb.Stored(t)); !reflect.DeepEqual(got, want) {
		t.Errorf("stored after shutdown %q\nwant %q", got, want)
	}
	select {
	case m := <-replies:
		var r Reply
		if err := json.Unmarshal(m.Data, &r); err != nil || r.Accepted != 1 {
			t.Errorf("reply %q", m.Data)
		}
	case <-time.After(10 * time.Second):
		t.Error("the pending request was not answered at shutdown")
	}
}

// TestQueueGroup: two nodes in one queue group store each message once.
func TestQueueGroup(t *testing.T) {
	tb := bustest.Start(t, 0)
	run(t, tb, Config{Queue: "riposte"}, tb.Pipe)
	run(t, tb, Config{Queue: "riposte"}, tb.Pipe)
	nc := shipper(t, tb)
	for i := range 40 {
		if err := nc.Publish("logs.q", []byte(fmt.Sprintf(`{"msg":"q%02d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	evs := tb.WaitStored(t, 40)
	evs = append(evs, tb.Stored(t)...)
	var got []string
	for _, e := range evs {
		got = append(got, e.GetString("msg"))
	}
	sort.Strings(got)
	var want []string
	for i := range 40 {
		want = append(want, fmt.Sprintf("q%02d", i))
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("stored %q", got)
	}
}

// TestSampleConfig: sample.conf is valid riposte.yaml and says what it
// documents.
func TestSampleConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "riposte.yaml")
	if err := os.WriteFile(p, []byte(SampleConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, lines, err := config.LoadFile(p)
	if err != nil {
		t.Fatalf("sample.conf: %v", err)
	}
	if ps := c.Validate(lines); len(ps) > 0 {
		t.Fatalf("sample.conf: %v", ps)
	}
	want := []config.Subject{{Subject: "logs.>", Queue: "riposte"}}
	if !reflect.DeepEqual(c.Ingest.Subjects, want) {
		t.Errorf("sample.conf decodes to %+v", c.Ingest.Subjects)
	}
	for _, k := range []string{"ingest.nats_subjects[0].subject", "ingest.nats_subjects[0].queue", "ingest.nats_subjects[0].url"} {
		if lines[k] == 0 {
			t.Errorf("sample.conf does not show %s", k)
		}
	}
}
