package secret

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/store"
)

func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.OpenSchema(storetest.TargetIn(t, dir, "riposte.db"), "full", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestRoundTripRotationAndDelete(t *testing.T) {
	t.Setenv(KeyEnv, "")
	os.Unsetenv(KeyEnv)
	dir := t.TempDir()
	db := openDB(t, dir)
	s, err := Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dir, KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v, want mode 0600", fi, err)
	}
	ctx := context.Background()
	if err := s.Set(ctx, "vendor/api", []byte("Bearer first-value"), "cli"); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "vendor/api"); err != nil || string(v) != "Bearer first-value" {
		t.Fatalf("Get = %q, %v", v, err)
	}
	// Rotation: the next read sees the new value; a reopened store (same
	// key file) reads it too.
	if err := s.Set(ctx, "vendor/api", []byte("Bearer second-value"), "admin"); err != nil {
		t.Fatal(err)
	}
	s2, err := Open(db, dir)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := s2.Resolve(ctx, "secret://vendor/api"); err != nil || v != "Bearer second-value" {
		t.Fatalf("after rotation Resolve = %q, %v", v, err)
	}
	ms, err := s.List(ctx)
	if err != nil || len(ms) != 1 || ms[0].CreatedBy != "cli" || ms[0].UpdatedBy != "admin" || ms[0].Size != len("Bearer second-value") {
		t.Fatalf("List = %+v, %v", ms, err)
	}
	if err := s.Delete(ctx, "vendor/api", "cli"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, "vendor/api"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "vendor/api", "cli"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
	// Audited, without the values.
	es, err := audit.New(db).List(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range es {
		b, _ := json.Marshal(e)
		if bytes.Contains(b, []byte("first-value")) || bytes.Contains(b, []byte("second-value")) {
			t.Fatalf("audit entry holds the value: %s", b)
		}
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "secret.create,secret.rotate,secret.delete" {
		t.Fatalf("audit actions %s", got)
	}
}

func TestValuesNeverLeaveInTheClear(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	s, err := New(db, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	value := "do-not-leak-4f1c9e"
	if err := s.Set(ctx, "k", []byte(value), "cli"); err != nil {
		t.Fatal(err)
	}
	ms, _ := s.List(ctx)
	b, _ := json.Marshal(ms)
	if strings.Contains(string(b), value) {
		t.Fatalf("listing holds the value: %s", b)
	}
	db.Close()
	for _, f := range []string{"riposte.db", "riposte.db-wal"} {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if bytes.Contains(raw, []byte(value)) {
			t.Fatalf("%s holds the value in the clear", f)
		}
	}
}

func TestWrongKeyAndMovedValues(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	ctx := context.Background()
	s, _ := New(db, bytes.Repeat([]byte{1}, 32))
	if err := s.Set(ctx, "alpha", []byte("value-a"), "cli"); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "beta", []byte("value-b"), "cli"); err != nil {
		t.Fatal(err)
	}
	other, _ := New(db, bytes.Repeat([]byte{2}, 32))
	err := other.Verify(ctx)
	if err == nil || !strings.Contains(err.Error(), "secret alpha cannot be decrypted") {
		t.Fatalf("Verify with the wrong key: %v, want an error naming alpha", err)
	}
	// A sealed value copied onto another name does not open there.
	if _, err := db.W.ExecContext(ctx, `UPDATE secrets SET nonce = (SELECT nonce FROM secrets WHERE name = 'alpha'),
		sealed = (SELECT sealed FROM secrets WHERE name = 'alpha') WHERE name = 'beta'`); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Get(ctx, "beta"); err == nil || strings.Contains(err.Error(), "value-a") {
		t.Fatalf("moved value opened under another name: %q, %v", v, err)
	}
	if v, err := s.Get(ctx, "alpha"); err != nil || string(v) != "value-a" {
		t.Fatalf("alpha = %q, %v", v, err)
	}
}

func TestKeyFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	key := bytes.Repeat([]byte{9}, 32)
	t.Setenv(KeyEnv, base64.StdEncoding.EncodeToString(key))
	k, err := LoadKey(dir)
	if err != nil || !bytes.Equal(k, key) {
		t.Fatalf("LoadKey = %x, %v", k, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file was written although %s is set: %v", KeyEnv, err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString([]byte("short"))} {
		t.Setenv(KeyEnv, bad)
		if _, err := LoadKey(dir); err == nil || !strings.Contains(err.Error(), KeyEnv) {
			t.Fatalf("LoadKey(%q) = %v, want an error naming %s", bad, err, KeyEnv)
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"vendor-api", true}, {"webhooks/phishing-report", true}, {"a.b_c", true},
		{"", false}, {"/x", false}, {"x/", false}, {"a//b", false}, {"a/../b", false}, {"a b", false},
		{"-x", false}, {strings.Repeat("a", 129), false},
	} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
	s, _ := New(openDB(t, t.TempDir()), bytes.Repeat([]byte{1}, 32))
	ctx := context.Background()
	if err := s.Set(ctx, "x", nil, "cli"); err == nil {
		t.Fatal("an empty value was stored")
	}
	if err := s.Set(ctx, "x", make([]byte, MaxValue+1), "cli"); err == nil {
		t.Fatal("an oversized value was stored")
	}
}
