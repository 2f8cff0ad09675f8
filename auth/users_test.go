package auth

import (
	"context"
	"errors"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// cheap keeps most tests fast; TestHashRoundTrip and the timing test use
// the real costs.
var cheap = HashParams{Memory: 1024, Time: 1, Threads: 1}

// clock is a settable time for expiry tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func openUsers(t *testing.T, opts UserOptions) (*Users, *audit.Log, *store.DB) {
	t.Helper()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if opts.Hash == (HashParams{}) {
		opts.Hash = cheap
	}
	return NewUsers(db, opts), audit.New(db), db
}

func TestCheckPassword(t *testing.T) {
	for _, c := range []struct {
		name, password string
		ok             bool
		why            string
	}{
		{"alice", "correct horse battery", true, ""},
		{"alice", "twelve chars", true, ""},
		{"alice", "eleven char", false, "at least 12"},
		{"alice", "", false, "at least 12"},
		{"alice", "ünïcödé pässwörd", true, ""},        // characters, not bytes
		{"alice", "ååååååååååå", false, "at least 12"}, // 11 characters in 22 bytes
		{"alice.longname", "alice.longname", false, "user's name"},
		{"alice.longname", "ALICE.LONGNAME", false, "user's name"},
		{"alice.longname", " alice.longname ", false, "user's name"},
		{"alice", strings.Repeat("x", MaxPassword+1), false, "longer than"},
		{"alice", strings.Repeat("x", MaxPassword), true, ""},
		{"alice", "valid bytes \xff\xfe here", false, "UTF-8"},
	} {
		err := CheckPassword(c.name, c.password)
		if c.ok != (err == nil) {
			t.Errorf("CheckPassword(%q, %q) = %v, want ok=%v", c.name, c.password, err, c.ok)
			continue
		}
		if !c.ok && (!errors.Is(err, ErrWeakPassword) || !strings.Contains(err.Error(), c.why)) {
			t.Errorf("CheckPassword(%q, %q) = %v, want ErrWeakPassword saying %q", c.name, c.password, err, c.why)
		}
	}
}

func TestCheckName(t *testing.T) {
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"alice", true}, {"alice.smith@example.com", true}, {"a+b_c-d", true}, {"A1", true},
		{"", false}, {".alice", false}, {"al ice", false}, {"al:ice", false}, {"аlice", false}, // Cyrillic а
		{"alice\n", false}, {strings.Repeat("a", 129), false}, {strings.Repeat("a", 128), true},
	} {
		if err := CheckName(c.name); (err == nil) != c.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

// The stored form is a PHC argon2id string with the RFC 9106 costs and a
// salt of its own, and it verifies the password and nothing else.
func TestHashRoundTrip(t *testing.T) {
	a, err := DefaultHash.encode("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DefaultHash.encode("correct horse battery")
	if !strings.HasPrefix(a, "$argon2id$v=19$m=65536,t=3,p=4$") {
		t.Fatalf("encoded hash %q is not argon2id with m=64MiB, t=3, p=4", a)
	}
	if a == b {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}
	h, err := decodePHC(a)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.salt) != saltLen || len(h.key) != keyLen || h.HashParams != DefaultHash {
		t.Fatalf("decoded %+v", h)
	}
	if !h.matches("correct horse battery") {
		t.Fatal("the password does not match its own hash")
	}
	for _, wrong := range []string{"correct horse batterY", "correct horse battery ", ""} {
		if h.matches(wrong) {
			t.Errorf("%q matches the hash of another password", wrong)
		}
	}
}

func TestDecodePHCRefuses(t *testing.T) {
	good, _ := cheap.encode("correct horse battery")
	parts := strings.Split(good, "$")
	for _, bad := range []string{
		"",
		"plaintext password",
		"$argon2i$v=19$m=1024,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=16$m=1024,t=1,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4294967295,t=1,p=1$" + parts[4] + "$" + parts[5], // 4 TiB
		"$argon2id$v=19$m=1024,t=1000000,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=1024,t=1,p=0$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=1024,t=1,p=1$!!$" + parts[5],
		"$argon2id$v=19$m=1024,t=1,p=1$" + parts[4] + "$",
	} {
		if _, err := decodePHC(bad); err == nil {
			t.Errorf("decodePHC(%q) accepted it", bad)
		}
	}
	if _, err := decodePHC(good); err != nil {
		t.Errorf("decodePHC(%q): %v", good, err)
	}
}

// A stored hash is read back by a parser that must never panic nor accept
// costs that would exhaust memory.
func FuzzDecodePHC(f *testing.F) {
	good, _ := cheap.encode("correct horse battery")
	f.Add(good)
	f.Add("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA")
	f.Add("$argon2id$v=19$m=1,t=1,p=1$$")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decodePHC(s)
		if err != nil {
			return
		}
		if h.Memory > maxMemory || h.Time > maxTime || h.Threads == 0 || len(h.key) < 16 || len(h.salt) < 8 {
			t.Fatalf("decodePHC(%q) accepted %+v", s, h.HashParams)
		}
	})
}

func TestAuthenticate(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)}
	u, _, _ := openUsers(t, UserOptions{Now: clk.Now})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Add(ctx, "bob", Viewer, "bob's long password", "cli"); err != nil {
		t.Fatal(err)
	}
	if err := u.SetDisabled(ctx, "bob", true, "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.External(ctx, "https://idp.example", "sub-1", "carol", Responder); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, name, password string
		ok                   bool
	}{
		{"right password", "alice", "correct horse battery", true},
		{"name in another case", "ALICE", "correct horse battery", true},
		{"wrong password", "alice", "correct horse batterx", false},
		{"empty password", "alice", "", false},
		{"unknown user", "mallory", "correct horse battery", false},
		{"disabled user with the right password", "bob", "bob's long password", false},
		{"OpenID user has no password here", "carol", "", false},
		{"too long password", "alice", strings.Repeat("a", 100000), false},
	} {
		clk.Add(time.Minute)
		x, err := u.Authenticate(ctx, c.name, c.password)
		if c.ok {
			if err != nil || x.Name != "alice" || x.Role != Analyst || x.LastLogin == nil || !x.LastLogin.Equal(clk.Now()) {
				t.Errorf("%s: Authenticate = %+v, %v", c.what, x, err)
			}
			got, _ := u.Get(ctx, "alice")
			if got.LastLogin == nil || !got.LastLogin.Equal(clk.Now()) {
				t.Errorf("%s: last_login stored as %v, want %v", c.what, got.LastLogin, clk.Now())
			}
			continue
		}
		if !errors.Is(err, ErrBadCredentials) || err.Error() != ErrBadCredentials.Error() {
			t.Errorf("%s: Authenticate = %+v, %v; want exactly ErrBadCredentials", c.what, x, err)
		}
	}
}

// A hash made with other costs is replaced by one with today's at the next
// sign-in, and the password keeps working.
func TestAuthenticateUpgradesHash(t *testing.T) {
	u, _, db := openUsers(t, UserOptions{})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	stronger := NewUsers(db, UserOptions{Hash: HashParams{Memory: 2048, Time: 2, Threads: 1}})
	if _, err := stronger.Authenticate(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	var enc string
	if err := db.R.QueryRow(`SELECT password FROM users WHERE name = 'alice'`).Scan(&enc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=2048,t=2,p=1$") {
		t.Fatalf("hash after sign-in is %q, want the new costs", enc)
	}
	if _, err := stronger.Authenticate(ctx, "alice", "correct horse battery"); err != nil {
		t.Fatalf("the upgraded hash does not verify: %v", err)
	}
}

// An unknown name costs an argon2 computation like a wrong password does,
// so timing does not tell which names exist.
func TestUnknownUserTakesAsLong(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{Hash: DefaultHash})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	u.dummyHash() // made once, on first use: not part of what is measured
	median := func(name string) time.Duration {
		var ds []time.Duration
		for range 5 {
			start := time.Now()
			if _, err := u.Authenticate(ctx, name, "wrong password here"); !errors.Is(err, ErrBadCredentials) {
				t.Fatalf("Authenticate(%s) = %v", name, err)
			}
			ds = append(ds, time.Since(start))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	known, unknown := median("alice"), median("mallory")
	t.Logf("wrong password %v, unknown user %v", known, unknown)
	if unknown < known/3 {
		t.Fatalf("an unknown user is refused in %v, a wrong password in %v: the difference tells names apart", unknown, known)
	}
}

// When every hashing slot is taken, a sign-in waits for one (and gives up
// with its context) instead of allocating another 64 MiB.
func TestHashingIsBounded(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{MaxHashing: 1})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	u.sem <- struct{}{} // someone else is hashing
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := u.Authenticate(short, "alice", "correct horse battery"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Authenticate with every slot busy = %v, want it to wait until its deadline", err)
	}
	done := make(chan error, 1)
	go func() { _, err := u.Authenticate(ctx, "alice", "correct horse battery"); done <- err }()
	select {
	case err := <-done:
		t.Fatalf("Authenticate finished (%v) while every slot was busy", err)
	case <-time.After(50 * time.Millisecond):
	}
	<-u.sem
	if err := <-done; err != nil {
		t.Fatalf("Authenticate after the slot freed: %v", err)
	}
}

func TestAddRefuses(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, name string
		role       Role
		password   string
		want       error
		says       string
	}{
		{"same name", "alice", Viewer, "another long password", ErrUserExists, "exists"},
		{"same name in another case", "Alice", Viewer, "another long password", ErrUserExists, "exists"},
		{"short password", "dave", Viewer, "short", ErrWeakPassword, "at least 12"},
		{"password is the name", "dave.longname", Viewer, "dave.longname", ErrWeakPassword, "name"},
		{"ingest role", "dave", Ingest, "another long password", nil, "log shippers"},
		{"unknown role", "dave", Role("root"), "another long password", nil, "unknown role"},
		{"bad name", "dave smith", Viewer, "another long password", nil, "user name"},
	} {
		_, err := u.Add(ctx, c.name, c.role, c.password, "cli")
		if err == nil || (c.want != nil && !errors.Is(err, c.want)) || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: Add = %v, want an error saying %q", c.what, err, c.says)
		}
	}
	us, _ := u.List(ctx)
	if len(us) != 1 {
		t.Fatalf("List after refusals = %+v, want alice alone", us)
	}
}

func TestChangesToUnknownUser(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	for name, err := range map[string]error{
		"SetPassword": u.SetPassword(ctx, "ghost", "correct horse battery", "cli"),
		"SetDisabled": u.SetDisabled(ctx, "ghost", true, "cli"),
		"SetRole":     u.SetRole(ctx, "ghost", Admin, "cli"),
	} {
		if !errors.Is(err, ErrUnknownUser) {
			t.Errorf("%s(ghost) = %v, want ErrUnknownUser", name, err)
		}
	}
	if _, err := u.Get(ctx, "ghost"); !errors.Is(err, ErrUnknownUser) {
		t.Errorf("Get(ghost) = %v", err)
	}
}

func TestPasswordChange(t *testing.T) {
	u, _, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	if _, err := u.Add(ctx, "alice", Analyst, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	if err := u.SetPassword(ctx, "alice", "short", "cli"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("SetPassword with a short password = %v", err)
	}
	if err := u.SetPassword(ctx, "alice", "a new long password", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.Authenticate(ctx, "alice", "correct horse battery"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("the old password still works: %v", err)
	}
	if _, err := u.Authenticate(ctx, "alice", "a new long password"); err != nil {
		t.Errorf("the new password does not work: %v", err)
	}
	if _, err := u.External(ctx, "https://idp.example", "s1", "carol", Viewer); err != nil {
		t.Fatal(err)
	}
	if err := u.SetPassword(ctx, "carol", "a new long password", "cli"); !errors.Is(err, ErrNotLocal) {
		t.Errorf("SetPassword on an OpenID user = %v, want ErrNotLocal", err)
	}
}

func TestExternal(t *testing.T) {
	u, log, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	const iss = "https://idp.example/realms/soc"
	x, err := u.External(ctx, iss, "248289761001", "carol", Analyst)
	if err != nil {
		t.Fatal(err)
	}
	if x.Source != "oidc:"+iss || x.Role != Analyst || x.Name != "carol" || x.LastLogin == nil {
		t.Fatalf("first sign-in made %+v", x)
	}
	// The provider now says responder, and a new preferred name.
	y, err := u.External(ctx, iss, "248289761001", "carol.smith", Responder)
	if err != nil {
		t.Fatal(err)
	}
	if y.ID != x.ID || y.Role != Responder || y.Name != "carol.smith" {
		t.Fatalf("second sign-in gave %+v, want the same user renamed with role responder", y)
	}
	if us, _ := u.List(ctx); len(us) != 1 {
		t.Fatalf("users = %+v, want one", us)
	}
	if _, err := u.Add(ctx, "alice", Admin, "correct horse battery", "cli"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what, issuer, subject, name string
		role                        Role
		want                        error
	}{
		{"another subject claims a local user's name", iss, "other", "alice", Viewer, ErrUserExists},
		{"another issuer claims the name", "https://evil.example", "248289761001", "carol.smith", Viewer, ErrUserExists},
		{"a rename onto a local user", iss, "248289761001", "ALICE", Viewer, ErrUserExists},
	} {
		if _, err := u.External(ctx, c.issuer, c.subject, c.name, c.role); !errors.Is(err, c.want) {
			t.Errorf("%s: External = %v, want %v", c.what, err, c.want)
		}
	}
	for _, r := range []Role{Ingest, ""} {
		if _, err := u.External(ctx, iss, "248289761001", "carol.smith", r); err == nil {
			t.Errorf("External with role %q was accepted", r)
		}
	}
	if err := u.SetDisabled(ctx, "carol.smith", true, "user:alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := u.External(ctx, iss, "248289761001", "carol.smith", Responder); !errors.Is(err, ErrDisabled) {
		t.Errorf("a disabled OpenID user signed in: %v", err)
	}
	es, _ := log.List(ctx, 0, 100)
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target)
	}
	want := []string{
		"oidc:" + iss + " user.create user:carol",
		"oidc:" + iss + " user.rename user:carol.smith",
		"oidc:" + iss + " user.role user:carol.smith",
		"cli user.create user:alice",
		"user:alice user.disable user:carol.smith",
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// Every change to a user is in the audit log with the person (or "cli")
// who made it, and no entry holds a password or its hash.
func TestUserChangesAudited(t *testing.T) {
	u, log, _ := openUsers(t, UserOptions{})
	ctx := context.Background()
	admin, err := u.Add(ctx, "admin", Admin, "admin's long password", "cli")
	if err != nil {
		t.Fatal(err)
	}
	by := admin.Actor()
	steps := []func() error{
		func() error { _, err := u.Add(ctx, "alice", Viewer, "correct horse battery", by); return err },
		func() error { return u.SetRole(ctx, "alice", Responder, by) },
		func() error { return u.SetRole(ctx, "alice", Responder, by) }, // no change: not audited
		func() error { return u.SetPassword(ctx, "alice", "another long password", by) },
		func() error { return u.SetDisabled(ctx, "alice", true, by) },
		func() error { return u.SetDisabled(ctx, "alice", true, by) }, // no change
		func() error { return u.SetDisabled(ctx, "alice", false, by) },
	}
	for i, s := range steps {
		if err := s(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	es, err := log.List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Actor+" "+e.Action+" "+e.Target+" "+string(e.Detail))
		for _, secret := range []string{"password\":\"", "argon2", "correct horse", "another long"} {
			if strings.Contains(string(e.Detail), secret) {
				t.Errorf("audit entry %d holds %q: %s", e.Seq, secret, e.Detail)
			}
		}
	}
	want := []string{
		`cli user.create user:admin {"name":"admin","role":"admin","source":"local"}`,
		`user:admin user.create user:alice {"name":"alice","role":"viewer","source":"local"}`,
		`user:admin user.role user:alice {"from":"viewer","name":"alice","to":"responder"}`,
		`user:admin user.password user:alice {"name":"alice","sessions_ended":0}`,
		`user:admin user.disable user:alice {"name":"alice","sessions_ended":0}`,
		`user:admin user.enable user:alice {"name":"alice"}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n, brk, err := log.Verify(ctx); err != nil || brk != nil || n != int64(len(want)) {
		t.Errorf("audit chain: %d entries, %v, %v", n, brk, err)
	}
	us, _ := u.List(ctx)
	names := []string{}
	for _, x := range us {
		names = append(names, x.Name)
	}
	if !sort.StringsAreSorted(names) || len(names) != 2 {
		t.Errorf("List names = %v", names)
	}
}
