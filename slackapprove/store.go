package slackapprove

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/auth"
	"github.com/riposte-soar/riposte/store"
)

// ErrNotLinked is returned for a Slack user or a Riposte user without a
// link.
var ErrNotLinked = errors.New("no Slack link")

// ErrLinked is returned when a Slack user is already linked to another
// Riposte user.
var ErrLinked = errors.New("the Slack user is linked to another Riposte user")

// slackIDRE is what Slack user IDs look like (U or W, then upper-case
// letters and digits); anything else is a typo.
var slackIDRE = regexp.MustCompile(`^[UW][A-Z0-9]{2,31}$`)

// CheckSlackID refuses a string that is not a Slack user ID.
func CheckSlackID(id string) error {
	if !slackIDRE.MatchString(id) {
		return fmt.Errorf("%q is not a Slack user ID (U or W then letters and digits, as in a profile's \"Copy member ID\")", id)
	}
	return nil
}

// Link is one Slack user who answers as one Riposte user.
type Link struct {
	SlackID   string    `json:"slack_id"`
	User      string    `json:"user"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
}

// Store keeps links, posted approvals and recent request signatures in the
// control database.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore returns the store of a control database.
func NewStore(db *store.DB) *Store { return &Store{db: db, now: time.Now} }

// Link makes slackID answer as the Riposte user name (which must exist);
// a user has at most one Slack ID, so linking again replaces it. Audited
// in the same transaction.
func (s *Store) Link(ctx context.Context, users *auth.Users, name, slackID, by string) (Link, error) {
	if err := CheckSlackID(slackID); err != nil {
		return Link{}, err
	}
	u, err := users.Get(ctx, name)
	if err != nil {
		return Link{}, err
	}
	l := Link{SlackID: slackID, User: u.Name, CreatedAt: s.now().UTC(), CreatedBy: by}
	err = s.db.Tx(ctx, func(tx *sql.Tx) error {
		var other string
		err := tx.QueryRowContext(ctx, `SELECT user_name FROM slack_links WHERE slack_id = ?`, slackID).Scan(&other)
		switch {
		case err == nil && other != u.Name:
			return fmt.Errorf("%s: %w (%s)", slackID, ErrLinked, other)
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM slack_links WHERE user_name = ?`, u.Name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO slack_links (slack_id, user_name, created_at, created_by) VALUES (?, ?, ?, ?)`,
			slackID, u.Name, l.CreatedAt.UnixNano(), by); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]any{"slack_id": slackID})
		return audit.AppendTx(ctx, tx, by, "user.slack_link", "user:"+u.Name, d)
	})
	if err != nil {
		return Link{}, err
	}
	return l, nil
}

// Unlink removes a user's Slack link, audited.
func (s *Store) Unlink(ctx context.Context, name, by string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		var id, canon string
		err := tx.QueryRowContext(ctx, `SELECT slack_id, user_name FROM slack_links WHERE user_name = ?`, name).Scan(&id, &canon)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("user %s: %w", name, ErrNotLinked)
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM slack_links WHERE slack_id = ?`, id); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]any{"slack_id": id})
		return audit.AppendTx(ctx, tx, by, "user.slack_unlink", "user:"+canon, d)
	})
}

// Links lists every link, by user name.
func (s *Store) Links(ctx context.Context) ([]Link, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT slack_id, user_name, created_at, created_by FROM slack_links ORDER BY user_name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Link
	for rows.Next() {
		var l Link
		var at int64
		if err := rows.Scan(&l.SlackID, &l.User, &at, &l.CreatedBy); err != nil {
			return nil, err
		}
		l.CreatedAt = time.Unix(0, at).UTC()
		out = append(out, l)
	}
	return out, rows.Err()
}

// UserOf returns the Riposte user name a Slack user answers as.
func (s *Store) UserOf(ctx context.Context, slackID string) (string, error) {
	var name string
	err := s.db.R.QueryRowContext(ctx, `SELECT user_name FROM slack_links WHERE slack_id = ?`, slackID).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("slack user %s: %w", slackID, ErrNotLinked)
	}
	return name, err
}

// claimPost records that inquiry id is being posted; false when it was
// already (by this node or another).
func (s *Store) claimPost(ctx context.Context, id string) (bool, error) {
	res, err := s.db.W.ExecContext(ctx, `INSERT INTO slack_posts (inquiry_id, posted_at) VALUES (?, ?) ON CONFLICT DO NOTHING`,
		id, s.now().UnixNano())
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// releasePost forgets a claim whose post failed, so it is tried again.
func (s *Store) releasePost(ctx context.Context, id string) error {
	_, err := s.db.W.ExecContext(ctx, `DELETE FROM slack_posts WHERE inquiry_id = ?`, id)
	return err
}

// posted reports which of ids were claimed.
func (s *Store) posted(ctx context.Context, id string) (bool, error) {
	var one int
	err := s.db.R.QueryRowContext(ctx, `SELECT 1 FROM slack_posts WHERE inquiry_id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// firstSeen records a request signature; false when it was seen before (a
// replay). Signatures older than keep are forgotten on the way: a request
// that old is refused by its timestamp anyway.
func (s *Store) firstSeen(ctx context.Context, sig string, keep time.Duration) (bool, error) {
	now := s.now()
	var first bool
	err := s.db.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM slack_seen WHERE at < ?`, now.Add(-keep).UnixNano()); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO slack_seen (signature, at) VALUES (?, ?) ON CONFLICT DO NOTHING`, sig, now.UnixNano())
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		first = n == 1
		return err
	})
	return first, err
}
