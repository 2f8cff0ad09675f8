package correlate

import (
	"fmt"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/event"
)

// BenchmarkObserve feeds failed logins from 10,000 source addresses, in
// event-time order, to an event_count correlation (gte 1000 in 5m, so no
// group fires and every window slides).
func BenchmarkObserve(b *testing.B) {
	r, err := Parse(map[string]any{"title": "brute force", "name": "bf", "correlation": map[string]any{
		"type": "event_count", "rules": []any{"failed"}, "group-by": []any{"source.ip"},
		"timespan": "5m", "condition": map[string]any{"gte": 1000},
	}}, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine([]*Rule{r}, Options{})
	const groups = 10_000
	evs := make([]*event.Event, groups)
	for i := range evs {
		evs[i] = &event.Event{ID: fmt.Sprintf("01J%023d", i), Host: "bastion",
			Fields: map[string]any{"source.ip": fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "user.name": "root"}}
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ev := evs[i%groups]
		ev.Time = t0.Add(time.Duration(i) * time.Millisecond) // 1,000 events/s: each group every 10 s
		if hits := e.Observe("", "failed", ev); hits != nil {
			b.Fatal("unexpected hit")
		}
		i++
	}
	b.StopTimer()
	if s := e.Stats(); s.Groups != min(groups, int64(i)) {
		b.Fatalf("groups %d", s.Groups)
	}
}

// BenchmarkObserveFlood feeds failed logins from a new source address every
// time to a correlation that keeps 10,000 groups: once full, every event
// evicts a group (the flood path).
func BenchmarkObserveFlood(b *testing.B) {
	r, err := Parse(map[string]any{"title": "brute force", "name": "bf", "correlation": map[string]any{
		"type": "event_count", "rules": []any{"failed"}, "group-by": []any{"source.ip"},
		"timespan": "5m", "condition": map[string]any{"gte": 10},
	}}, "", 0)
	if err != nil {
		b.Fatal(err)
	}
	e := NewEngine([]*Rule{r}, Options{MaxGroupsPerRule: 10_000})
	const addrs = 1 << 20
	ips := make([]string, addrs)
	for i := range ips {
		ips[i] = fmt.Sprintf("2001:db8:bad:1::%x:%x", i>>16, i&0xffff)
	}
	ev := &event.Event{ID: "01J0000000000000000000000", Host: "bastion", Fields: map[string]any{"user.name": "root"}}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		ev.Fields["source.ip"] = ips[i%addrs]
		ev.Time = t0.Add(time.Duration(i) * time.Microsecond)
		e.Observe("", "failed", ev)
		i++
	}
}
