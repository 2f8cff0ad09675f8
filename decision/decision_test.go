package decision

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func open(t *testing.T) (*Store, *store.DB) {
	t.Helper()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return New(db, DefaultSchedule), db
}

var now = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func TestRepeatOffendersGetLongerBans(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	want := []time.Duration{time.Hour, 24 * time.Hour, 7 * 24 * time.Hour, 30 * 24 * time.Hour, 30 * 24 * time.Hour}
	for i, w := range want {
		at := now.Add(time.Duration(i) * time.Hour)
		d, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.7", Owner: "playbook:r1", Reason: "ssh brute force"}, 0, at)
		if err != nil {
			t.Fatal(err)
		}
		if d.Offense != i+1 || d.Expires.Sub(at) != w || d.Target != "203.0.113.7/32" {
			t.Fatalf("offense %d: %+v, want ban %v", i+1, d, w)
		}
	}
	// Outside the window an address starts over.
	d, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.7", Owner: "x", Reason: "again"}, 0, now.Add(60*24*time.Hour))
	if d.Offense != 1 {
		t.Fatalf("offense after the window: %d", d.Offense)
	}
}

func TestActiveExpiryRevertAndAudit(t *testing.T) {
	s, db := open(t)
	ctx := context.Background()
	a, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "198.51.100.0/24", Owner: "alice", Reason: "scanner", Incident: "inc1"}, time.Hour, now)
	b, _ := s.Add(ctx, Decision{Kind: ContainHost, Target: "ws-7", Owner: "bob", Reason: "malware", Incident: "inc1"}, -1, now)
	c, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "2001:db8::1", Owner: "bob", Reason: "c2"}, time.Minute, now)
	if !b.Expires.IsZero() || c.Target != "2001:db8::1/128" {
		t.Fatalf("until-reverted %+v, ipv6 %+v", b, c)
	}
	act, _ := s.List(ctx, false, now.Add(2*time.Minute))
	if len(act) != 2 {
		t.Fatalf("active after c expired: %d, want 2", len(act))
	}
	rev, err := s.RevertIncident(ctx, "inc1", "recovery", now.Add(3*time.Minute))
	if err != nil || len(rev) != 2 {
		t.Fatalf("revert incident: %v %v", rev, err)
	}
	if act, _ := s.List(ctx, false, now.Add(3*time.Minute)); len(act) != 0 {
		t.Fatalf("still active: %+v", act)
	}
	if _, err := s.Revert(ctx, a.ID, "carol", "again", now); err == nil || !strings.Contains(err.Error(), "already reverted") {
		t.Fatalf("second revert: %v", err)
	}
	if _, err := s.Revert(ctx, "nope", "carol", "", now); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	all, _ := s.List(ctx, true, now)
	if len(all) != 3 {
		t.Fatalf("all decisions: %d", len(all))
	}
	entries, _ := audit.New(db).List(ctx, 0, 100)
	if len(entries) != 5 || entries[0].Action != "decision.add" || entries[4].Action != "decision.revert" {
		t.Fatalf("audit %+v", entries)
	}
}

func TestBadDecisionsAreRefused(t *testing.T) {
	s, _ := open(t)
	for _, d := range []Decision{
		{Kind: DenyIP, Target: "10.0.0.300", Reason: "x"},
		{Kind: DenyIP, Target: "evil.example", Reason: "x"},
		{Kind: ContainHost, Target: "a b", Reason: "x"},
		{Kind: "drop_table", Target: "x", Reason: "x"},
		{Kind: DenyIP, Target: "10.0.0.1"},
	} {
		if _, err := s.Add(context.Background(), d, 0, now); err == nil {
			t.Errorf("%+v accepted", d)
		}
	}
}

func TestReBanSupersedesAndKeepsTheLaterExpiry(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	var seen []string
	s.Watch(func(d Decision) { seen = append(seen, fmt.Sprintf("%s active=%v", d.ID, d.Active(now))) })
	long, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.7", Owner: "o", Reason: "r"}, 10*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	short, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.7", Owner: "o", Reason: "again"}, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if !short.Expires.Equal(long.Expires) || short.Rule == long.Rule || short.Offense != 2 {
		t.Fatalf("re-ban %+v after %+v", short, long)
	}
	act, _ := s.List(ctx, false, now)
	if len(act) != 1 || act[0].ID != short.ID {
		t.Fatalf("active %+v", act)
	}
	// The new rule is announced before the old one's removal, so agents
	// never have a gap.
	want := []string{long.ID + " active=true", short.ID + " active=true", long.ID + " active=false"}
	if fmt.Sprint(seen) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", seen, want)
	}
	// A ban scoped to one host does not replace the fleet-wide one.
	if _, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.7", Host: "web-1", Owner: "o", Reason: "r"}, time.Hour, now); err != nil {
		t.Fatal(err)
	}
	if act, _ := s.List(ctx, false, now); len(act) != 2 {
		t.Fatalf("scoped ban replaced the global one: %+v", act)
	}
	web, _ := s.ForHost(ctx, "WEB-1", now)
	db, _ := s.ForHost(ctx, "db-1", now)
	if len(web) != 2 || len(db) != 1 {
		t.Fatalf("for web-1 %d, for db-1 %d", len(web), len(db))
	}
}

func TestExpiryIsRecordedOnceEvenAfterDowntime(t *testing.T) {
	s, db := open(t)
	ctx := context.Background()
	d, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "198.51.100.1", Owner: "o", Reason: "r"}, time.Minute, now)
	keep, _ := s.Add(ctx, Decision{Kind: ContainHost, Target: "web-1", Owner: "o", Reason: "r"}, -1, now)
	if got, _ := s.Expire(ctx, now.Add(30*time.Second)); len(got) != 0 {
		t.Fatalf("expired early: %+v", got)
	}
	// The server was down when it came due: the next sweep records it.
	got, err := s.Expire(ctx, now.Add(time.Hour))
	if err != nil || len(got) != 1 || got[0].ID != d.ID {
		t.Fatalf("expire: %+v %v", got, err)
	}
	if again, _ := s.Expire(ctx, now.Add(2*time.Hour)); len(again) != 0 {
		t.Fatalf("recorded twice: %+v", again)
	}
	if act, _ := s.List(ctx, false, now.Add(time.Hour)); len(act) != 1 || act[0].ID != keep.ID {
		t.Fatalf("active after expiry: %+v", act)
	}
	var n int
	db.R.QueryRow(`SELECT count(*) FROM audit WHERE action = 'decision.expire'`).Scan(&n)
	if n != 1 {
		t.Fatalf("%d expiry audit entries", n)
	}
}

func TestOtherIncidentsBansStayAndRetriesMakeNoSecondDecision(t *testing.T) {
	s, _ := open(t)
	ctx := context.Background()
	a, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.8", Owner: "o", Reason: "r", Incident: "A"}, 30*24*time.Hour, now)
	b, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "203.0.113.8", Owner: "o", Reason: "r", Incident: "B"}, time.Hour, now)
	if act, _ := s.List(ctx, false, now); len(act) != 2 {
		t.Fatalf("incident B's ban replaced A's: %+v", act)
	}
	if _, err := s.RevertIncident(ctx, "B", "recovery", now); err != nil {
		t.Fatal(err)
	}
	if act, _ := s.List(ctx, false, now); len(act) != 1 || act[0].ID != a.ID {
		t.Fatalf("recovering B lifted A's ban: %+v", act)
	}
	_ = b
	var announced int
	s.Watch(func(Decision) { announced++ })
	k1, _ := s.Add(ctx, Decision{Kind: DenyIP, Target: "198.51.100.3", Owner: "o", Reason: "r", Key: "run:step:1"}, 0, now)
	k2, err := s.Add(ctx, Decision{Kind: DenyIP, Target: "198.51.100.3", Owner: "o", Reason: "r", Key: "run:step:1"}, 0, now.Add(time.Minute))
	if err != nil || k2.ID != k1.ID || k2.Offense != 1 || !k2.Expires.Equal(now.Add(time.Hour)) {
		t.Fatalf("a retried call made a second decision or lengthened the ban: %+v then %+v", k1, k2)
	}
	if announced != 2 {
		t.Fatalf("the retry was not announced again to the agents (%d)", announced)
	}
	h, _ := s.Add(ctx, Decision{Kind: ContainHost, Target: "WEB-1", Owner: "o", Reason: "r"}, -1, now)
	if h.Target != "web-1" {
		t.Fatalf("host not lower-cased: %q", h.Target)
	}
}
