// Package auth holds API tokens and the roles they carry. The API layer asks
// it who a bearer token belongs to and whether that role may use a route.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"

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
}

// ErrUnknownToken is returned for a token that does not exist or was revoked.
var ErrUnknownToken = errors.New("unknown or revoked token")

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

// Create makes a token and returns its secret, which is shown once.
func (s *Store) Create(ctx context.Context, name string, role Role, by string) (string, Token, error) {
	if strings.TrimSpace(name) == "" {
		return "", Token{}, errors.New("token name must not be empty")
	}
	if _, err := ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, err
	}
	secret := prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	now := time.Now().UTC()
	t := Token{ID: event.NewID(now), Name: name, Role: role, CreatedAt: now, CreatedBy: by}
	_, err := s.db.W.ExecContext(ctx,
		`INSERT INTO tokens (id, name, role, hash, created_at, created_by) VALUES (?,?,?,?,?,?)`,
		t.ID, t.Name, string(t.Role), hash(secret), now.UnixNano(), by)
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
		`SELECT id, name, role, created_at, created_by FROM tokens WHERE hash = ? AND revoked_at IS NULL`, hash(secret))
	var t Token
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &created, &t.CreatedBy); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return Token{}, ErrUnknownToken
		}
		return Token{}, err
	}
	t.CreatedAt = time.Unix(0, created).UTC()
	return t, nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	rows, err := s.db.R.QueryContext(ctx,
		`SELECT id, name, role, created_at, created_by, revoked_at FROM tokens ORDER BY id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		var t Token
		var created int64
		var revoked sql.NullInt64
		if err := rows.Scan(&t.ID, &t.Name, &t.Role, &created, &t.CreatedBy, &revoked); err != nil {
			return nil, err
		}
		t.CreatedAt = time.Unix(0, created).UTC()
		if revoked.Valid {
			r := time.Unix(0, revoked.Int64).UTC()
			t.RevokedAt = &r
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// Revoke disables a token. Revoking an unknown id is an error so a typo is noticed.
func (s *Store) Revoke(ctx context.Context, id string) error {
	res, err := s.db.W.ExecContext(ctx,
		`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, time.Now().UnixNano(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s: %w", id, ErrUnknownToken)
	}
	return nil
}

// Count returns how many tokens exist, revoked or not.
func (s *Store) Count(ctx context.Context) (int, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM tokens`).Scan(&n)
	return n, err
}
