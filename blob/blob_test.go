package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/internal/jscluster"
	"github.com/riposte-soar/riposte/internal/natscluster"
	"github.com/riposte-soar/riposte/internal/pgtest"
	"github.com/riposte-soar/riposte/store"
)

// impl is one Store under test, with a way to count what it holds that
// belongs to no stored blob (temporary files, chunks of failed uploads).
type impl struct {
	name string
	open func(t *testing.T) (blob.Store, func(t *testing.T) int)
	// inProcessServer: the store's server shares the test's heap (the
	// embedded NATS, whose file store caches message blocks of its own),
	// so Large cannot tell the client's memory from the server's; the
	// client's streaming is measured against nats-cluster instead.
	inProcessServer bool
}

func impls() []impl {
	return []impl{
		{"files", func(t *testing.T) (blob.Store, func(t *testing.T) int) {
			s, err := blob.NewFiles(filepath.Join(t.TempDir(), "evidence"))
			if err != nil {
				t.Fatal(err)
			}
			return s, func(t *testing.T) int {
				es, err := os.ReadDir(filepath.Join(s.Dir, "incoming"))
				if err != nil && !errors.Is(err, fs.ErrNotExist) {
					t.Fatal(err)
				}
				return len(es)
			}
		}, false},
		// The embedded server of a single node: it shares the test's
		// heap, so the streaming bound of Large covers it too.
		{"nats", func(t *testing.T) (blob.Store, func(t *testing.T) int) {
			b, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			return openNATS(t, b)
		}, true},
		// A three-server cluster of nats-server processes, the bucket
		// replicated three times.
		{"nats-cluster", func(t *testing.T) (blob.Store, func(t *testing.T) int) {
			c := natscluster.Start(t, 3, nil)
			b, err := bus.Start(bus.Config{URL: c.URLs()}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(b.Close)
			if b.Replicas != 3 {
				t.Fatalf("replicas %d on a three-server cluster", b.Replicas)
			}
			return openNATS(t, b)
		}, false},
		{"postgres", func(t *testing.T) (blob.Store, func(t *testing.T) int) { return openSQL(t, pgtest.URL(t)) }, false},
		{"sqlite", func(t *testing.T) (blob.Store, func(t *testing.T) int) {
			return openSQL(t, filepath.Join(t.TempDir(), "blobs.db"))
		}, false},
	}
}

func openNATS(t *testing.T, b *bus.Bus) (blob.Store, func(t *testing.T) int) {
	t.Helper()
	s, err := blob.OpenNATS(t.Context(), b)
	if err != nil {
		t.Fatal(err)
	}
	return s, func(t *testing.T) int {
		// Messages of the bucket's stream beyond the chunks and
		// description of each object (a deleted one keeps its
		// description, marked deleted).
		obs, err := b.JS.ObjectStore(t.Context(), blob.Bucket)
		if err != nil {
			t.Fatal(err)
		}
		st, err := obs.Status(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		msgs := int(st.(*jetstream.ObjectBucketStatus).StreamInfo().State.Msgs)
		infos, err := obs.List(t.Context(), jetstream.ListObjectsShowDeleted())
		if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
			t.Fatal(err)
		}
		for _, i := range infos {
			msgs -= int(i.Chunks) + 1
		}
		return msgs
	}
}

func openSQL(t *testing.T, target string) (blob.Store, func(t *testing.T) int) {
	t.Helper()
	s, err := blob.OpenSQL(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	db, err := store.OpenSchema(target, "normal", blob.Schema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return s, func(t *testing.T) int {
		var n int
		if err := db.R.QueryRow(`SELECT count(*) FROM blob_chunks WHERE upload NOT IN (SELECT upload FROM blobs)`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func hashOf(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func readAll(t *testing.T, s blob.Store, sha string) ([]byte, int64) {
	t.Helper()
	rc, size, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatalf("open %s: %v", sha, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("read %s: %v", sha, err)
	}
	return b, size
}

func assertMissing(t *testing.T, s blob.Store, sha string) {
	t.Helper()
	if ok, err := s.Exists(t.Context(), sha); err != nil || ok {
		t.Errorf("Exists(%s) = %v, %v; want false", sha[:8], ok, err)
	}
	if rc, _, err := s.Open(t.Context(), sha); !errors.Is(err, fs.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Open(%s) = %v; want an error wrapping fs.ErrNotExist", sha[:8], err)
	}
}

// TestConformance runs the same assertions against every Store.
func TestConformance(t *testing.T) {
	for _, im := range impls() {
		t.Run(im.name, func(t *testing.T) {
			for _, c := range []struct {
				name string
				test func(t *testing.T, s blob.Store, stray func(*testing.T) int, heapBound int64)
			}{
				{"RoundTrip", roundTrip},
				{"Mismatch", mismatch},
				{"Concurrent", concurrent},
				{"Large", large},
				{"Delete", deleteBlob},
			} {
				t.Run(c.name, func(t *testing.T) {
					s, stray := im.open(t)
					bound := int64(24 << 20)
					if im.inProcessServer {
						bound = 0
					}
					c.test(t, s, stray, bound)
				})
			}
		})
	}
}

func roundTrip(t *testing.T, s blob.Store, stray func(*testing.T) int, _ int64) {
	for _, content := range [][]byte{[]byte("evidence"), {}, bytes.Repeat([]byte("0123456789abcdef"), blob.ChunkSize/8+3)} {
		sha := hashOf(content)
		assertMissing(t, s, sha)
		if err := s.Put(t.Context(), sha, int64(len(content)), bytes.NewReader(content)); err != nil {
			t.Fatalf("put %d bytes: %v", len(content), err)
		}
		if ok, err := s.Exists(t.Context(), sha); err != nil || !ok {
			t.Errorf("Exists after Put = %v, %v", ok, err)
		}
		got, size := readAll(t, s, sha)
		if !bytes.Equal(got, content) || size != int64(len(content)) {
			t.Errorf("read back %d bytes (size %d), want the %d put", len(got), size, len(content))
		}
		// Upper-case hashes name the same blob.
		if ok, _ := s.Exists(t.Context(), string(bytes.ToUpper([]byte(sha)))); !ok {
			t.Error("the upper-case hash is not found")
		}
	}
	if n := stray(t); n != 0 {
		t.Errorf("%d stray items after successful puts", n)
	}
	if err := s.Put(t.Context(), "not-a-hash", 1, bytes.NewReader([]byte("x"))); err == nil {
		t.Error("a malformed hash was accepted")
	}
}

func mismatch(t *testing.T, s blob.Store, stray func(*testing.T) int, _ int64) {
	good := bytes.Repeat([]byte("good evidence "), 20000) // more than one chunk
	sha := hashOf(good)
	bad := bytes.Clone(good)
	bad[len(bad)-1] ^= 1
	for _, c := range []struct {
		name string
		body []byte
		size int64
	}{
		{"other content", bad, int64(len(bad))},
		{"shorter than declared", good[:len(good)-1], int64(len(good))},
		{"longer than declared", append(bytes.Clone(good), '!'), int64(len(good))},
		{"declared shorter", good, int64(len(good) - 1)},
	} {
		err := s.Put(t.Context(), sha, c.size, bytes.NewReader(c.body))
		if !errors.Is(err, blob.ErrMismatch) {
			t.Errorf("%s: Put = %v, want ErrMismatch", c.name, err)
		}
		assertMissing(t, s, sha)
		if n := stray(t); n != 0 {
			t.Errorf("%s: %d stray items left by a refused upload", c.name, n)
		}
	}
	// Stored, then uploaded again wrong: refused, the stored copy intact.
	if err := s.Put(t.Context(), sha, int64(len(good)), bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(t.Context(), sha, int64(len(bad)), bytes.NewReader(bad)); !errors.Is(err, blob.ErrMismatch) {
		t.Errorf("wrong bytes for a stored hash: Put = %v, want ErrMismatch", err)
	}
	if got, _ := readAll(t, s, sha); !bytes.Equal(got, good) {
		t.Error("the stored copy changed")
	}
}

func concurrent(t *testing.T, s blob.Store, stray func(*testing.T) int, _ int64) {
	content := bytes.Repeat([]byte("same blob "), 300000) // 3 MB, several chunks
	sha := hashOf(content)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() { errs <- s.Put(t.Context(), sha, int64(len(content)), bytes.NewReader(content)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent put: %v", err)
		}
	}
	if got, _ := readAll(t, s, sha); !bytes.Equal(got, content) {
		t.Errorf("read back %d bytes, want the %d put", len(got), len(content))
	}
	if n := stray(t); n != 0 {
		t.Errorf("%d stray items after concurrent puts of one blob", n)
	}
}

// gen yields size pseudo-random bytes, computed as they are read (never
// held whole), and notes a read after the end: a store must stream the
// upload once, as an HTTP body allows.
type gen struct {
	x, left   uint64
	ended     bool
	readAfter atomic.Bool
}

func newGen(size int64) *gen { return &gen{x: 0x9e3779b97f4a7c15, left: uint64(size)} }

func (g *gen) Read(p []byte) (int, error) {
	if g.left == 0 {
		if g.ended {
			g.readAfter.Store(true)
			return 0, errors.New("read again after io.EOF")
		}
		g.ended = true
		return 0, io.EOF
	}
	n := min(uint64(len(p)), g.left) &^ 7
	if n == 0 {
		n = min(uint64(len(p)), g.left)
	}
	for i := uint64(0); i < n; i++ {
		if i%8 == 0 {
			g.x ^= g.x << 13
			g.x ^= g.x >> 7
			g.x ^= g.x << 17
		}
		p[i] = byte(g.x >> (8 * (i % 8)))
	}
	g.left -= n
	return int(n), nil
}

// peakHeap samples the heap in use until stop is closed.
func peakHeap(stop <-chan struct{}) <-chan uint64 {
	out := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				out <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return out
}

// large stores and reads 64 MiB; with heapBound set, the heap may not
// grow by more than that meanwhile (held whole, the blob alone is 64 MiB).
func large(t *testing.T, s blob.Store, stray func(*testing.T) int, heapBound int64) {
	const size = 64 << 20
	h := sha256.New()
	if _, err := io.Copy(h, newGen(size)); err != nil {
		t.Fatal(err)
	}
	sha := hex.EncodeToString(h.Sum(nil))
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	base := m.HeapInuse
	stop := make(chan struct{})
	peak := peakHeap(stop)
	src := newGen(size)
	err := s.Put(t.Context(), sha, size, src)
	close(stop)
	if err != nil {
		t.Fatalf("put 64 MiB: %v", err)
	}
	if grew := int64(<-peak) - int64(base); heapBound > 0 && grew > heapBound {
		t.Errorf("the heap grew by %d MiB while storing a 64 MiB blob: it is not streamed", grew>>20)
	}
	if src.readAfter.Load() {
		t.Error("the upload was read again after its end")
	}

	runtime.GC()
	runtime.ReadMemStats(&m)
	base = m.HeapInuse
	stop = make(chan struct{})
	peak = peakHeap(stop)
	rc, n, err := s.Open(t.Context(), sha)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset()
	read, err := io.Copy(h, rc)
	rc.Close()
	close(stop)
	if err != nil || read != size || n != size {
		t.Fatalf("read back %d bytes (size %d): %v", read, n, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != sha {
		t.Errorf("read back content hashing to %s, stored %s", got, sha)
	}
	if grew := int64(<-peak) - int64(base); heapBound > 0 && grew > heapBound {
		t.Errorf("the heap grew by %d MiB while reading a 64 MiB blob: it is not streamed", grew>>20)
	}
	if n := stray(t); n != 0 {
		t.Errorf("%d stray items", n)
	}
}

func deleteBlob(t *testing.T, s blob.Store, stray func(*testing.T) int, _ int64) {
	keep, gone := []byte("kept"), bytes.Repeat([]byte("deleted "), 200000)
	for _, b := range [][]byte{keep, gone} {
		if err := s.Put(t.Context(), hashOf(b), int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(t.Context(), hashOf(gone)); err != nil {
		t.Fatalf("delete: %v", err)
	}
	assertMissing(t, s, hashOf(gone))
	if got, _ := readAll(t, s, hashOf(keep)); !bytes.Equal(got, keep) {
		t.Error("deleting one blob changed another")
	}
	if err := s.Delete(t.Context(), hashOf(gone)); err != nil {
		t.Errorf("deleting a missing blob: %v", err)
	}
	if n := stray(t); n != 0 {
		t.Errorf("%d stray items after a delete", n)
	}
	// A deleted blob can be stored again.
	if err := s.Put(t.Context(), hashOf(gone), int64(len(gone)), bytes.NewReader(gone)); err != nil {
		t.Fatal(err)
	}
	if got, _ := readAll(t, s, hashOf(gone)); !bytes.Equal(got, gone) {
		t.Error("a blob stored again after its deletion reads wrong")
	}
}

// TestSchemasAgree: the SQLite twin of the blobs schema has the tables
// PostgreSQL has.
func TestSchemasAgree(t *testing.T) { storetestSchemasAgree(t) }

// TestNATSClusterReplicated: on a three-server NATS cluster the bucket
// keeps three copies, and a blob stays readable when a server goes.
func TestNATSClusterReplicated(t *testing.T) {
	c := jscluster.Start(t, 3)
	b, err := bus.Start(bus.Config{URL: c.URL()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	s, _ := openNATS(t, b)
	content := bytes.Repeat([]byte("replicated evidence "), 100000)
	sha := hashOf(content)
	if err := s.Put(t.Context(), sha, int64(len(content)), bytes.NewReader(content)); err != nil {
		t.Fatal(err)
	}
	obs, err := b.JS.ObjectStore(t.Context(), blob.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	st, err := obs.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if r := st.Replicas(); r != 3 {
		t.Errorf("bucket replicas = %d, want 3", r)
	}
	c.Stop(0)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		var rc io.ReadCloser
		actx, acancel := context.WithTimeout(ctx, 3*time.Second)
		rc, _, err = s.Open(actx, sha)
		// A request under way when the server went may go unanswered
		// until its deadline; the next one reaches a live server.
		if err == nil {
			var got []byte
			got, err = io.ReadAll(rc)
			rc.Close()
			acancel()
			if err == nil {
				if !bytes.Equal(got, content) {
					t.Fatalf("read back %d bytes, want the %d put", len(got), len(content))
				}
				return
			}
		}
		acancel()
		if ctx.Err() != nil {
			t.Fatalf("blob unreadable after a server stopped: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
