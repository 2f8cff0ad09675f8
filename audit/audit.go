// Package audit keeps the append-only, hash-chained record of every change a
// person or an automation makes. Each entry's hash covers its content and the
// previous entry's hash, and the newest hash is kept as the chain's head, so
// altering, removing or reordering any row (the last one included) breaks
// verification at the first affected entry.
package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riposte-soar/riposte/internal/crashpoint"
	"github.com/riposte-soar/riposte/store"
)

// Entry is one recorded change.
type Entry struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`  // "token:<id> (<name>)", "cli", "system", "playbook:<run>"
	Action string          `json:"action"` // verb.noun, e.g. "token.create"
	Target string          `json:"target"` // what was changed
	Detail json.RawMessage `json:"detail"` // action-specific JSON
	Hash   string          `json:"hash"`
}

// Log appends to and verifies the chain in the control database.
type Log struct {
	db *store.DB
	// mu keeps appends of this process in order; across processes the
	// writer transaction (BEGIN IMMEDIATE) does.
	mu sync.Mutex
}

// New wraps the control database.
func New(db *store.DB) *Log { return &Log{db: db} }

const headKey = "audit.head"

func digest(prev []byte, seq int64, at int64, actor, action, target string, detail []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	var n [binary.MaxVarintLen64]byte
	h.Write(n[:binary.PutVarint(n[:], seq)])
	h.Write(n[:binary.PutVarint(n[:], at)])
	// Length prefixes keep field boundaries unambiguous.
	for _, s := range [][]byte{[]byte(actor), []byte(action), []byte(target), detail} {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write(s)
	}
	return h.Sum(nil)
}

// Append records one change. detail may be nil or any JSON-encodable value.
func (l *Log) Append(ctx context.Context, actor, action, target string, detail any) error {
	var d []byte
	if detail == nil {
		d = []byte("{}")
	} else {
		var err error
		if d, err = json.Marshal(detail); err != nil {
			return fmt.Errorf("audit detail: %w", err)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.db.Tx(ctx, func(tx *sql.Tx) error {
		return AppendTx(ctx, tx, actor, action, target, d)
	})
}

// AppendTx appends inside a caller's transaction, so that a change and its
// audit entry commit together or not at all. The caller's transaction
// holds the database's one writer (BEGIN IMMEDIATE), so concurrent
// appends are serialized and each reads the chain's true head.
func AppendTx(ctx context.Context, tx *sql.Tx, actor, action, target string, detail []byte) error {
	return appendAt(ctx, tx, time.Now(), actor, action, target, detail)
}

func appendAt(ctx context.Context, tx *sql.Tx, when time.Time, actor, action, target string, detail []byte) error {
	// Crash tests stop here: the change is written, its entry not yet.
	crashpoint.At("audit.append")
	var seq int64
	var prev []byte
	err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1`).Scan(&seq, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		seq, prev = 0, make([]byte, sha256.Size)
	} else if err != nil {
		return err
	}
	seq++
	at := when.UnixNano()
	h := digest(prev, seq, at, actor, action, target, detail)
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO audit (seq, at, actor, action, target, detail, prev, hash) VALUES (?,?,?,?,?,?,?,?)`,
		seq, at, actor, action, target, string(detail), prev, h); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
		headKey, strconv.FormatInt(seq, 10)+":"+hex.EncodeToString(h))
	return err
}

// Imported is an entry written elsewhere in the same transaction as its
// change (the engine's outbox: its database is not this one), numbered by
// its source.
type Imported struct {
	ID     int64
	At     time.Time
	Actor  string
	Action string
	Target string
	Detail []byte
}

// Import appends a source's entries to the chain in one transaction,
// with the source's high-water mark: entries at or below it were appended
// before (a crash came between this commit and the source forgetting
// them), so offering them again appends nothing twice.
func (l *Log) Import(ctx context.Context, source string, es []Imported) error {
	key := "audit.import." + source
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.db.Tx(ctx, func(tx *sql.Tx) error {
		var mark int64
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, key).Scan(&v)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		default:
			if mark, err = strconv.ParseInt(v, 10, 64); err != nil {
				return fmt.Errorf("audit import mark %s=%q: %w", key, v, err)
			}
		}
		for _, e := range es {
			if e.ID <= mark {
				continue
			}
			d := e.Detail
			if len(d) == 0 {
				d = []byte("{}")
			}
			if err := appendAt(ctx, tx, e.At, e.Actor, e.Action, e.Target, d); err != nil {
				return err
			}
			mark = e.ID
		}
		crashpoint.At("audit.import")
		_, err = tx.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, strconv.FormatInt(mark, 10))
		return err
	})
}

// Break describes the first place where the chain does not hold.
type Break struct {
	Seq    int64  `json:"seq"`
	Reason string `json:"reason"`
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit chain broken at entry %d: %s", b.Seq, b.Reason)
}

// Verify walks the whole chain. It returns the number of entries checked and
// the first break, or nil when every entry and the head agree.
func (l *Log) Verify(ctx context.Context) (int64, *Break, error) {
	rows, err := l.db.R.QueryContext(ctx,
		`SELECT seq, at, actor, action, target, detail, prev, hash FROM audit ORDER BY seq`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	prev := make([]byte, sha256.Size)
	var want, n int64 = 1, 0
	for rows.Next() {
		var seq, at int64
		var actor, action, target, detail string
		var p, h []byte
		if err := rows.Scan(&seq, &at, &actor, &action, &target, &detail, &p, &h); err != nil {
			return n, nil, err
		}
		n++
		switch {
		case seq != want:
			return n, &Break{Seq: want, Reason: fmt.Sprintf("entry %d is missing (next present is %d)", want, seq)}, nil
		case !bytes.Equal(p, prev):
			return n, &Break{Seq: seq, Reason: "previous-hash link does not match the entry before it (entries removed or reordered)"}, nil
		case !bytes.Equal(h, digest(p, seq, at, actor, action, target, []byte(detail))):
			return n, &Break{Seq: seq, Reason: "content does not match its hash (entry altered)"}, nil
		}
		prev, want = h, seq+1
	}
	if err := rows.Err(); err != nil {
		return n, nil, err
	}
	var head string
	err = l.db.R.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = ?`, headKey).Scan(&head)
	if errors.Is(err, sql.ErrNoRows) {
		if n == 0 {
			return 0, nil, nil
		}
		return n, &Break{Seq: n, Reason: "chain head record is missing"}, nil
	} else if err != nil {
		return n, nil, err
	}
	hs, hh, _ := strings.Cut(head, ":")
	headSeq, _ := strconv.ParseInt(hs, 10, 64)
	if headSeq != want-1 {
		return n, &Break{Seq: want, Reason: fmt.Sprintf("chain ends at entry %d but the head says %d (newest entries removed)", want-1, headSeq)}, nil
	}
	if hh != hex.EncodeToString(prev) {
		return n, &Break{Seq: headSeq, Reason: "newest entry does not match the chain head (altered)"}, nil
	}
	return n, nil, nil
}

// List returns entries after seq "after", oldest first, at most limit.
func (l *Log) List(ctx context.Context, after int64, limit int) ([]Entry, error) {
	rows, err := l.db.R.QueryContext(ctx,
		`SELECT seq, at, actor, action, target, detail, hash FROM audit WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var at int64
		var detail string
		var h []byte
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &detail, &h); err != nil {
			return nil, err
		}
		e.At = time.Unix(0, at).UTC()
		e.Detail = json.RawMessage(detail)
		e.Hash = hex.EncodeToString(h)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Head is the sequence number of the newest entry (0 for none): every
// change by a person or an automation moves it, so the console's live
// stream watches it. One probe of the primary key.
func (l *Log) Head(ctx context.Context) (int64, error) {
	var seq sql.NullInt64
	err := l.db.R.QueryRowContext(ctx, `SELECT MAX(seq) FROM audit`).Scan(&seq)
	return seq.Int64, err
}
