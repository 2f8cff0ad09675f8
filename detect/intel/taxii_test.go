package intel

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeTAXII is an in-process TAXII 2.1 server for one collection.
type fakeTAXII struct {
	mu       sync.Mutex
	objects  []fakeObject
	withNext bool // paginate with next; otherwise more without next
	fail     map[int]int
	requests []*http.Request
}

type fakeObject struct {
	added time.Time
	json  string
}

func (f *fakeTAXII) add(added string, obj string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objects = append(f.objects, fakeObject{date(added), obj})
}

// reqs returns the requests served so far.
func (f *fakeTAXII) reqs() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.requests)
}

// reset forgets the requests and sets which request numbers fail.
func (f *fakeTAXII) reset(fail map[int]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests, f.fail = nil, fail
}

func (f *fakeTAXII) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r)
	if code := f.fail[len(f.requests)]; code != 0 {
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			w.Header().Set("Retry-After", "0")
		}
		http.Error(w, "nope", code)
		return
	}
	if r.URL.Path != "/api1/collections/coll-1/objects/" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Accept") != TAXIIMediaType {
		http.Error(w, "not acceptable", http.StatusNotAcceptable)
		return
	}
	if r.Header.Get("Authorization") != "Bearer s3cret" {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	var after time.Time
	if s := q.Get("added_after"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			http.Error(w, "bad added_after", http.StatusBadRequest)
			return
		}
		after = t
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 {
		limit = 100
	}
	var sel []fakeObject
	for _, o := range f.objects {
		if o.added.After(after) {
			sel = append(sel, o)
		}
	}
	slices.SortFunc(sel, func(a, b fakeObject) int { return a.added.Compare(b.added) })
	offset := 0
	if n := q.Get("next"); n != "" {
		offset, _ = strconv.Atoi(strings.TrimPrefix(n, "cursor-"))
	}
	end := min(offset+limit, len(sel))
	page := sel[min(offset, len(sel)):end]
	more := end < len(sel)
	var b strings.Builder
	b.WriteString(`{"more":` + strconv.FormatBool(more))
	if more && f.withNext {
		b.WriteString(`,"next":"cursor-` + strconv.Itoa(end) + `"`)
	}
	if len(page) > 0 {
		b.WriteString(`,"objects":[`)
		for i, o := range page {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(o.json)
		}
		b.WriteString("]")
		w.Header().Set("X-TAXII-Date-Added-First", page[0].added.Format(time.RFC3339Nano))
		w.Header().Set("X-TAXII-Date-Added-Last", page[len(page)-1].added.Format(time.RFC3339Nano))
	}
	b.WriteString("}")
	w.Header().Set("Content-Type", TAXIIMediaType)
	fmt.Fprint(w, b.String())
}

func indicatorJSON(n int, pattern string, marking string) string {
	refs := ""
	if marking != "" {
		refs = `,"object_marking_refs":["` + marking + `"]`
	}
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2025-06-01T00:00:00Z","modified":"2025-06-01T00:00:00Z","pattern":%q,"pattern_type":"stix","valid_from":"2025-06-01T00:00:00Z","confidence":80%s}`, n, pattern, refs)
}

const customRed = "marking-definition--aaaaaaaa-0000-4000-8000-000000000001"

func newFakeTAXII(withNext bool) *fakeTAXII {
	f := &fakeTAXII{withNext: withNext, fail: map[int]int{}}
	f.add("2025-06-01T00:00:01Z", `{"type":"marking-definition","spec_version":"2.1","id":"`+customRed+`","created":"2025-01-01T00:00:00Z","definition_type":"tlp","definition":{"tlp":"red"}}`)
	f.add("2025-06-01T00:00:02Z", indicatorJSON(1, "[ipv4-addr:value = '203.0.113.1']", customRed))
	f.add("2025-06-01T00:00:03Z", indicatorJSON(2, "[domain-name:value = 'taxii.evil.example']", ""))
	f.add("2025-06-01T00:00:04Z", indicatorJSON(3, "[url:value = 'http://taxii.evil.example/x']", ""))
	f.add("2025-06-01T00:00:05Z", indicatorJSON(4, "[file:hashes.MD5 = 'd41d8cd98f00b204e9800998ecf8427e']", "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82"))
	return f
}

func newClient(srv *httptest.Server) *TAXIIClient {
	return &TAXIIClient{BaseURL: srv.URL, APIRoot: "api1", Collection: "coll-1", Token: "s3cret",
		HTTPClient: srv.Client(), PageSize: 2, Feed: "taxii-test"}
}

func TestTAXIIPollPagination(t *testing.T) {
	for _, withNext := range []bool{true, false} {
		t.Run(fmt.Sprintf("next=%v", withNext), func(t *testing.T) {
			fake := newFakeTAXII(withNext)
			srv := httptest.NewServer(fake)
			defer srv.Close()
			c := newClient(srv)
			inds, wm, err := c.Poll(context.Background(), time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if len(inds) != 4 {
				t.Fatalf("%d indicators, want 4", len(inds))
			}
			if !wm.Equal(date("2025-06-01T00:00:05Z")) {
				t.Errorf("watermark %v", wm)
			}
			if len(fake.reqs()) != 3 {
				t.Errorf("%d requests, want 3 pages", len(fake.reqs()))
			}
			for i, r := range fake.reqs() {
				q := r.URL.Query()
				if q.Get("limit") != "2" || !strings.Contains(q.Get("match[type]"), "indicator") {
					t.Errorf("request %d: %s", i, r.URL.RawQuery)
				}
				if i > 0 && withNext && (q.Get("next") == "" || q.Get("added_after") != "") {
					t.Errorf("request %d did not follow next: %s", i, r.URL.RawQuery)
				}
				if i > 0 && !withNext && q.Get("added_after") == "" {
					t.Errorf("request %d did not continue from X-TAXII-Date-Added-Last: %s", i, r.URL.RawQuery)
				}
			}
			ip := find(t, inds, KindIPv4, "203.0.113.1")
			if ip != nil && (ip.Sources[0].TLP != TLPRed || ip.Sources[0].Feed != "taxii-test" || ip.Sources[0].Confidence != 80) {
				t.Errorf("ip record %+v", ip.Sources[0])
			}
			md5 := find(t, inds, KindMD5, "d41d8cd98f00b204e9800998ecf8427e")
			if md5 != nil && md5.Sources[0].TLP != TLPAmber {
				t.Errorf("md5 tlp %q", md5.Sources[0].TLP)
			}

			// nothing new: same watermark
			fake.reset(nil)
			inds, wm2, err := c.Poll(context.Background(), wm)
			if err != nil || len(inds) != 0 || !wm2.Equal(wm) {
				t.Errorf("idle poll: %v %d %v", err, len(inds), wm2)
			}
			if len(fake.reqs()) != 1 || fake.reqs()[0].URL.Query().Get("added_after") != "2025-06-01T00:00:05Z" {
				t.Errorf("idle poll requests %v", fake.reqs())
			}
			// a new object marked with the definition from the first poll
			fake.add("2025-06-02T00:00:00Z", indicatorJSON(5, "[ipv4-addr:value = '203.0.113.5']", customRed))
			inds, wm3, err := c.Poll(context.Background(), wm)
			if err != nil || len(inds) != 1 || inds[0].Sources[0].TLP != TLPRed || !wm3.Equal(date("2025-06-02T00:00:00Z")) {
				t.Errorf("incremental poll: %v %+v %v", err, inds, wm3)
			}
		})
	}
}

func TestTAXIIPollErrors(t *testing.T) {
	fake := newFakeTAXII(true)
	srv := httptest.NewServer(fake)
	defer srv.Close()

	c := newClient(srv)
	c.Token = "wrong"
	if _, _, err := c.Poll(context.Background(), time.Time{}); !errors.Is(err, ErrTAXIIAuth) {
		t.Errorf("bad token: %v", err)
	}

	fake.reset(map[int]int{1: http.StatusNotAcceptable})
	if _, _, err := newClient(srv).Poll(context.Background(), time.Time{}); !errors.Is(err, ErrTAXIINotAcceptable) {
		t.Errorf("406: %v", err)
	}

	// 429 with Retry-After is retried
	fake.reset(map[int]int{1: http.StatusTooManyRequests, 3: http.StatusServiceUnavailable})
	inds, _, err := newClient(srv).Poll(context.Background(), time.Time{})
	if err != nil || len(inds) != 4 || len(fake.reqs()) != 5 {
		t.Errorf("429/503 retry: %v, %d indicators, %d requests", err, len(inds), len(fake.reqs()))
	}

	// a failure on page 2: no indicators, watermark not advanced
	fake.reset(map[int]int{2: http.StatusInternalServerError})
	start := date("2025-01-01T00:00:00Z")
	inds, wm, err := newClient(srv).Poll(context.Background(), start)
	if err == nil || inds != nil || !wm.Equal(start) {
		t.Errorf("page 2 failure: %v %d %v", err, len(inds), wm)
	}

	// configuration errors
	for name, c := range map[string]*TAXIIClient{
		"no base":       {APIRoot: "api1", Collection: "c"},
		"no collection": {BaseURL: srv.URL, APIRoot: "api1"},
		"bad scheme":    {APIRoot: "ftp://x/api1", Collection: "c"},
	} {
		if _, _, err := c.Poll(context.Background(), time.Time{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}

	// a cancelled context stops the poll
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := newClient(srv).Poll(ctx, time.Time{}); err == nil {
		t.Error("cancelled context: no error")
	}
}
