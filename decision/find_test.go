package decision

import (
	"context"
	"testing"
	"time"
)

func TestFindFiltersAndPages(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	add := func(d Decision, ttl time.Duration, at time.Time) Decision {
		t.Helper()
		d.Owner, d.Reason = "test", "r"
		out, err := s.Add(ctx, d, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	active := add(Decision{Kind: DenyIP, Target: "203.0.113.7", Incident: "inc-a"}, time.Hour, now)
	expired := add(Decision{Kind: DenyIP, Target: "198.51.100.9", Incident: "inc-b"}, time.Minute, now.Add(-time.Hour))
	host := add(Decision{Kind: ContainHost, Target: "web_1", Incident: "inc-a"}, -1, now.Add(time.Second))
	reverted := add(Decision{Kind: DenyIP, Target: "192.0.2.1"}, time.Hour, now.Add(2*time.Second))
	if _, err := s.Revert(ctx, reverted.ID, "alice", "done", now.Add(3*time.Second)); err != nil {
		t.Fatal(err)
	}
	at := now.Add(5 * time.Second)
	for _, c := range []struct {
		name  string
		f     Filter
		want  []string
		total int
	}{
		{"all, newest first", Filter{}, []string{reverted.ID, host.ID, active.ID, expired.ID}, 4},
		{"active", Filter{State: StateActive}, []string{host.ID, active.ID}, 2},
		{"expired", Filter{State: StateExpired}, []string{expired.ID}, 1},
		{"reverted", Filter{State: StateReverted}, []string{reverted.ID}, 1},
		{"kind", Filter{Kind: ContainHost}, []string{host.ID}, 1},
		{"part of a target", Filter{Target: "113.7"}, []string{active.ID}, 1},
		{"underscore is literal", Filter{Target: "b_1"}, []string{host.ID}, 1},
		{"incident", Filter{Incident: "inc-a"}, []string{host.ID, active.ID}, 2},
		{"second page", Filter{Limit: 3, Offset: 3}, []string{expired.ID}, 4},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, total, err := s.Find(ctx, c.f, at)
			if err != nil {
				t.Fatal(err)
			}
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			if total != c.total || len(ids) != len(c.want) {
				t.Fatalf("got %v (total %d), want %v (total %d)", ids, total, c.want, c.total)
			}
			for i := range ids {
				if ids[i] != c.want[i] {
					t.Fatalf("got %v, want %v", ids, c.want)
				}
			}
		})
	}
	if _, _, err := s.Find(ctx, Filter{State: "bogus"}, at); err == nil {
		t.Fatal("an unknown state was accepted")
	}
}
