package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
)

// Session is a signed-in browser. Its cookie holds a random secret; the
// database holds only the secret's SHA-256, so reading the database does
// not let anyone take over a session.
type Session struct {
	ID   string `json:"id"`
	User User   `json:"user"`
	// CSRF is the token state-changing forms of this session carry; see
	// CheckCSRF.
	CSRF      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	LastSeen  time.Time `json:"last_seen"`
	// Expires is when the session ends whatever its use (CreatedAt plus
	// UserOptions.Absolute): the cookie's lifetime.
	Expires time.Time `json:"expires"`
	// From is the client address the session started from.
	From string `json:"from"`
}

// CheckCSRF reports, in constant time, whether token is this session's
// CSRF token.
func (s Session) CheckCSRF(token string) bool {
	return s.CSRF != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// ErrNoSession is the answer for a session that does not exist, was ended,
// expired, or whose user was disabled: the browser must sign in again.
var ErrNoSession = errors.New("no such session, or it ended: sign in again")

const sessionPrefix = "rps_"

// csrfFor derives a session's CSRF token from its secret with HMAC, so it
// is random per session and unguessable without the cookie, yet nothing
// more is stored: a copy of the database reveals neither.
func csrfFor(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("riposte console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// StartSession signs user in and returns the cookie's secret. Each call
// makes a new secret, so a session fixed before sign-in is never the one
// after it. from is the client's address, kept for the audit log.
func (u *Users) StartSession(ctx context.Context, user User, from string) (string, Session, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Session{}, err
	}
	secret := sessionPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	now := u.now()
	s := Session{ID: event.NewID(now), CSRF: csrfFor(secret), CreatedAt: now, LastSeen: now,
		Expires: now.Add(u.opts.Absolute), From: from}
	err := u.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		// The user as stored now, not as the caller last saw it.
		s.User, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, user.ID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", user.Name, ErrUnknownUser)
		}
		if err != nil {
			return err
		}
		if s.User.Disabled {
			return fmt.Errorf("user %s: %w", s.User.Name, ErrDisabled)
		}
		// Sessions past the absolute expiry can never be used again.
		if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE created_at < ?`, now.Add(-u.opts.Absolute).UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO sessions (id, hash, user_id, created_at, last_seen, from_addr) VALUES (?,?,?,?,?,?)`,
			s.ID, hash(secret), s.User.ID, now.UnixNano(), now.UnixNano(), from); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]string{"from": from, "source": s.User.Source})
		return audit.AppendTx(ctx, tx, s.User.Actor(), "session.start", "session:"+s.ID, d)
	})
	if err != nil {
		return "", Session{}, err
	}
	return secret, s, nil
}

// touchEvery is how stale LastSeen may get before a request writes it:
// the idle expiry is counted in minutes, and a write per request would
// make every page view contend for the database's one writer.
const touchEvery = time.Minute

// Session returns the live session for a cookie's secret and refreshes
// its last use.
func (u *Users) Session(ctx context.Context, secret string) (Session, error) {
	if !strings.HasPrefix(secret, sessionPrefix) {
		return Session{}, ErrNoSession
	}
	var s Session
	var created, seen int64
	var ended sql.NullInt64
	x, err := scanUser(u.db.R.QueryRowContext(ctx, `SELECT u.id, u.name, u.role, u.disabled, u.source, u.created_at, u.created_by, u.last_login,
		s.id, s.created_at, s.last_seen, s.ended_at, s.from_addr FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ?`, hash(secret)),
		&s.ID, &created, &seen, &ended, &s.From)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNoSession
	}
	if err != nil {
		return Session{}, err
	}
	s.User, s.CSRF = x, csrfFor(secret)
	s.CreatedAt, s.LastSeen = time.Unix(0, created).UTC(), time.Unix(0, seen).UTC()
	s.Expires = s.CreatedAt.Add(u.opts.Absolute)
	now := u.now()
	if ended.Valid || x.Disabled || !now.Before(s.Expires) || now.Sub(s.LastSeen) >= u.opts.Idle {
		return Session{}, ErrNoSession
	}
	if now.Sub(s.LastSeen) >= touchEvery {
		err := u.db.Tx(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `UPDATE sessions SET last_seen = ? WHERE id = ? AND ended_at IS NULL`, now.UnixNano(), s.ID)
			return err
		})
		if err != nil {
			return Session{}, err
		}
		s.LastSeen = now
	}
	return s, nil
}

// EndSession signs a session out (logout). An unknown or already ended
// session is ErrNoSession.
func (u *Users) EndSession(ctx context.Context, secret string) error {
	if !strings.HasPrefix(secret, sessionPrefix) {
		return ErrNoSession
	}
	now := u.now()
	return u.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, name string
		err := tx.QueryRowContext(ctx, `SELECT s.id, u.name FROM sessions s JOIN users u ON u.id = s.user_id
			WHERE s.hash = ? AND s.ended_at IS NULL`, hash(secret)).Scan(&id, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNoSession
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE id = ?`, now.UnixNano(), id); err != nil {
			return err
		}
		return audit.AppendTx(ctx, tx, User{Name: name}.Actor(), "session.end", "session:"+id, []byte("{}"))
	})
}
