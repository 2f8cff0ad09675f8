package blob

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/riposte-soar/riposte/store"
)

// Schema is the blobs database: tables of their own (PostgreSQL schema
// "blobs") in the database of database.url. SQLite gets the same tables,
// so that the SQL store runs, and is tested, on both.
//
// A blob's bytes are rows of blob_chunks under an upload id; blobs maps a
// hash to the upload that stored it whole. Chunks are written as they
// arrive, each in its own statement (no transaction stays open while a
// slow agent uploads), and the blob exists once its blobs row does.
var Schema = store.Schema{Name: "blobs",
	SQLite: []store.Migration{`CREATE TABLE blobs (
		sha256    TEXT PRIMARY KEY,
		size      INTEGER NOT NULL,
		upload    TEXT NOT NULL,
		stored_at INTEGER NOT NULL
	);
	CREATE TABLE blob_chunks (
		upload     TEXT NOT NULL,
		seq        INTEGER NOT NULL,
		data       BLOB NOT NULL,
		started_at INTEGER NOT NULL,
		PRIMARY KEY (upload, seq)
	);`},
	Postgres: []store.Migration{`CREATE TABLE blobs (
		sha256    TEXT PRIMARY KEY,
		size      BIGINT NOT NULL,
		upload    TEXT NOT NULL,
		stored_at BIGINT NOT NULL
	);
	CREATE TABLE blob_chunks (
		upload     TEXT NOT NULL,
		seq        INTEGER NOT NULL,
		data       BYTEA NOT NULL,
		started_at BIGINT NOT NULL,
		PRIMARY KEY (upload, seq)
	);`},
}

// ChunkSize is the bytes of one blob_chunks row.
const ChunkSize = 1 << 20

// abandonedAfter is how old the chunks of an upload that never finished
// (its node died) must be before OpenSQL deletes them.
const abandonedAfter = 24 * time.Hour

// SQL keeps blobs in a database (Schema): PostgreSQL in cluster mode.
type SQL struct {
	db   *store.DB
	kind string
}

// OpenSQL opens the blobs schema at target (a postgres:// URL, or a SQLite
// file) and removes the chunks of uploads abandoned long ago.
func OpenSQL(ctx context.Context, target string) (*SQL, error) {
	db, err := store.OpenSchema(target, "full", Schema)
	if err != nil {
		return nil, err
	}
	s := &SQL{db: db, kind: db.Dialect.String()}
	if _, err := db.W.ExecContext(ctx, `DELETE FROM blob_chunks WHERE started_at < ? AND upload NOT IN (SELECT upload FROM blobs)`,
		time.Now().Add(-abandonedAfter).UnixNano()); err != nil {
		db.Close()
		return nil, fmt.Errorf("blobs: remove abandoned uploads: %w", err)
	}
	return s, nil
}

// Close closes the database.
func (s *SQL) Close() error { return s.db.Close() }

// Kind is "postgres" (or "sqlite" for the SQLite twin).
func (s *SQL) Kind() string { return s.kind }

func (s *SQL) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	if ok, err := s.Exists(ctx, sha); err != nil {
		return err
	} else if ok {
		return drain(r, sha, size)
	}
	var id [16]byte
	rand.Read(id[:])
	upload := hex.EncodeToString(id[:])
	started := time.Now().UnixNano()
	done := false
	defer func() {
		if !done {
			// Not stored: its chunks go (with a fresh context, so a
			// cancelled upload is cleaned up too).
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			s.db.W.ExecContext(cctx, `DELETE FROM blob_chunks WHERE upload = ?`, upload)
		}
	}()
	v := newVerifier(r, sha, size)
	buf := make([]byte, ChunkSize)
	for seq := 0; ; seq++ {
		n, err := io.ReadFull(v, buf)
		if n > 0 {
			if _, err := s.db.W.ExecContext(ctx, `INSERT INTO blob_chunks (upload, seq, data, started_at) VALUES (?,?,?,?)`,
				upload, seq, buf[:n], started); err != nil {
				return fmt.Errorf("blobs: store chunk %d of %s: %w", seq, sha, err)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	// The upload counts once its row is in; if another upload of the same
	// blob got there first, this one's chunks go.
	res, err := s.db.W.ExecContext(ctx, `INSERT INTO blobs (sha256, size, upload, stored_at) VALUES (?,?,?,?) ON CONFLICT (sha256) DO NOTHING`,
		sha, size, upload, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("blobs: record %s: %w", sha, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		done = true
	}
	return nil
}

func (s *SQL) Open(ctx context.Context, sha string) (io.ReadCloser, int64, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return nil, 0, err
	}
	var size int64
	var upload string
	err = s.db.R.QueryRowContext(ctx, `SELECT size, upload FROM blobs WHERE sha256 = ?`, sha).Scan(&size, &upload)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, fmt.Errorf("blob %s: %w", sha, ErrNotExist)
	} else if err != nil {
		return nil, 0, err
	}
	return &chunkReader{ctx: ctx, db: s.db, upload: upload, left: size}, size, nil
}

// chunkReader reads a blob one chunk row at a time.
type chunkReader struct {
	ctx    context.Context
	db     *store.DB
	upload string
	seq    int
	buf    []byte
	left   int64 // bytes not yet fetched
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.left <= 0 {
			return 0, io.EOF
		}
		c.buf = c.buf[:0]
		err := c.db.R.QueryRowContext(c.ctx, `SELECT data FROM blob_chunks WHERE upload = ? AND seq = ?`, c.upload, c.seq).Scan(&c.buf)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, fmt.Errorf("blob chunk %d of upload %s is missing: %w", c.seq, c.upload, io.ErrUnexpectedEOF)
		} else if err != nil {
			return 0, err
		}
		if len(c.buf) == 0 {
			return 0, fmt.Errorf("blob chunk %d of upload %s is empty: %w", c.seq, c.upload, io.ErrUnexpectedEOF)
		}
		c.seq++
		c.left -= int64(len(c.buf))
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *chunkReader) Close() error { return nil }

func (s *SQL) Exists(ctx context.Context, sha string) (bool, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return false, err
	}
	var one int
	err = s.db.R.QueryRowContext(ctx, `SELECT 1 FROM blobs WHERE sha256 = ?`, sha).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

func (s *SQL) Delete(ctx context.Context, sha string) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var upload string
		err := tx.QueryRowContext(ctx, `DELETE FROM blobs WHERE sha256 = ? RETURNING upload`, sha).Scan(&upload)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		} else if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM blob_chunks WHERE upload = ?`, upload)
		return err
	})
}
