package store

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
)

// Database files, their WAL and shared-memory files included, are the
// owner's alone, whether new or left readable by an older version.
func TestFilesOwnerOnly(t *testing.T) {
	for _, c := range []struct {
		name    string
		prepare func(path string)
	}{
		{"new", func(string) {}},
		{"existing 0644", func(path string) {
			db, err := Open(path, "normal", nil)
			if err != nil {
				t.Fatal(err)
			}
			db.Close()
			if err := os.Chmod(path, 0o644); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.db")
			c.prepare(path)
			db, err := Open(path, "normal", []Migration{`CREATE TABLE t (v INTEGER)`})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if err := db.Tx(context.Background(), func(tx *sql.Tx) error {
				_, err := tx.Exec(`INSERT INTO t VALUES (1)`)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			for _, p := range []string{path, path + "-wal", path + "-shm"} {
				st, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if m := st.Mode().Perm(); m&0o077 != 0 {
					t.Errorf("%s has mode %v, want no group or other access", filepath.Base(p), m)
				}
			}
		})
	}
}

// The mode asked for is the one every commit of the writer uses; an empty
// mode means full, so a caller that forgets to choose gets fsync.
func TestSynchronousInEffect(t *testing.T) {
	for _, c := range []struct{ ask, want string }{
		{"", "full"},
		{"full", "full"},
		{"normal", "normal"},
		{"off", "off"},
	} {
		t.Run("ask "+c.ask, func(t *testing.T) {
			db, err := Open(filepath.Join(t.TempDir(), "x.db"), c.ask, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			got, err := db.Synchronous(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("synchronous = %s, want %s", got, c.want)
			}
		})
	}
}
