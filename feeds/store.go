package feeds

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// tokenPrefix marks a feed token so it is told apart from an API token or
// a bouncer key in a log or a paste.
const tokenPrefix = "rpf_"

// list is the feed_serial row of the deny list (the only list so far; a
// domain list would be another row).
const list = "deny"

// ErrNotFound is returned for an unknown feed name.
var ErrNotFound = errors.New("no such feed")

// ErrUnknownToken is returned for a token no feed holds.
var ErrUnknownToken = errors.New("unknown feed token")

// Consumer is one registered feed consumer, a firewall (never its token).
type Consumer struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	// LastPoll is when it last fetched a feed (nil: never).
	LastPoll *time.Time `json:"last_poll,omitempty"`
	// LastAddr, UserAgent and LastFormat say from where, which software
	// and which format.
	LastAddr   string `json:"last_addr,omitempty"`
	UserAgent  string `json:"user_agent,omitempty"`
	LastFormat string `json:"last_format,omitempty"`
	// LastSerial is the serial it was last answered with; below the
	// current serial, it has not seen the latest change yet.
	LastSerial int64 `json:"last_serial"`
}

// Store keeps feed consumers, their tokens' hashes and the change counter
// in the control database.
type Store struct{ db *store.DB }

// NewStore wraps the control database.
func NewStore(db *store.DB) *Store { return &Store{db: db} }

// hash is plain SHA-256: tokens carry 160 random bits, so there is nothing
// for a slow hash to protect, and every poll looks one up.
func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Add registers a consumer and returns its token, which is shown once; by
// is the actor in the audit log.
func (s *Store) Add(ctx context.Context, name, by string) (string, Consumer, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 128 || strings.ContainsAny(name, "/\\:\x00\n\r\t") {
		return "", Consumer{}, fmt.Errorf("feed name %q: want 1-128 characters, no slashes, colons or control characters", name)
	}
	var b [20]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Consumer{}, err
	}
	token := tokenPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	now := time.Now().UTC()
	c := Consumer{ID: event.NewID(now), Name: name, CreatedAt: now, CreatedBy: by}
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM feeds WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("a feed named %q exists: delete it first or pick another name", name)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO feeds (id, name, hash, created_at, created_by) VALUES (?,?,?,?,?)`,
			c.ID, name, hash(token), now.UnixNano(), by); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]string{"name": name})
		return audit.AppendTx(ctx, tx, by, "feed.add", "feed:"+c.ID, d)
	})
	if err != nil {
		return "", Consumer{}, err
	}
	return token, c, nil
}

// Delete removes a consumer by name: its token stops working at once.
func (s *Store) Delete(ctx context.Context, name, by string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id string
		if err := tx.QueryRowContext(ctx, `SELECT id FROM feeds WHERE name = ?`, name).Scan(&id); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("feed %q: %w", name, ErrNotFound)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM feeds WHERE id = ?`, id); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]string{"name": name})
		return audit.AppendTx(ctx, tx, by, "feed.delete", "feed:"+id, d)
	})
}

// Authenticate returns the consumer holding token.
func (s *Store) Authenticate(ctx context.Context, token string) (Consumer, error) {
	if !strings.HasPrefix(token, tokenPrefix) {
		return Consumer{}, ErrUnknownToken
	}
	var c Consumer
	var created int64
	err := s.db.R.QueryRowContext(ctx, `SELECT id, name, created_at, created_by FROM feeds WHERE hash = ?`, hash(token)).
		Scan(&c.ID, &c.Name, &created, &c.CreatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Consumer{}, ErrUnknownToken
	}
	c.CreatedAt = time.Unix(0, created).UTC()
	return c, err
}

// List returns every consumer, by name.
func (s *Store) List(ctx context.Context) ([]Consumer, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, name, created_at, created_by, last_poll, last_addr, user_agent, last_format, last_serial
		FROM feeds ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Consumer{}
	for rows.Next() {
		var c Consumer
		var created, last int64
		if err := rows.Scan(&c.ID, &c.Name, &created, &c.CreatedBy, &last, &c.LastAddr, &c.UserAgent, &c.LastFormat, &c.LastSerial); err != nil {
			return nil, err
		}
		c.CreatedAt = time.Unix(0, created).UTC()
		if last != 0 {
			t := time.Unix(0, last).UTC()
			c.LastPoll = &t
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Poll returns the change counter for a feed whose content has digest,
// and records that consumer c was answered it in format. The counter is
// the same as last time when the digest is, one more when it changed.
// Nodes of a cluster sharing the database agree: the UPDATE only raises
// the counter while the stored digest differs, so two nodes seeing one
// change raise it once.
func (s *Store) Poll(ctx context.Context, c Consumer, digest, addr, agent, format string, now time.Time) (serial int64, changed time.Time, err error) {
	if len(agent) > 200 {
		agent = agent[:200]
	}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO feed_serial (list, serial, digest, changed_at) VALUES (?, 1, ?, ?)
			ON CONFLICT (list) DO NOTHING`, list, digest, now.UnixNano()); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE feed_serial SET serial = serial + 1, digest = ?, changed_at = ? WHERE list = ? AND digest <> ?`,
			digest, now.UnixNano(), list, digest); err != nil {
			return err
		}
		var at int64
		if err := tx.QueryRowContext(ctx, `SELECT serial, changed_at FROM feed_serial WHERE list = ?`, list).Scan(&serial, &at); err != nil {
			return err
		}
		changed = time.Unix(0, at).UTC()
		_, err := tx.ExecContext(ctx, `UPDATE feeds SET last_poll = ?, last_addr = ?, user_agent = ?, last_format = ?, last_serial = ? WHERE id = ?`,
			now.UnixNano(), addr, agent, format, serial, c.ID)
		return err
	})
	return serial, changed, err
}

// Current returns the change counter as the last poll left it (0 before
// any poll), to tell which consumers are behind.
func (s *Store) Current(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.R.QueryRowContext(ctx, `SELECT serial FROM feed_serial WHERE list = ?`, list).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
