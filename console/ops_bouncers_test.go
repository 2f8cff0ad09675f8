package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/bouncer"
	"github.com/riposte-soar/riposte/decision"
	"github.com/riposte-soar/riposte/store"
)

// The Decisions page names the CrowdSec bouncers each decision was sent
// to, and a bouncer's name is shown as text.
func TestDecisionsShowWhichBouncersPulledThem(t *testing.T) {
	var dec *decision.Store
	var bs *bouncer.Store
	r := newRig(t, func(d *Deps) {
		db, err := store.Open(filepath.Join(t.TempDir(), "ops.db"), "normal", store.Control)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dec, bs = decision.New(db, decision.DefaultSchedule), bouncer.NewStore(db)
		d.Decisions, d.Bouncers = dec, bs
	})
	ctx := context.Background()
	pulled, err := dec.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "203.0.113.7", Owner: "t", Reason: "ssh brute force"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := bs.Add(ctx, `edge <img src=x onerror=alert(1)>`, "test")
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/decisions/stream?startup=true", nil)
	req.Header.Set("X-Api-Key", key)
	rec := httptest.NewRecorder()
	(&bouncer.Service{Store: bs, Decisions: dec}).Stream(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "203.0.113.7") {
		t.Fatalf("pull: %d %s", rec.Code, rec.Body)
	}
	// A decision made after the pull was sent to no bouncer.
	later, err := dec.Add(ctx, decision.Decision{Kind: decision.DenyIP, Target: "198.51.100.9", Owner: "t", Reason: "scan"}, time.Hour, time.Now().Add(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, body := r.as(auth.Viewer).get("/decisions")
	contains(t, body, "Pulled by", "edge &lt;img src=x onerror=alert(1)&gt;")
	if strings.Contains(body, "<img src=x") {
		t.Error("the bouncer's name is markup on the page")
	}
	row := func(id string) string {
		i := strings.Index(body, `data-decision="`+id+`"`)
		if i < 0 {
			t.Fatalf("no row for %s", id)
		}
		rest := body[i:]
		return rest[:strings.Index(rest, "</tr>")]
	}
	if !strings.Contains(row(pulled.ID), "edge &lt;img") || !strings.Contains(row(later.ID), "no bouncer") {
		t.Errorf("rows:\n%s\n%s", row(pulled.ID), row(later.ID))
	}
}
