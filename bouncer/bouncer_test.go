package bouncer

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// The bouncer store's and handlers' tests hold on SQLite and on PostgreSQL.
func TestConformance(t *testing.T) {
	storetest.Suite(t, TestKeysAreHashedAndAudited, TestStreamStartupAndDeltas, TestRefusedWithoutAValidKey,
		TestFilters, TestLiveQuery, TestPullLogIsBoundedAndNamesBouncers, TestLongDecisionsAreSentAgain)
}

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

type rig struct {
	t    *testing.T
	db   *store.DB
	st   *Store
	dec  *decision.Store
	now  time.Time
	url  string
	keys map[string]string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	db := storetest.Control(t)
	r := &rig{t: t, db: db, st: NewStore(db), dec: decision.New(db, decision.DefaultSchedule), now: t0, keys: map[string]string{}}
	svc := &Service{Store: r.st, Decisions: r.dec, Now: func() time.Time { return r.now }}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/decisions/stream", svc.Stream)
	mux.HandleFunc("GET /v1/decisions", svc.Query)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

func (r *rig) bouncer(name string) string {
	r.t.Helper()
	key, _, err := r.st.Add(context.Background(), name, "test")
	if err != nil {
		r.t.Fatal(err)
	}
	r.keys[name] = key
	return key
}

func (r *rig) deny(target, host, reason string, ttl time.Duration) decision.Decision {
	r.t.Helper()
	d, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.DenyIP, Target: target, Host: host,
		Owner: "test", Reason: reason}, ttl, r.now)
	if err != nil {
		r.t.Fatal(err)
	}
	return d
}

func (r *rig) get(method, path, key string) (int, []byte) {
	r.t.Helper()
	req, _ := http.NewRequest(method, r.url+path, nil)
	if key != "" {
		req.Header.Set("X-Api-Key", key)
	}
	req.Header.Set("User-Agent", "crowdsec-firewall-bouncer/v0.0.25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type stream struct{ New, Deleted []Decision }

func (r *rig) pull(key, query string) stream {
	r.t.Helper()
	code, b := r.get("GET", "/v1/decisions/stream"+query, key)
	if code != 200 {
		r.t.Fatalf("stream%s: %d %s", query, code, b)
	}
	var s stream
	if err := json.Unmarshal(b, &s); err != nil || !strings.Contains(string(b), `"new":[`) || !strings.Contains(string(b), `"deleted":[`) {
		r.t.Fatalf("stream answer %s: %v", b, err)
	}
	return s
}

func values(ds []Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Scope+":"+d.Value)
	}
	slices.Sort(out)
	return out
}

func TestKeysAreHashedAndAudited(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	key := r.bouncer("edge-nft")
	if !strings.HasPrefix(key, "rpb_") || len(key) < 30 {
		t.Fatalf("key %q", key)
	}
	b, err := r.st.Authenticate(ctx, key)
	if err != nil || b.Name != "edge-nft" {
		t.Fatalf("authenticate: %+v %v", b, err)
	}
	var n int
	if err := r.db.R.QueryRowContext(ctx, `SELECT count(*) FROM bouncers WHERE hash = ?`, []byte(key)).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the key is stored in clear: %d %v", n, err)
	}
	if _, _, err := r.st.Add(ctx, "edge-nft", "test"); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Fatalf("a second bouncer of one name: %v", err)
	}
	for _, bad := range []string{"", "  ", "a/b", "x\ny"} {
		if _, _, err := r.st.Add(ctx, bad, "test"); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	if err := r.st.Delete(ctx, "edge-nft", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.st.Authenticate(ctx, key); err != ErrUnknownKey {
		t.Fatalf("deleted bouncer's key: %v", err)
	}
	if err := r.st.Delete(ctx, "edge-nft", "cli"); err == nil || !strings.Contains(err.Error(), "no such bouncer") {
		t.Fatalf("delete twice: %v", err)
	}
	es, err := audit.New(r.db).List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Actor+" "+e.Action+" "+string(e.Detail))
	}
	want := []string{`test bouncer.add {"name":"edge-nft"}`, `cli bouncer.delete {"name":"edge-nft"}`}
	if !slices.Equal(acts, want) {
		t.Fatalf("audit: %q, want %q", acts, want)
	}
}

func TestStreamStartupAndDeltas(t *testing.T) {
	r := newRig(t)
	key := r.bouncer("edge-nft")
	a := r.deny("203.0.113.7", "", "ssh brute force", time.Hour)
	r.deny("198.51.100.0/24", "", "scanner network", 2*time.Hour)
	r.deny("192.0.2.9", "web-01", "only on one host", time.Hour) // a host's own: not a bouncer's
	if _, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.ContainHost, Target: "db-01", Owner: "t", Reason: "isolate"}, time.Hour, r.now); err != nil {
		t.Fatal(err)
	}

	s := r.pull(key, "?startup=true")
	if got := values(s.New); !slices.Equal(got, []string{"Ip:203.0.113.7", "Range:198.51.100.0/24"}) || len(s.Deleted) != 0 {
		t.Fatalf("startup: %+v", s)
	}
	for _, d := range s.New {
		if d.Type != "ban" || d.Origin != "riposte" || d.ID == 0 || d.UUID == "" {
			t.Errorf("decision %+v", d)
		}
		if d.Value == "203.0.113.7" && (d.Duration != "1h0m0s" || d.UUID != a.ID || d.Scenario != "ssh brute force" || d.ID != a.Rule) {
			t.Errorf("the ssh ban: %+v", d)
		}
	}
	if s := r.pull(key, ""); len(s.New)+len(s.Deleted) != 0 {
		t.Fatalf("nothing changed, but: %+v", s)
	}

	// A new decision, then its revert, then an expiry: each pull says
	// exactly that.
	r.now = r.now.Add(10 * time.Minute)
	c := r.deny("2001:db8::5", "", "web exploit", 30*time.Minute)
	s = r.pull(key, "")
	if got := values(s.New); !slices.Equal(got, []string{"Ip:2001:db8::5"}) || len(s.Deleted) != 0 || s.New[0].Duration != "30m0s" {
		t.Fatalf("after add: %+v", s)
	}
	if _, err := r.dec.Revert(context.Background(), a.ID, "analyst", "false positive", r.now); err != nil {
		t.Fatal(err)
	}
	s = r.pull(key, "")
	if got := values(s.Deleted); !slices.Equal(got, []string{"Ip:203.0.113.7"}) || len(s.New) != 0 || s.Deleted[0].UUID != a.ID {
		t.Fatalf("after revert: %+v", s)
	}
	r.now = r.now.Add(31 * time.Minute)
	s = r.pull(key, "")
	if got := values(s.Deleted); !slices.Equal(got, []string{"Ip:2001:db8::5"}) || len(s.New) != 0 || s.Deleted[0].UUID != c.ID {
		t.Fatalf("after expiry: %+v", s)
	}

	// A longer ban of the same address by another incident replaces what
	// the bouncer holds; one decision per value.
	d1 := r.deny("203.0.113.50", "", "first", time.Hour)
	d2, err := r.dec.Add(context.Background(), decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.50", Owner: "t", Reason: "second", Incident: "INC-2"}, 5*time.Hour, r.now)
	if err != nil {
		t.Fatal(err)
	}
	s = r.pull(key, "")
	if len(s.New) != 1 || s.New[0].UUID != d2.ID || s.New[0].Scenario != "second (incident INC-2)" || len(s.Deleted) != 0 {
		t.Fatalf("two bans of one address: %+v", s)
	}
	// Reverting the longer one hands the address back to the shorter.
	if _, err := r.dec.Revert(context.Background(), d2.ID, "t", "done", r.now); err != nil {
		t.Fatal(err)
	}
	s = r.pull(key, "")
	if len(s.New) != 1 || s.New[0].UUID != d1.ID || len(s.Deleted) != 0 {
		t.Fatalf("after reverting the longer ban: %+v", s)
	}

	// A restarted bouncer asks with startup=true and gets the whole set.
	s = r.pull(key, "?startup=true")
	if got := values(s.New); !slices.Equal(got, []string{"Ip:203.0.113.50", "Range:198.51.100.0/24"}) || len(s.Deleted) != 0 {
		t.Fatalf("second startup: %+v", s)
	}

	// Two bouncers are told apart: the second one has pulled nothing.
	other := r.bouncer("edge-haproxy")
	if s := r.pull(other, ""); len(s.New) != 2 {
		t.Fatalf("a new bouncer's first delta: %+v", s)
	}
	bs, err := r.st.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[1].Name != "edge-nft" || bs[1].LastPull == nil || !bs[1].LastPull.Equal(r.now) ||
		bs[1].UserAgent != "crowdsec-firewall-bouncer/v0.0.25" || bs[1].LastAddr != "127.0.0.1" || len(bs[1].Holds) != 2 {
		t.Fatalf("list: %+v", bs)
	}
}

func TestRefusedWithoutAValidKey(t *testing.T) {
	r := newRig(t)
	key := r.bouncer("edge-nft")
	r.deny("203.0.113.7", "", "ssh brute force", time.Hour)
	for _, c := range []struct{ method, path, key string }{
		{"GET", "/v1/decisions/stream?startup=true", ""},
		{"GET", "/v1/decisions/stream?startup=true", "rpb_wrong"},
		{"GET", "/v1/decisions/stream?startup=true", "not-even-the-prefix"},
		{"GET", "/v1/decisions?ip=203.0.113.7", ""},
		{"GET", "/v1/decisions?ip=203.0.113.7", key + "x"},
		{"HEAD", "/v1/decisions/stream", "rpb_wrong"},
	} {
		code, b := r.get(c.method, c.path, c.key)
		if code != 403 || (c.method == "GET" && (!strings.Contains(string(b), `"message":"access forbidden`) || strings.Contains(string(b), "203.0.113.7"))) {
			t.Errorf("%s %s with key %q: %d %s", c.method, c.path, c.key, code, b)
		}
	}
	// The health check with the right key answers and changes nothing.
	if code, _ := r.get("HEAD", "/v1/decisions/stream", key); code != 200 {
		t.Fatalf("HEAD: %d", code)
	}
	if s := r.pull(key, ""); len(s.New) != 1 {
		t.Fatalf("HEAD took the delta: %+v", s)
	}
	// A deleted bouncer's key stops working at once.
	if err := r.st.Delete(context.Background(), "edge-nft", "t"); err != nil {
		t.Fatal(err)
	}
	if code, _ := r.get("GET", "/v1/decisions/stream", key); code != 403 {
		t.Fatalf("deleted bouncer: %d", code)
	}
	if code, b := r.get("GET", "/v1/decisions/stream?startup=maybe", r.bouncer("x")); code != 400 {
		t.Fatalf("startup=maybe: %d %s", code, b)
	}
}

func TestFilters(t *testing.T) {
	r := newRig(t)
	r.deny("203.0.113.7", "", "ssh brute force", time.Hour)
	r.deny("198.51.100.0/24", "", "http scanner", time.Hour)
	for _, c := range []struct {
		query string
		want  []string
	}{
		{"?startup=true", []string{"Ip:203.0.113.7", "Range:198.51.100.0/24"}},
		{"?startup=true&scopes=ip", []string{"Ip:203.0.113.7"}},
		{"?startup=true&scopes=Range", []string{"Range:198.51.100.0/24"}},
		{"?startup=true&scopes=ip,range&origins=riposte", []string{"Ip:203.0.113.7", "Range:198.51.100.0/24"}},
		{"?startup=true&origins=crowdsec,cscli", nil},
		{"?startup=true&scenarios_containing=SSH", []string{"Ip:203.0.113.7"}},
		{"?startup=true&scenarios_containing=ftp,http", []string{"Range:198.51.100.0/24"}},
		{"?startup=true&scenarios_not_containing=ssh", []string{"Range:198.51.100.0/24"}},
	} {
		if got := values(r.pull(r.bouncer("b"+c.query), c.query).New); !slices.Equal(got, c.want) {
			t.Errorf("%s: %q, want %q", c.query, got, c.want)
		}
	}
	// A bouncer whose filter now excludes what it holds is told to lift it.
	key := r.bouncer("narrowing")
	r.pull(key, "?startup=true")
	if s := r.pull(key, "?scopes=ip"); !slices.Equal(values(s.Deleted), []string{"Range:198.51.100.0/24"}) || len(s.New) != 0 {
		t.Fatalf("narrowed: %+v", s)
	}
}

func TestLiveQuery(t *testing.T) {
	r := newRig(t)
	key := r.bouncer("nginx")
	r.deny("203.0.113.7", "", "ssh brute force", time.Hour)
	r.deny("198.51.100.0/24", "", "http scanner", time.Hour)
	for _, c := range []struct {
		query string
		want  string // "null" or the values
	}{
		{"?ip=203.0.113.7", "Ip:203.0.113.7"},
		{"?ip=198.51.100.23", "Range:198.51.100.0/24"},
		{"?ip=192.0.2.1", "null"},
		{"?ip=::ffff:203.0.113.7", "Ip:203.0.113.7"},
		{"?range=198.51.100.128/25", "Range:198.51.100.0/24"},
		{"?range=198.51.0.0/16", "null"},
		{"?range=198.51.0.0/16&contains=false", "Range:198.51.100.0/24"},
		{"?scope=ip", "Ip:203.0.113.7"},
		{"?value=198.51.100.0/24", "Range:198.51.100.0/24"},
		{"?type=captcha", "null"},
		{"", "Ip:203.0.113.7 Range:198.51.100.0/24"},
	} {
		code, b := r.get("GET", "/v1/decisions"+c.query, key)
		if code != 200 {
			t.Errorf("%s: %d %s", c.query, code, b)
			continue
		}
		got := strings.TrimSpace(string(b))
		if got != "null" {
			var ds []Decision
			if err := json.Unmarshal(b, &ds); err != nil {
				t.Fatal(err)
			}
			got = strings.Join(values(ds), " ")
		}
		if got != c.want {
			t.Errorf("%s: %s, want %s", c.query, got, c.want)
		}
	}
	for _, bad := range []string{"?ip=not-an-ip", "?range=1.2.3.4/99", "?ip=1.2.3.4&range=1.2.3.0/24", "?colour=red", "?contains=perhaps"} {
		if code, b := r.get("GET", "/v1/decisions"+bad, key); code != 400 || !strings.Contains(string(b), `"message"`) {
			t.Errorf("%s: %d %s", bad, code, b)
		}
	}
}

func TestPullLogIsBoundedAndNamesBouncers(t *testing.T) {
	r := newRig(t)
	r.st.keep = 5
	ctx := context.Background()
	key := r.bouncer("edge-nft")
	r.bouncer("never-pulls")
	var ids []string
	for i := range 4 {
		d := r.deny("203.0.113."+string(rune('1'+i)), "", "brute force", time.Hour)
		ids = append(ids, d.ID)
		r.pull(key, "")
		r.now = r.now.Add(time.Second)
	}
	if _, err := r.dec.Revert(ctx, ids[0], "t", "done", r.now); err != nil {
		t.Fatal(err)
	}
	r.pull(key, "")
	ps, err := r.st.Pulls(ctx, "edge-nft", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 5 || ps[0].Action != "deleted" || ps[0].Decision != ids[0] || !ps[0].At.Equal(r.now) || ps[4].Action != "new" || ps[4].Decision != ids[0] {
		t.Fatalf("pull log: %+v", ps)
	}
	r.pull(key, "?startup=true") // three more lines: the oldest ones go
	if ps, _ := r.st.Pulls(ctx, "edge-nft", 0); len(ps) != 5 {
		t.Fatalf("the log holds %d lines, want at most 5", len(ps))
	}
	by, err := r.st.PulledBy(ctx, append(ids, "unknown"))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(by[ids[3]], []string{"edge-nft"}) || by["unknown"] != nil {
		t.Fatalf("pulled by: %v", by)
	}
	if _, err := r.st.Pulls(ctx, "nobody", 0); err == nil {
		t.Fatal("pulls of an unknown bouncer")
	}
	// A live query is logged too.
	n := r.bouncer("nginx")
	r.get("GET", "/v1/decisions?ip=203.0.113.2", n)
	if ps, _ := r.st.Pulls(ctx, "nginx", 0); len(ps) != 1 || ps[0].Action != "answered" || ps[0].Decision != ids[1] {
		t.Fatalf("live query log: %+v", ps)
	}
}

func TestLongDecisionsAreSentAgain(t *testing.T) {
	r := newRig(t)
	key := r.bouncer("edge-nft")
	d := r.deny("203.0.113.7", "", "until reverted", -1)
	s := r.pull(key, "?startup=true")
	if len(s.New) != 1 || s.New[0].Duration != MaxDuration.String() {
		t.Fatalf("until reverted: %+v", s)
	}
	r.now = r.now.Add(MaxDuration - time.Hour)
	if s := r.pull(key, ""); len(s.New)+len(s.Deleted) != 0 {
		t.Fatalf("an hour before the sent duration ends: %+v", s)
	}
	r.now = r.now.Add(55 * time.Minute)
	if s := r.pull(key, ""); len(s.New) != 1 || s.New[0].UUID != d.ID || s.New[0].Duration != MaxDuration.String() {
		t.Fatalf("near the end of the sent duration: %+v", s)
	}
}
