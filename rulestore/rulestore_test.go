package rulestore

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func TestVersionsRollbackAndAudit(t *testing.T) {
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := New(db)
	ctx := context.Background()
	v1 := "title: SSH brute force\ndetection:\n  sel:\n    event.outcome: failure\n  condition: sel\n"
	v2 := strings.Replace(v1, "failure", "fail*", 1)
	if v, err := s.Put(ctx, "r1", "SSH brute force", "sigma", v1, "alice", "first"); err != nil || v.Version != 1 {
		t.Fatalf("Put v1 = %+v, %v", v, err)
	}
	if _, err := s.Put(ctx, "r1", "SSH brute force", "sigma", v1, "alice", "again"); !errors.Is(err, ErrUnchanged) {
		t.Fatalf("unchanged Put = %v, want ErrUnchanged", err)
	}
	if v, err := s.Put(ctx, "r1", "SSH brute force", "sigma", v2, "bob", "broaden"); err != nil || v.Version != 2 {
		t.Fatalf("Put v2 = %+v, %v", v, err)
	}
	if err := s.SetEnabled(ctx, "r1", false, "bob", "noisy"); err != nil {
		t.Fatal(err)
	}
	if act, _ := s.Active(ctx); len(act) != 0 {
		t.Fatalf("disabled rule still active: %+v", act)
	}
	if err := s.SetEnabled(ctx, "nope", false, "bob", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("disable unknown = %v", err)
	}
	s.SetEnabled(ctx, "r1", true, "bob", "tuned")
	v, err := s.Rollback(ctx, "r1", 1, "carol", "")
	if err != nil || v.Version != 3 || v.Body != v1 || v.Reason != "rollback to version 1" {
		t.Fatalf("Rollback = %+v, %v", v, err)
	}
	if _, err := s.Rollback(ctx, "r1", 9, "carol", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rollback to missing version = %v", err)
	}
	h, err := s.History(ctx, "r1")
	if err != nil || len(h) != 3 || h[1].Author != "bob" || h[1].Reason != "broaden" {
		t.Fatalf("History = %+v, %v", h, err)
	}
	r, cur, err := s.Get(ctx, "r1")
	if err != nil || r.Current != 3 || !r.Enabled || cur.Body != v1 {
		t.Fatalf("Get = %+v %+v %v", r, cur, err)
	}
	entries, _ := audit.New(db).List(ctx, 0, 100)
	var actions []string
	for _, e := range entries {
		actions = append(actions, e.Action)
	}
	want := "rule.create rule.update rule.disable rule.enable rule.rollback"
	if strings.Join(actions, " ") != want {
		t.Fatalf("audit actions %v, want %s", actions, want)
	}
	if !strings.Contains(string(entries[1].Detail), `-    event.outcome: failure\n+    event.outcome: fail*`) {
		t.Fatalf("update audit lacks the diff: %s", entries[1].Detail)
	}
	if _, brk, _ := audit.New(db).Verify(ctx); brk != nil {
		t.Fatal(brk)
	}
}

func TestDiff(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"a\nb\nc", "a\nB\nc", "@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{"a", "a\nb", "@@ -1,1 +1,2 @@\n a\n+b\n"},
		{"a\nb", "b", "@@ -1,2 +1,1 @@\n-a\n b\n"},
	}
	for _, c := range cases {
		if got := Diff(c.a, c.b); got != c.want {
			t.Errorf("Diff(%q,%q) =\n%s\nwant\n%s", c.a, c.b, got, c.want)
		}
	}
}

func TestPlaybookStoreKeepsItsOwnHistory(t *testing.T) {
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	rules, pbs := New(db), NewPlaybooks(db)
	if _, err := rules.Put(ctx, "x", "a rule", "sigma", "r1", "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := pbs.Put(ctx, "playbook--1", "a playbook", "yaml", "p1", "bob", "first"); err != nil {
		t.Fatal(err)
	}
	if _, err := pbs.Put(ctx, "playbook--1", "a playbook", "yaml", "p2", "bob", "second"); err != nil {
		t.Fatal(err)
	}
	if rs, _ := rules.List(ctx); len(rs) != 1 || rs[0].ID != "x" {
		t.Fatalf("rules %+v", rs)
	}
	if ps, _ := pbs.List(ctx); len(ps) != 1 || ps[0].Current != 2 {
		t.Fatalf("playbooks %+v", ps)
	}
	entries, _ := audit.New(db).List(ctx, 0, 10)
	if len(entries) != 3 || entries[2].Action != "playbook.update" || entries[2].Target != "playbook:playbook--1" {
		t.Fatalf("audit %+v", entries[2])
	}
}
