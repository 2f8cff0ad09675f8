package auth

import (
	"context"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func signedIn(t *testing.T, u *Users, name string, role Role) (User, string, Session) {
	t.Helper()
	ctx := context.Background()
	if _, err := u.Add(ctx, name, role, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	x, err := u.Authenticate(ctx, name, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	secret, s, err := u.StartSession(ctx, x, "192.0.2.10")
	if err != nil {
		t.Fatal(err)
	}
	return x, secret, s
}

func TestSessionLifecycle(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	u, log, db := openUsers(t, UserOptions{Now: clk.Now})
	ctx := context.Background()
	_, secret, s := signedIn(t, u, "alice", Analyst)
	if s.User.Name != "alice" || s.User.Role != Analyst || !s.CreatedAt.Equal(clk.Now()) || !s.Expires.Equal(clk.Now().Add(12*time.Hour)) {
		t.Fatalf("StartSession = %+v", s)
	}
	got, err := u.Session(ctx, secret)
	if err != nil || got.ID != s.ID || got.User.Name != "alice" || got.CSRF != s.CSRF || got.From != "192.0.2.10" {
		t.Fatalf("Session = %+v, %v; want %+v", got, err, s)
	}
	// Only the secret's hash is stored.
	var rows int
	if err := db.R.QueryRow(`SELECT count(*) FROM sessions WHERE hash = ?`, hash(secret)).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("sessions rows with the secret's hash: %d, %v", rows, err)
	}
	var id, user, from string
	var stored []byte
	if err := db.R.QueryRow(`SELECT id, hash, user_id, from_addr FROM sessions`).Scan(&id, &stored, &user, &from); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), secret) {
		t.Fatal("the stored hash contains the secret")
	}
	dump := id + hex.EncodeToString(stored) + user + from
	if strings.Contains(strings.ToLower(dump), strings.TrimPrefix(secret, sessionPrefix)) {
		t.Fatal("the session secret is stored in the clear")
	}
	for _, bad := range []string{"", "rps_", secret + "x", strings.ToUpper(secret), "rpt_" + secret[4:]} {
		if _, err := u.Session(ctx, bad); !errors.Is(err, ErrNoSession) {
			t.Errorf("Session(%q) = %v, want ErrNoSession", bad, err)
		}
	}
	// Logout.
	if err := u.EndSession(ctx, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Session(ctx, secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("Session after logout = %v", err)
	}
	if err := u.EndSession(ctx, secret); !errors.Is(err, ErrNoSession) {
		t.Fatalf("second logout = %v, want ErrNoSession", err)
	}
	es, _ := log.List(ctx, 0, 100)
	var got2 []string
	for _, e := range es {
		got2 = append(got2, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := []string{"cli user.create user:alice", "user:alice session.start session:" + s.ID, "user:alice session.end session:" + s.ID}
	if !slices.Equal(got2, want) {
		t.Fatalf("audit = %q, want %q", got2, want)
	}
}

func TestCSRF(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{})
	_, _, s := signedIn(t, u, "alice", Analyst)
	_, secret2, s2 := signedIn(t, u, "bob", Analyst)
	if len(s.CSRF) < 40 || s.CSRF == s2.CSRF || strings.Contains(secret2, s2.CSRF) {
		t.Fatalf("CSRF tokens %q and %q: want long, distinct per session, not the cookie", s.CSRF, s2.CSRF)
	}
	for _, c := range []struct {
		token string
		ok    bool
	}{
		{s.CSRF, true},
		{"", false},
		{s2.CSRF, false},
		{s.CSRF[:len(s.CSRF)-1], false},
		{s.CSRF + "A", false},
		{strings.ToUpper(s.CSRF), s.CSRF == strings.ToUpper(s.CSRF)},
	} {
		if got := s.CheckCSRF(c.token); got != c.ok {
			t.Errorf("CheckCSRF(%q) = %v, want %v", c.token, got, c.ok)
		}
	}
	if (Session{}).CheckCSRF("") {
		t.Error("a session without a CSRF token accepts the empty token")
	}
}

func TestSessionExpiry(t *testing.T) {
	for _, c := range []struct {
		what  string
		opts  UserOptions
		steps []time.Duration // waits between uses
		ok    []bool          // whether the use after each wait succeeds
	}{
		{"used within the idle time", UserOptions{}, []time.Duration{29 * time.Minute, 29 * time.Minute, 29 * time.Minute}, []bool{true, true, true}},
		{"idle for 30 minutes", UserOptions{}, []time.Duration{10 * time.Minute, 30 * time.Minute}, []bool{true, false}},
		{"idle just under 30 minutes after a use", UserOptions{}, []time.Duration{20 * time.Minute, 29*time.Minute + 59*time.Second}, []bool{true, true}},
		{"absolute expiry at 12h whatever the use", UserOptions{},
			append(slices.Repeat([]time.Duration{20 * time.Minute}, 35), 19*time.Minute+59*time.Second, time.Second),
			append(slices.Repeat([]bool{true}, 36), false)},
		{"configured idle 5m", UserOptions{Idle: 5 * time.Minute}, []time.Duration{4 * time.Minute, 5 * time.Minute}, []bool{true, false}},
		{"configured absolute 1h", UserOptions{Absolute: time.Hour}, []time.Duration{25 * time.Minute, 25 * time.Minute, 10 * time.Minute}, []bool{true, true, false}},
	} {
		t.Run(c.what, func(t *testing.T) {
			clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
			c.opts.Now = clk.Now
			u, _, _ := openUsers(t, c.opts)
			_, secret, _ := signedIn(t, u, "alice", Analyst)
			var elapsed time.Duration
			for i, d := range c.steps {
				clk.Add(d)
				elapsed += d
				_, err := u.Session(context.Background(), secret)
				if c.ok[i] != (err == nil) {
					t.Fatalf("use %d, %v after sign-in: Session = %v, want ok=%v", i+1, elapsed, err, c.ok[i])
				}
				if err != nil && !errors.Is(err, ErrNoSession) {
					t.Fatalf("use %d: %v, want ErrNoSession", i+1, err)
				}
			}
		})
	}
}

// LastSeen is written at most once a minute.
func TestSessionTouch(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	u, _, db := openUsers(t, UserOptions{Now: clk.Now})
	_, secret, s := signedIn(t, u, "alice", Analyst)
	stored := func() time.Time {
		var ns int64
		if err := db.R.QueryRow(`SELECT last_seen FROM sessions WHERE id = ?`, s.ID).Scan(&ns); err != nil {
			t.Fatal(err)
		}
		return time.Unix(0, ns).UTC()
	}
	start := clk.Now()
	for _, c := range []struct {
		wait time.Duration
		want time.Time
	}{
		{30 * time.Second, start},
		{29 * time.Second, start},
		{time.Second, start.Add(time.Minute)},
		{10 * time.Second, start.Add(time.Minute)},
		{50 * time.Second, start.Add(2 * time.Minute)},
	} {
		clk.Add(c.wait)
		got, err := u.Session(context.Background(), secret)
		if err != nil {
			t.Fatal(err)
		}
		if !got.LastSeen.Equal(c.want) || !stored().Equal(c.want) {
			t.Fatalf("at %v: LastSeen %v, stored %v; want %v", clk.Now().Sub(start), got.LastSeen, stored(), c.want)
		}
	}
}

// Whatever ends a user's access ends their sessions at once: a password
// change, disabling. Enabling again does not bring old sessions back. A
// role change reaches live sessions on their next request.
func TestUserChangesReachSessions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		what   string
		change func(u *Users) error
		live   bool
	}{
		{"password change", func(u *Users) error { return u.SetPassword(ctx, "alice", "a brand new password", "user:alice") }, false},
		{"disable", func(u *Users) error { return u.SetDisabled(ctx, "alice", true, "cli") }, false},
		{"disable then enable", func(u *Users) error {
			if err := u.SetDisabled(ctx, "alice", true, "cli"); err != nil {
				return err
			}
			return u.SetDisabled(ctx, "alice", false, "cli")
		}, false},
		{"role change", func(u *Users) error { return u.SetRole(ctx, "alice", Viewer, "cli") }, true},
		{"another user's password change", func(u *Users) error {
			_, err := u.Add(ctx, "bob", Viewer, "bob's long password", "cli")
			if err != nil {
				return err
			}
			return u.SetPassword(ctx, "bob", "bob's new password", "cli")
		}, true},
	} {
		t.Run(c.what, func(t *testing.T) {
			u, log, _ := openUsers(t, UserOptions{})
			_, s1, _ := signedIn(t, u, "alice", Analyst)
			x, _ := u.Get(ctx, "alice")
			s2, _, err := u.StartSession(ctx, x, "198.51.100.4") // a second browser
			if err != nil {
				t.Fatal(err)
			}
			if err := c.change(u); err != nil {
				t.Fatal(err)
			}
			for _, secret := range []string{s1, s2} {
				s, err := u.Session(ctx, secret)
				if c.live != (err == nil) {
					t.Fatalf("Session after %s = %+v, %v; want live=%v", c.what, s, err, c.live)
				}
				if c.live && c.what == "role change" && s.User.Role != Viewer {
					t.Fatalf("session role after the change = %s, want viewer", s.User.Role)
				}
			}
			if !c.live {
				es, _ := log.List(ctx, 0, 100)
				found := false
				for _, e := range es {
					found = found || strings.Contains(string(e.Detail), `"sessions_ended":2`)
				}
				if !found {
					t.Errorf("no audit entry says two sessions were ended")
				}
			}
		})
	}
}

func TestStartSessionRefusesDisabled(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	x, _, _ := signedIn(t, u, "alice", Analyst)
	if err := u.SetDisabled(ctx, "alice", true, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := u.StartSession(ctx, x, "192.0.2.1"); !errors.Is(err, ErrDisabled) {
		t.Fatalf("StartSession for a disabled user = %v", err)
	}
	if _, _, err := u.StartSession(ctx, User{ID: "nope", Name: "ghost"}, "192.0.2.1"); !errors.Is(err, ErrUnknownUser) {
		t.Fatalf("StartSession for an unknown user = %v", err)
	}
}

// Sessions that can no longer be used do not pile up.
func TestOldSessionsPruned(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)}
	u, _, db := openUsers(t, UserOptions{Now: clk.Now})
	x, _, _ := signedIn(t, u, "alice", Analyst)
	clk.Add(13 * time.Hour)
	if _, _, err := u.StartSession(context.Background(), x, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.R.QueryRow(`SELECT count(*) FROM sessions`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("sessions stored = %d, %v; want the new one alone", n, err)
	}
}
