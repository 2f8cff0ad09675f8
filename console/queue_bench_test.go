package console

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/alert"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/event"
)

// seedQueue opens n incidents, each about its own host and address so none
// group together.
func seedQueue(tb testing.TB, r *rig, n int) {
	tb.Helper()
	levels := []string{"low", "medium", "high", "critical"}
	const batch = 500
	for i := 0; i < n; i += batch {
		var as []alert.Alert
		at := t0.Add(time.Duration(i) * time.Second)
		for j := i; j < min(i+batch, n); j++ {
			a := alert.Alert{ID: event.NewID(at), Kind: alert.KindSigma,
				Rule: alert.Rule{ID: fmt.Sprintf("rule-%d", j%40), Title: fmt.Sprintf("Suspicious activity %d", j%40), Level: levels[j%4], Tags: []string{"attack.t1110"}},
				Time: at, Detected: at, FirstEventTime: at.Add(-time.Second), EventIDs: []string{event.NewID(at)}}
			a.Entities.Hosts = []string{fmt.Sprintf("host-%05d", j)}
			a.Entities.SourceIPs = []string{fmt.Sprintf("10.%d.%d.%d", j>>16&255, j>>8&255, j&255)}
			as = append(as, a)
		}
		if err := r.alarm.ApplyBatch(context.Background(), as, at); err != nil {
			tb.Fatal(err)
		}
	}
	got, err := r.alarm.Store().Count(context.Background(), openFilter())
	if err != nil || got != n {
		tb.Fatalf("seeded %d open incidents, want %d (%v)", got, n, err)
	}
}

// queueRequest is the home page as the signed-in analyst asks for it.
func queueRequest(tb testing.TB, r *rig, path string) *http.Request {
	tb.Helper()
	c := r.as(auth.Analyst)
	req := httptest.NewRequest("GET", path, nil)
	for _, ck := range c.hc.Jar.Cookies(mustURL(r.srv.URL)) {
		req.AddCookie(ck)
	}
	return req
}

// TestQueueWeight10000 checks the queue of 10,000 open incidents stays a
// light page: what an analyst on a slow link waits for.
func TestQueueWeight10000(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 10,000 incidents")
	}
	r := newRig(t, nil)
	seedQueue(t, r, 10000)
	h := r.con.Handler(http.NotFoundHandler())
	for _, path := range []string{"/", "/?q=host-0999", "/?priority=P2&page=3"} {
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, queueRequest(t, r, path))
		took := time.Since(start)
		if w.Code != 200 {
			t.Fatalf("%s: %d", path, w.Code)
		}
		if w.Body.Len() > 500<<10 {
			t.Errorf("%s weighs %d bytes, want under 500 KB", path, w.Body.Len())
		}
		t.Logf("%s: %d bytes in %v", path, w.Body.Len(), took)
	}
}

// BenchmarkQueue10000 renders the queue of 10,000 open incidents
// server-side (the target is under 200 ms).
func BenchmarkQueue10000(b *testing.B) {
	r := newRig(b, nil)
	seedQueue(b, r, 10000)
	h := r.con.Handler(http.NotFoundHandler())
	for _, path := range []string{"/", "/?q=host-0999"} {
		b.Run(path, func(b *testing.B) {
			req := queueRequest(b, r, path)
			b.ReportAllocs()
			var size int
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatal(w.Code)
				}
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size), "bytes/page")
		})
	}
}
