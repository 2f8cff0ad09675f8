package fleet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/riposte-soar/riposte/agent/protocol"
	"github.com/riposte-soar/riposte/blob"
	"github.com/riposte-soar/riposte/bus"
	"github.com/riposte-soar/riposte/internal/pgtest"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

// evidenceStore is one evidence.store: two nodes' views of it (each
// node opens its own), and a way to change a blob at rest behind the
// store's back.
type evidenceStore struct {
	name  string
	nodes func(t *testing.T) (a, b blob.Store, alter func(t *testing.T, sha string, content []byte))
}

func evidenceStores() []evidenceStore {
	return []evidenceStore{
		{"files", func(t *testing.T) (blob.Store, blob.Store, func(*testing.T, string, []byte)) {
			dir := filepath.Join(t.TempDir(), "evidence")
			a, b := &blob.Files{Dir: dir}, &blob.Files{Dir: dir}
			return a, b, func(t *testing.T, sha string, content []byte) {
				p := a.Path(sha)
				os.Chmod(p, 0o600)
				if err := os.WriteFile(p, content, 0o400); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"nats", func(t *testing.T) (blob.Store, blob.Store, func(*testing.T, string, []byte)) {
			srv, err := bus.Start(bus.Config{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(srv.Close)
			other, err := bus.Start(bus.Config{URL: srv.ClientURL}, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(other.Close)
			a, err := blob.OpenNATS(t.Context(), srv)
			if err != nil {
				t.Fatal(err)
			}
			b, err := blob.OpenNATS(t.Context(), other)
			if err != nil {
				t.Fatal(err)
			}
			return a, b, func(t *testing.T, sha string, content []byte) {
				obs, err := srv.JS.ObjectStore(t.Context(), blob.Bucket)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := obs.PutBytes(t.Context(), sha, content); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"postgres", func(t *testing.T) (blob.Store, blob.Store, func(*testing.T, string, []byte)) {
			u := pgtest.URL(t)
			a, err := blob.OpenSQL(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { a.Close() })
			b, err := blob.OpenSQL(t.Context(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return a, b, func(t *testing.T, sha string, content []byte) {
				db, err := store.OpenSchema(u, "", blob.Schema)
				if err != nil {
					t.Fatal(err)
				}
				defer db.Close()
				if _, err := db.W.Exec(`UPDATE blob_chunks SET data = ? WHERE upload = (SELECT upload FROM blobs WHERE sha256 = ?)`, content, sha); err != nil {
					t.Fatal(err)
				}
			}
		}},
	}
}

// TestEvidenceInEveryStore: evidence an agent uploads through one node is
// read through another, wrong bytes are refused and nothing recorded, and
// bytes changed at rest are refused, not served.
func TestEvidenceInEveryStore(t *testing.T) {
	for _, es := range evidenceStores() {
		t.Run(es.name, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Control(t)
			a, b, alter := es.nodes(t)
			_, key, _ := ed25519.GenerateKey(rand.Reader)
			agentPub, agentKey, _ := ed25519.GenerateKey(rand.Reader)
			node := func(s blob.Store) *Fleet {
				f, err := New(ctx, Options{DB: db, Key: key, Blobs: s})
				if err != nil {
					t.Fatal(err)
				}
				f.agents["ag1"] = &Agent{ID: "ag1", Hostname: "web-1", PublicKey: agentPub}
				return f
			}
			one, two := node(a), node(b)
			one.ctxs["ag1/cmd1"] = commandCtx{incident: "inc1", requester: "alice"}
			upload := func(name string, content []byte, declared string) (Evidence, error) {
				sig := protocol.SignUpload(agentKey, protocol.Upload{AgentID: "ag1", CommandID: "cmd1", Name: name, SHA256: declared, Size: int64(len(content))})
				return one.StoreEvidence(ctx, "ag1", "cmd1", name, declared, int64(len(content)), sig, bytes.NewReader(content))
			}
			content := bytes.Repeat([]byte("auth.log line\n"), 100000)
			sum := sha256.Sum256(content)
			sha := hex.EncodeToString(sum[:])

			wrong := bytes.Clone(content)
			wrong[0] = 'A'
			if _, err := upload("wrong.log", wrong, sha); !errors.Is(err, ErrEvidence) {
				t.Errorf("bytes not matching the declared hash: %v, want ErrEvidence", err)
			}
			if es, _ := two.ListEvidence(ctx, ""); len(es) != 0 {
				t.Errorf("a refused upload was recorded: %v", es)
			}
			if ok, _ := b.Exists(ctx, sha); ok {
				t.Error("a refused upload was stored")
			}

			e, err := upload("auth.log", content, sha)
			if err != nil {
				t.Fatal(err)
			}
			got, rc, err := two.OpenEvidence(ctx, e.ID)
			if err != nil {
				t.Fatalf("the other node opens the evidence: %v", err)
			}
			read, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || !bytes.Equal(read, content) || got.Incident != "inc1" || got.RequestedBy != "alice" {
				t.Errorf("the other node read %d bytes (%v), record %+v", len(read), err, got)
			}

			alter(t, sha, wrong)
			if _, rc, err := two.OpenEvidence(ctx, e.ID); err == nil {
				rc.Close()
				t.Error("evidence altered at rest was served")
			}
		})
	}
}
