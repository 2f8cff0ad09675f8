package audit

import (
	"context"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func newLog(t *testing.T, n int) (*Log, *store.DB) {
	t.Helper()
	db, err := store.OpenSchema(storetest.Target(t), "normal", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	l := New(db)
	for i := 0; i < n; i++ {
		if err := l.Append(context.Background(), "cli", "token.create", "tok"+string(rune('a'+i)), map[string]int{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	return l, db
}

func TestIntactChainVerifies(t *testing.T) {
	l, _ := newLog(t, 5)
	n, brk, err := l.Verify(context.Background())
	if err != nil || brk != nil || n != 5 {
		t.Fatalf("Verify = %d, %v, %v; want 5 entries and no break", n, brk, err)
	}
}

func TestEmptyChainVerifies(t *testing.T) {
	l, _ := newLog(t, 0)
	if n, brk, err := l.Verify(context.Background()); err != nil || brk != nil || n != 0 {
		t.Fatalf("Verify = %d, %v, %v", n, brk, err)
	}
}

func TestTamperingIsDetected(t *testing.T) {
	cases := []struct {
		name    string
		sql     []string
		wantSeq int64
		reason  string
	}{
		{"alter actor", []string{`UPDATE audit SET actor = 'mallory' WHERE seq = 3`}, 3, "altered"},
		{"alter detail", []string{`UPDATE audit SET detail = '{"i":99}' WHERE seq = 2`}, 2, "altered"},
		{"alter time", []string{`UPDATE audit SET at = at + 1 WHERE seq = 4`}, 4, "altered"},
		{"alter first", []string{`UPDATE audit SET action = 'x' WHERE seq = 1`}, 1, "altered"},
		{"alter last", []string{`UPDATE audit SET target = 'x' WHERE seq = 5`}, 5, "altered"},
		{"delete middle", []string{`DELETE FROM audit WHERE seq = 3`}, 3, "missing"},
		{"delete first", []string{`DELETE FROM audit WHERE seq = 1`}, 1, "missing"},
		{"delete last", []string{`DELETE FROM audit WHERE seq = 5`}, 5, "removed"},
		{"delete last two", []string{`DELETE FROM audit WHERE seq >= 4`}, 4, "removed"},
		{"delete middle and renumber", []string{`DELETE FROM audit WHERE seq = 2`,
			`UPDATE audit SET seq = seq - 1 WHERE seq > 2`}, 2, "reordered"},
		{"swap two rows", []string{`UPDATE audit SET seq = 100 WHERE seq = 2`,
			`UPDATE audit SET seq = 2 WHERE seq = 3`, `UPDATE audit SET seq = 3 WHERE seq = 100`}, 2, "reordered"},
		{"rehash altered row", []string{`UPDATE audit SET actor = 'mallory', hash = prev WHERE seq = 5`}, 5, "altered"},
		{"remove head", []string{`DELETE FROM meta WHERE key = 'audit.head'`}, 5, "head"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l, db := newLog(t, 5)
			for _, q := range c.sql {
				if _, err := db.W.Exec(q); err != nil {
					t.Fatal(err)
				}
			}
			_, brk, err := l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if brk == nil {
				t.Fatal("tampering went unnoticed")
			}
			if brk.Seq != c.wantSeq || !strings.Contains(brk.Reason, c.reason) {
				t.Fatalf("break = %+v; want seq %d with reason containing %q", brk, c.wantSeq, c.reason)
			}
		})
	}
}

func TestAppendAfterVerifyContinuesChain(t *testing.T) {
	l, _ := newLog(t, 2)
	if err := l.Append(context.Background(), "system", "x", "y", nil); err != nil {
		t.Fatal(err)
	}
	es, err := l.List(context.Background(), 0, 10)
	if err != nil || len(es) != 3 || es[2].Seq != 3 || string(es[2].Detail) != "{}" {
		t.Fatalf("List = %+v, %v", es, err)
	}
}

// Entries offered again after a crash between the import's commit and the
// source forgetting them are appended once; the chain holds.
func TestImportIsIdempotent(t *testing.T) {
	l, _ := newLog(t, 1)
	ctx := context.Background()
	batch := []Imported{
		{ID: 1, Actor: "system", Action: "run.start", Target: "run:a"},
		{ID: 2, Actor: "run:a", Action: "connector.call", Target: "http.request", Detail: []byte(`{"outcome":"ok"}`)},
	}
	if err := l.Import(ctx, "engine", batch); err != nil {
		t.Fatal(err)
	}
	// Offered again, plus one new entry.
	again := append(batch, Imported{ID: 3, Actor: "run:a", Action: "run.cancel", Target: "run:a"})
	if err := l.Import(ctx, "engine", again); err != nil {
		t.Fatal(err)
	}
	es, err := l.List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.Action)
	}
	if want := "token.create run.start connector.call run.cancel"; strings.Join(got, " ") != want {
		t.Fatalf("entries %q, want %q", got, want)
	}
	if n, brk, err := l.Verify(ctx); err != nil || brk != nil || n != 4 {
		t.Fatalf("Verify = %d, %v, %v", n, brk, err)
	}
}
