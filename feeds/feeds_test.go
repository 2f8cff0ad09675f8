package feeds

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// The feed store's and handler's tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestTokensAreHashedAndAudited, TestFormats, TestTokenPlaces, TestChangeCounterAndNotModified,
		TestOnlyDenialsForEveryHostInForce, TestTruncatedKeepsNewest, TestPollsAreRecorded)
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type rig struct {
	t   *testing.T
	db  *store.DB
	st  *Store
	svc *Service
	dec *decision.Store
	now time.Time
	url string
	tok string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	db := storetest.Control(t)
	r := &rig{t: t, db: db, st: NewStore(db), dec: decision.New(db, decision.DefaultSchedule), now: t0}
	r.svc = &Service{Store: r.st, Decisions: r.dec, Now: func() time.Time { return r.now }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /feeds/{format}", r.svc.Serve)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	tok, _, err := r.st.Add(context.Background(), "pa-edge", "test")
	if err != nil {
		t.Fatal(err)
	}
	r.tok = tok
	return r
}

func (r *rig) deny(target, host, reason string, ttl time.Duration) decision.Decision {
	r.t.Helper()
	d, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.DenyIP, Target: target, Host: host,
		Owner: "test", Reason: reason, Incident: "inc-1"}, ttl, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *rig) do(path string, set func(*http.Request)) (*http.Response, string) {
	r.t.Helper()
	req, _ := http.NewRequest("GET", r.url+path, nil)
	if set != nil {
		set(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func (r *rig) bearer(req *http.Request) { req.Header.Set("Authorization", "Bearer "+r.tok) }

func TestTokensAreHashedAndAudited(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if !strings.HasPrefix(r.tok, "rpf_") || len(r.tok) < 30 {
		t.Fatalf("token %q", r.tok)
	}
	var n int
	if err := r.db.R.QueryRowContext(ctx, `SELECT count(*) FROM feeds WHERE hash = ?`, []byte(r.tok)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token stored in clear: %d %v", n, err)
	}
	if _, _, err := r.st.Add(ctx, "pa-edge", "test"); err == nil {
		t.Fatal("a second feed of one name was made")
	}
	for _, bad := range []string{"", "a/b", "a:b", "x\ny"} {
		if _, _, err := r.st.Add(ctx, bad, "test"); err == nil {
			t.Errorf("feed name %q accepted", bad)
		}
	}
	if err := r.st.Delete(ctx, "pa-edge", "alice"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := r.do("/feeds/panos", r.bearer); resp.StatusCode != 401 {
		t.Fatalf("deleted feed's token answered %d", resp.StatusCode)
	}
	if err := r.st.Delete(ctx, "pa-edge", "alice"); err == nil {
		t.Fatal("deleting twice succeeded")
	}
	es, err := audit.New(r.db).List(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "feed.") {
			actions = append(actions, e.Actor+" "+e.Action)
			if strings.Contains(string(e.Detail), r.tok) {
				t.Fatal("token in the audit log")
			}
		}
	}
	if strings.Join(actions, ",") != "test feed.add,alice feed.delete" {
		t.Fatalf("audit: %v", actions)
	}
}

func TestFormats(t *testing.T) {
	r := newRig(t)
	d1 := r.deny("203.0.113.7", "", "ssh brute force\nfrom 203.0.113.7", time.Hour)
	d2 := r.deny("198.51.100.0/24", "", "scan, \"loud\"", 0)
	d3 := r.deny("2001:db8::1", "", "v6", time.Hour)
	cases := []struct {
		path, ctype string
		want        string
	}{
		{"/feeds/panos", "text/plain", "198.51.100.0/24\n203.0.113.7\n2001:db8::1\n"},
		{"/feeds/panos?comments=true", "text/plain", "198.51.100.0/24 #" + d2.ID + " scan, \"loud\"\n203.0.113.7 #" + d1.ID +
			" ssh brute force from 203.0.113.7\n2001:db8::1 #" + d3.ID + " v6\n"},
		{"/feeds/fortigate", "text/plain", "198.51.100.0/24\n203.0.113.7\n2001:db8::1\n"},
		{"/feeds/checkpoint", "text/csv", "# UNIQ-NAME,VALUE,TYPE,CONFIDENCE,SEVERITY,PRODUCT,COMMENT\n" +
			"riposte-" + d2.ID + ",198.51.100.0-198.51.100.255,IP Range,high,high,AB,\"scan, \"\"loud\"\"\"\n" +
			"riposte-" + d1.ID + ",203.0.113.7,IP,high,high,AB,ssh brute force from 203.0.113.7\n"},
	}
	for _, c := range cases {
		resp, body := r.do(c.path, r.bearer)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), c.ctype) || body != c.want {
			t.Errorf("%s: %d %s\n%s\nwant\n%s", c.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.want)
		}
	}
	resp, body := r.do("/feeds/json", r.bearer)
	var f Feed
	if err := json.Unmarshal([]byte(body), &f); err != nil || resp.StatusCode != 200 {
		t.Fatalf("json: %d %v %s", resp.StatusCode, err, body)
	}
	if f.Serial != 1 || len(f.Entries) != 3 {
		t.Fatalf("json feed %+v", f)
	}
	e := f.Entries[1]
	if e.Value != "203.0.113.7" || e.Type != "ip" || e.Decision != d1.ID || e.Incident != "inc-1" || e.Expires == nil || !e.Expires.Equal(t0.Add(time.Hour)) {
		t.Fatalf("json entry %+v", e)
	}
	if f.Entries[0].Type != "cidr" || f.Entries[0].Decision != d2.ID {
		t.Fatalf("network entry: %+v", f.Entries[0])
	}
	if !strings.Contains(body, `"expires":"2026-11-26T13:00:00Z"`) {
		t.Fatalf("times not RFC 3339: %s", body)
	}
	if resp, _ := r.do("/feeds/stix", r.bearer); resp.StatusCode != 404 {
		t.Fatalf("unknown format: %d", resp.StatusCode)
	}
	if resp, _ := r.do("/feeds/panos?comments=maybe", r.bearer); resp.StatusCode != 400 {
		t.Fatalf("bad comments: %d", resp.StatusCode)
	}
}

func TestTokenPlaces(t *testing.T) {
	r := newRig(t)
	r.deny("203.0.113.7", "", "x", time.Hour)
	cases := []struct {
		name string
		set  func(*http.Request)
		path string
		want int
	}{
		{"bearer", r.bearer, "/feeds/fortigate", 200},
		{"basic password (PAN-OS, FortiGate, Check Point)", func(q *http.Request) { q.SetBasicAuth("pa-edge", r.tok) }, "/feeds/fortigate", 200},
		{"basic user name only", func(q *http.Request) { q.SetBasicAuth(r.tok, "") }, "/feeds/fortigate", 200},
		{"query", nil, "/feeds/fortigate?token=" + url.QueryEscape(r.tok), 200},
		{"none", nil, "/feeds/fortigate", 401},
		{"wrong bearer", func(q *http.Request) { q.Header.Set("Authorization", "Bearer rpf_nope") }, "/feeds/fortigate", 401},
		{"wrong basic", func(q *http.Request) { q.SetBasicAuth("pa-edge", "guess") }, "/feeds/fortigate", 401},
		{"wrong query", nil, "/feeds/fortigate?token=rpf_nope", 401},
		{"other scheme", func(q *http.Request) { q.Header.Set("Authorization", "Digest x") }, "/feeds/fortigate?token=" + r.tok, 401},
	}
	for _, c := range cases {
		resp, body := r.do(c.path, c.set)
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if c.want == 401 {
			if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") || strings.Contains(body, "203.0.113.7") {
				t.Errorf("%s: refusal %q %q", c.name, resp.Header.Get("WWW-Authenticate"), body)
			}
		} else if body != "203.0.113.7\n" {
			t.Errorf("%s: body %q", c.name, body)
		}
	}
}

func TestChangeCounterAndNotModified(t *testing.T) {
	r := newRig(t)
	d := r.deny("203.0.113.7", "", "x", time.Hour)
	resp, _ := r.do("/feeds/panos", r.bearer)
	etag, serial := resp.Header.Get("ETag"), resp.Header.Get("X-Riposte-Serial")
	if etag == "" || serial != "1" {
		t.Fatalf("etag %q serial %q", etag, serial)
	}
	cond := func(q *http.Request) { r.bearer(q); q.Header.Set("If-None-Match", etag) }
	r.now = r.now.Add(time.Minute)
	resp, body := r.do("/feeds/panos", cond)
	if resp.StatusCode != 304 || body != "" || resp.Header.Get("ETag") != etag {
		t.Fatalf("unchanged feed: %d %q %q", resp.StatusCode, body, resp.Header.Get("ETag"))
	}
	// Another format has another ETag: a firewall switching format gets
	// the whole list.
	if resp, _ := r.do("/feeds/fortigate", cond); resp.StatusCode != 200 {
		t.Fatalf("other format answered %d to the panos ETag", resp.StatusCode)
	}
	lm := resp.Header.Get("Last-Modified")
	ims := func(q *http.Request) { r.bearer(q); q.Header.Set("If-Modified-Since", lm) }
	if resp, _ := r.do("/feeds/panos", ims); resp.StatusCode != 304 {
		t.Fatalf("If-Modified-Since unchanged: %d", resp.StatusCode)
	}

	steps := []struct {
		name   string
		change func()
		serial string
		body   string
	}{
		{"a new block", func() { r.deny("192.0.2.9", "", "y", time.Hour) }, "2", "192.0.2.9\n203.0.113.7\n"},
		{"nothing", func() {}, "2", "192.0.2.9\n203.0.113.7\n"},
		{"a revert", func() {
			if _, err := r.dec.Revert(context.Background(), d.ID, "test", "ok", r.now); err != nil {
				t.Fatal(err)
			}
		}, "3", "192.0.2.9\n"},
		{"an expiry (no event, seen at the poll)", func() { r.now = r.now.Add(2 * time.Hour) }, "4", ""},
	}
	for _, s := range steps {
		s.change()
		resp, body := r.do("/feeds/panos", cond)
		if s.serial == "2" && s.name == "nothing" {
			etag2 := resp.Header.Get("ETag")
			resp, _ = r.do("/feeds/panos", func(q *http.Request) { r.bearer(q); q.Header.Set("If-None-Match", etag2) })
			if resp.StatusCode != 304 {
				t.Errorf("%s: %d to the current ETag", s.name, resp.StatusCode)
			}
			continue
		}
		if resp.StatusCode != 200 || resp.Header.Get("X-Riposte-Serial") != s.serial || body != s.body {
			t.Errorf("after %s: %d serial %s body %q, want serial %s %q", s.name, resp.StatusCode, resp.Header.Get("X-Riposte-Serial"), body, s.serial, s.body)
		}
		if resp.Header.Get("ETag") == etag {
			t.Errorf("after %s: ETag unchanged", s.name)
		}
	}
}

func TestOnlyDenialsForEveryHostInForce(t *testing.T) {
	r := newRig(t)
	r.deny("203.0.113.7", "web-1", "one host only", time.Hour)
	r.deny("203.0.113.8", "", "short", time.Minute)
	r.deny("203.0.113.8", "", "long", 3*time.Hour)
	if _, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.ContainHost, Target: "web-2", Owner: "t", Reason: "x"}, time.Hour, r.now); err != nil {
		t.Fatal(err)
	}
	_, body := r.do("/feeds/json", r.bearer)
	var f Feed
	if err := json.Unmarshal([]byte(body), &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Entries) != 1 || f.Entries[0].Value != "203.0.113.8" || f.Entries[0].Reason != "long" {
		t.Fatalf("entries %+v", f.Entries)
	}
}

func TestTruncatedKeepsNewest(t *testing.T) {
	r := newRig(t)
	r.svc.Max = 2
	for i, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		r.now = t0.Add(time.Duration(i) * time.Minute)
		r.deny(ip, "", "x", 24*time.Hour)
	}
	resp, body := r.do("/feeds/fortigate", r.bearer)
	if body != "192.0.2.2\n192.0.2.3\n" || resp.Header.Get("X-Riposte-Truncated") != "1" {
		t.Fatalf("truncated feed %q %q", body, resp.Header.Get("X-Riposte-Truncated"))
	}
}

func TestPollsAreRecorded(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, _, err := r.st.Add(ctx, "fgt-1", "test"); err != nil {
		t.Fatal(err)
	}
	r.deny("203.0.113.7", "", "x", time.Hour)
	r.do("/feeds/checkpoint", func(q *http.Request) { r.bearer(q); q.Header.Set("User-Agent", "PAN-OS EDL") })
	cs, err := r.st.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := r.st.Current(ctx)
	if err != nil || cur != 1 {
		t.Fatalf("current %d %v", cur, err)
	}
	if len(cs) != 2 || cs[0].Name != "fgt-1" || cs[0].LastPoll != nil || cs[1].LastPoll == nil || !cs[1].LastPoll.Equal(t0) ||
		cs[1].LastFormat != "checkpoint" || cs[1].UserAgent != "PAN-OS EDL" || cs[1].LastSerial != 1 || cs[1].LastAddr != "127.0.0.1" {
		t.Fatalf("consumers %+v", cs)
	}
}

func TestOneLine(t *testing.T) {
	cases := map[string]string{"a\nb": "a b", "a\r\n\tb  c": "a b c", "x\u2028y": "x y", strings.Repeat("é", 150): strings.Repeat("é", 100)}
	for in, want := range cases {
		if got := oneLine(in, 200); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzOneLine(f *testing.F) {
	f.Add("ssh\nbrute")
	f.Fuzz(func(t *testing.T, s string) {
		got := oneLine(s, 50)
		if len(got) > 50 || strings.ContainsAny(got, "\n\r\x00") {
			t.Fatalf("oneLine(%q) = %q", s, got)
		}
	})
}
