// Package pgtest gives tests a fresh PostgreSQL database, and runs a store's
// conformance tests against SQLite and PostgreSQL alike.
//
// The server is RIPOSTE_TEST_PG, by default the machine's PostgreSQL at
// 127.0.0.1:5432, database test, as user postgres (or root). Each test gets
// a database of its own, created through that one and dropped when the
// test ends. Without a server the test skips, and fails under CI=true
// (internal/testenv), where .ci/run starts PostgreSQL first.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"github.com/riposte-soar/riposte/internal/testenv"
)

// Defaults tried in turn when RIPOSTE_TEST_PG is not set.
var defaults = []string{
	"postgres://postgres@127.0.0.1:5432/test?sslmode=disable",
	"postgres://root@127.0.0.1:5432/test?sslmode=disable",
}

var (
	once    sync.Once
	baseURL string
	baseErr error
)

// base finds the server once per test binary.
func base() (string, error) {
	once.Do(func() {
		cands := defaults
		if u := os.Getenv("RIPOSTE_TEST_PG"); u != "" {
			cands = []string{u}
		}
		for _, u := range cands {
			if baseErr = ping(u); baseErr == nil {
				baseURL = u
				return
			}
		}
	})
	return baseURL, baseErr
}

func ping(u string) error {
	db, err := sql.Open("pgx", u)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return db.PingContext(ctx)
}

// URL creates an empty database for t and returns its postgres:// URL; the
// database is dropped, with whatever connections remain, when t ends.
func URL(t testing.TB) string {
	t.Helper()
	u, err := base()
	testenv.Need(t, err == nil, "a PostgreSQL server (set RIPOSTE_TEST_PG, or start the machine's: pg_ctlcluster <version> main start): %v", err)
	var b [6]byte
	rand.Read(b[:])
	name := "riposte_test_" + hex.EncodeToString(b[:])
	db, err := sql.Open("pgx", u)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`CREATE DATABASE ` + name); err != nil {
		db.Close()
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		defer db.Close()
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	p.Path = "/" + name
	return p.String()
}

// Each runs test twice, as subtests "sqlite" and "postgres": with target
// the path of a SQLite file in a fresh directory, then the URL of a fresh
// PostgreSQL database. A store's conformance suite is one such test: the
// same assertions against both implementations.
func Each(t *testing.T, test func(t *testing.T, target string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { test(t, filepath.Join(t.TempDir(), "riposte.db")) })
	t.Run("postgres", func(t *testing.T) { test(t, URL(t)) })
}
