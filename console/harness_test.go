package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alarm"
	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// rig is a console on a real control database, with people of every role
// (password "correct horse battery", cheap hashing so tests stay quick).
type rig struct {
	t     testing.TB
	db    *store.DB
	users *auth.Users
	alarm *alarm.Service
	con   *Console
	srv   *httptest.Server
}

const testPassword = "correct horse battery"

func newRig(t testing.TB, tweak func(*Deps)) *rig {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "riposte.db"), "normal", store.Control)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	users := auth.NewUsers(db, auth.UserOptions{Hash: auth.HashParams{Memory: 1024, Time: 1, Threads: 1}})
	for _, r := range []auth.Role{auth.Viewer, auth.Analyst, auth.Responder, auth.Admin} {
		if _, err := users.Add(context.Background(), string(r)+"1", r, testPassword, "test"); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := alarm.NewService(context.Background(), alarm.DefaultConfig(), db, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	d := Deps{Users: users, Alarm: svc, Log: log, Version: "test"}
	if tweak != nil {
		tweak(&d)
	}
	con, err := New(d)
	if err != nil {
		t.Fatal(err)
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "api", http.StatusTeapot) })
	srv := httptest.NewServer(con.Handler(api))
	t.Cleanup(srv.Close)
	return &rig{t: t, db: db, users: users, alarm: svc, con: con, srv: srv}
}

// client is a browser-like client: a cookie jar, no automatic redirects
// (tests look at them).
type client struct {
	t    testing.TB
	base string
	hc   *http.Client
	csrf string
}

func (r *rig) anon() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: r.t, base: r.srv.URL, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// as signs in the user of that role and reads the CSRF token from a page.
func (r *rig) as(role auth.Role) *client {
	c := r.anon()
	res := c.postForm("/login", url.Values{"name": {string(role) + "1"}, "password": {testPassword}, "next": {"/"}})
	if res.StatusCode != http.StatusSeeOther {
		r.t.Fatalf("sign in as %s: %s", role, res.Status)
	}
	_, body := c.get("/")
	m := regexp.MustCompile(`name="csrf-token" content="([^"]+)"`).FindStringSubmatch(body)
	if m == nil {
		r.t.Fatalf("no CSRF token on the queue page")
	}
	c.csrf = m[1]
	return c
}

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	res, err := c.hc.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

func (c *client) postForm(path string, v url.Values) *http.Response {
	c.t.Helper()
	res, err := c.hc.PostForm(c.base+path, v)
	if err != nil {
		c.t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

// post sends a form with the session's CSRF token.
func (c *client) post(path string, v url.Values) *http.Response {
	if v == nil {
		v = url.Values{}
	}
	v.Set("csrf", c.csrf)
	return c.postForm(path, v)
}

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// raise makes an incident from one alert and returns its id.
func (r *rig) raise(rule, level, host, ip string, at time.Time) string {
	r.t.Helper()
	a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma, Rule: alert.Rule{ID: rule, Title: "rule " + rule, Level: level},
		Time: at, Detected: at, FirstEventTime: at.Add(-time.Second), EventIDs: []string{event.NewID(at)}}
	if host != "" {
		a.Entities.Hosts = []string{host}
	}
	if ip != "" {
		a.Entities.SourceIPs = []string{ip}
	}
	if err := r.alarm.ApplyBatch(context.Background(), []alert.Alert{a}, at); err != nil {
		r.t.Fatal(err)
	}
	incs, err := r.alarm.Store().List(context.Background(), alarm.Filter{Text: host, Limit: 1000})
	if err != nil || len(incs) == 0 {
		r.t.Fatalf("no incident for %s: %v", host, err)
	}
	return incs[len(incs)-1].ID
}

func contains(t testing.TB, body string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(body, w) {
			t.Errorf("page does not contain %q", w)
		}
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func openFilter() alarm.Filter {
	return alarm.Filter{Statuses: []alarm.Status{alarm.StatusNew, alarm.StatusTriaged, alarm.StatusContained, alarm.StatusEradicated, alarm.StatusRecovered}}
}
