package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func TestParseExpiry(t *testing.T) {
	now := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		err  string
	}{
		{"", time.Time{}, ""},
		{"30d", now.Add(30 * 24 * time.Hour), ""},
		{"2w", now.Add(14 * 24 * time.Hour), ""},
		{"12h", now.Add(12 * time.Hour), ""},
		{"2027-01-01T00:00:00Z", time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ""},
		{"0d", time.Time{}, "positive"},
		{"-1h", time.Time{}, "future"},
		{"soon", time.Time{}, "want a duration"},
		{"99999999d", time.Time{}, "at most 100 years"},
	} {
		got, err := ParseExpiry(c.in, now)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("ParseExpiry(%q) error %v, want one saying %q", c.in, err, c.err)
			}
			continue
		}
		if err != nil || !got.Equal(c.want) {
			t.Errorf("ParseExpiry(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
}

func openStore(t *testing.T) (*Store, *audit.Log) {
	t.Helper()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return NewStore(db), audit.New(db)
}

// An expired token is refused with a reason naming its expiry; the list
// still shows it, with when it expired.
func TestExpiredTokenRefused(t *testing.T) {
	s, _ := openStore(t)
	ctx := context.Background()
	secret, tok, err := s.CreateExpiring(ctx, "short", Viewer, "cli", time.Now().Add(150*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, secret); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	time.Sleep(200 * time.Millisecond)
	_, err = s.Lookup(ctx, secret)
	var exp *ExpiredError
	if !errors.As(err, &exp) || !strings.Contains(err.Error(), "expired at") {
		t.Fatalf("expired token: %v, want an ExpiredError", err)
	}
	ts, err := s.List(ctx)
	if err != nil || len(ts) != 1 || ts[0].ExpiresAt == nil || !ts[0].ExpiresAt.Equal(*tok.ExpiresAt) {
		t.Fatalf("list %+v, %v", ts, err)
	}
	if _, _, err := s.CreateExpiring(ctx, "past", Viewer, "cli", time.Now().Add(-time.Hour)); err == nil {
		t.Fatal("a token expiring in the past was created")
	}
}

// Creating and revoking a token audit it in the same transaction;
// revoking an unknown token changes and audits nothing.
func TestTokenChangesAudited(t *testing.T) {
	s, l := openStore(t)
	ctx := context.Background()
	_, tok, err := s.Create(ctx, "ci", Ingest, "token:X (admin)")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeBy(ctx, tok.ID, "cli"); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeBy(ctx, "nope", "cli"); !errors.Is(err, ErrUnknownToken) {
		t.Fatalf("revoke unknown: %v", err)
	}
	es, err := l.List(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := []string{"token:X (admin) token.create token:" + tok.ID, "cli token.revoke token:" + tok.ID}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, brk, err := l.Verify(ctx); brk != nil || err != nil {
		t.Fatalf("verify: %v %v", brk, err)
	}
}
