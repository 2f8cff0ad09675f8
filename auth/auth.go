// Package auth holds API tokens and the roles they carry. The API layer asks
// it who a bearer token belongs to and whether that role may use a route.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// Role is what a token may do. Viewer < analyst < responder < admin each
// include the rights of the ones before; ingest is apart: it may only send
// events, so a log shipper's token cannot read or change anything.
type Role string

const (
	Viewer    Role = "viewer"
	Analyst   Role = "analyst"
	Responder Role = "responder"
	Admin     Role = "admin"
	Ingest    Role = "ingest"
)

// Roles lists every role, in the order the docs present them.
var Roles = []Role{Viewer, Analyst, Responder, Admin, Ingest}

var rank = map[Role]int{Viewer: 1, Analyst: 2, Responder: 3, Admin: 4}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	for _, k := range Roles {
		if r == k {
			return r, nil
		}
	}
	return "", fmt.Errorf("unknown role %q (want one of viewer, analyst, responder, admin, ingest)", s)
}

// Allows reports whether a token with role r may use a route that needs need.
func (r Role) Allows(need Role) bool {
	if r == need || r == Admin {
		return true
	}
	if need == Ingest {
		return false
	}
	return rank[r] >= rank[need] && rank[need] > 0
}

// Token is a stored token; the secret itself is never stored, only its hash.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      Role       `json:"role"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	// ExpiresAt, when set, is when the token stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ErrUnknownToken is returned for a token that does not exist or was revoked.
var ErrUnknownToken = errors.New("unknown or revoked token")

// ExpiredError is returned for a token past its expiry.
type ExpiredError struct{ At time.Time }

func (e *ExpiredError) Error() string {
	return "the token expired at " + e.At.UTC().Format(time.RFC3339) + ": create a new one (riposte token create)"
}

const prefix = "rpt_"

// Store keeps tokens in the control database.
type Store struct{ db *store.DB }

// NewStore wraps the control database.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// hash uses plain SHA-256: tokens carry 160 random bits, so there is nothing
// for a slow password hash to protect, and lookups stay one index probe.
func hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Create makes a token that never expires (see CreateExpiring).
func (s *Store) Create(ctx context.Context, name string, role Role, by string) (string, Token, error) {
	return s.CreateExpiring(ctx, name, role, by, time.Time{})
}

// CreateExpiring makes a token and returns its secret, which is shown once.
// A non-zero expires is when it stops working. The token and its audit
// entry (by is the actor) commit together.
func (s *Store) CreateExpiring(ctx context.Context, name string, role Role, by string, expires time.Time) (string, Token, error) {
	if strings.TrimSpace(name) == "" {
		return "", Token{}, errors.New("token name must not be empty")
	}
	now := time.Now().UTC()
	if !expires.IsZero() && !expires.After(now) {
		return "", Token{}, fmt.Errorf("token expiry %s is not in the future", expires.UTC().Format(time.RFC3339))
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, err
	}
	secret := prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	t := Token{ID: event.NewID(now), Name: name, Role: role, CreatedAt: now, CreatedBy: by}
	var exp any
	detail := map[string]string{"name": t.Name, "role": string(t.Role)}
	if !expires.IsZero() {
		e := expires.UTC()
		t.ExpiresAt, exp = &e, e.UnixNano()
		detail["expires_at"] = e.Format(time.RFC3339)
	}
	d, _ := json.Marshal(detail)
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO tokens (id, name, role, hash, created_at, created_by, expires_at) VALUES (?,?,?,?,?,?,?)`,
			t.ID, t.Name, string(t.Role), hash(secret), now.UnixNano(), by, exp); err != nil {
			return err
		}
		return audit.AppendTx(ctx, tx, by, "token.create", "token:"+t.ID, d)
	})
	if err != nil {
		return "", Token{}, fmt.Errorf("store token: %w", err)
	}
	return secret, t, nil
}

// Lookup returns the live token for a secret.
func (s *Store) Lookup(ctx context.Context, secret string) (Token, error) {
	if !strings.HasPrefix(secret, prefix) {
		return Token{}, ErrUnknownToken
	}
	row := s.db.R.QueryRowContext(ctx,
		`SELECT id, name, role, created_at, created_by, expires_at FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash(secret))
	var t Token
	var created int64
	var expires sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &created, &t.CreatedBy, &expires); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Token{}, ErrUnknownToken
		}
		return Token{}, err
	}
	t.CreatedAt = time.Unix(0, created).UTC()
	if expires.Valid {
		e := time.Unix(0, expires.Int64).UTC()
		if !time.Now().Before(e) {
			return Token{}, &ExpiredError{At: e}
		}
		t.ExpiresAt = &e
	}
	return t, nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.R.QueryContext(ctx,
		`SELECT id, name, role, created_at, created_by, revoked_at, expires_at FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created int64
		var revoked, expires sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &created, &t.CreatedBy, &revoked, &expires); err != nil {
			return nil, err
		}
		t.CreatedAt = time.Unix(0, created).UTC()
		if revoked.Valid {
			r := time.Unix(0, revoked.Int64).UTC()
			t.RevokedAt = &r
		}
		if expires.Valid {
			e := time.Unix(0, expires.Int64).UTC()
			t.ExpiresAt = &e
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Revoke disables a token for the system (see RevokeBy).
func (s *Store) Revoke(ctx context.Context, id string) error { return s.RevokeBy(ctx, id, "system") }

// RevokeBy disables a token; the revocation and its audit entry (by is the
// actor) commit together. Revoking an unknown id is an error so a typo is
// noticed, and audits nothing.
func (s *Store) RevokeBy(ctx context.Context, id, by string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx,
			`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, time.Now().UnixNano(), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("token %s: %w", id, ErrUnknownToken)
		}
		return audit.AppendTx(ctx, tx, by, "token.revoke", "token:"+id, []byte("{}"))
	})
}

// Count returns how many tokens exist, revoked or not.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n)
	return n, err
}

// ParseExpiry reads when a token should expire: a duration from now ("12h",
// "30d", "2w"; Go durations and whole days or weeks) or an RFC 3339 time.
// "" means never (zero time).
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	var d time.Duration
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}[s[len(s)-1]]
	if n, err := strconv.Atoi(s[:len(s)-1]); unit > 0 && err == nil {
		if n <= 0 || n > 36500 {
			return time.Time{}, fmt.Errorf("expiry %q: want a positive number of days or weeks (at most 100 years)", s)
		}
		d = time.Duration(n) * unit
	} else if d, err = time.ParseDuration(s); err != nil {
		return time.Time{}, fmt.Errorf("expiry %q: want a duration (12h, 30d, 2w) or an RFC 3339 time", s)
	}
	if d <= 0 {
		return time.Time{}, fmt.Errorf("expiry %q must be in the future", s)
	}
	return now.Add(d), nil
}
