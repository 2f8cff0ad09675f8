package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/event"
	"github.com/riposte-soar/riposte/store"
)

// User is a person who signs in to the console. People carry the same
// roles as tokens, except ingest, which is for log shippers.
type User struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Role     Role   `json:"role"`
	Disabled bool   `json:"disabled"`
	// Source is "local" for a user with a password kept here, or
	// "oidc:<issuer>" for one an OpenID provider vouches for.
	Source    string     `json:"source"`
	CreatedAt time.Time  `json:"created_at"`
	CreatedBy string     `json:"created_by"`
	LastLogin *time.Time `json:"last_login,omitempty"`
}

// Actor is how the user's changes are named in the audit log.
func (u User) Actor() string { return "user:" + u.Name }

// SourceLocal is the Source of users with a local password.
const SourceLocal = "local"

var (
	// ErrBadCredentials is the one answer to a failed sign-in, whether the
	// name is unknown, the password wrong or the user disabled, so the
	// answer does not tell which names exist.
	ErrBadCredentials = errors.New("wrong user name or password")
	// ErrUnknownUser is returned by changes to a user that does not exist.
	ErrUnknownUser = errors.New("no such user")
	// ErrUserExists is returned when a name is already taken (names are
	// compared without regard to case).
	ErrUserExists = errors.New("a user with this name exists")
	// ErrDisabled is returned when a disabled user signs in through an
	// OpenID provider or a session is started for one.
	ErrDisabled = errors.New("the user is disabled")
	// ErrWeakPassword wraps every password the policy refuses.
	ErrWeakPassword = errors.New("password refused")
	// ErrNotLocal is returned when a password is set for a user whose
	// sign-in belongs to an OpenID provider.
	ErrNotLocal = errors.New("the user signs in through an OpenID provider and has no password here")
)

// MinPassword and MaxPassword bound a password's length in characters
// (MaxPassword in bytes): long enough to resist guessing offline should the
// database leak, short enough that hashing a request body is not a lever.
const (
	MinPassword = 12
	MaxPassword = 1024
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$`)

// CheckName refuses user names that would be ambiguous in the audit log
// ("user:<name>") or confusable on screen: ASCII letters, digits and
// . _ @ + - only, so an e-mail address is a valid name.
func CheckName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("user name %q: want 1 to 128 ASCII letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit", name)
	}
	return nil
}

// CheckPassword applies the password policy: at least MinPassword
// characters, at most MaxPassword bytes, and not the user's name.
func CheckPassword(name, password string) error {
	switch {
	case utf8.RuneCountInString(password) < MinPassword:
		return fmt.Errorf("%w: it has %d characters, at least %d are needed", ErrWeakPassword, utf8.RuneCountInString(password), MinPassword)
	case len(password) > MaxPassword:
		return fmt.Errorf("%w: it is longer than %d bytes", ErrWeakPassword, MaxPassword)
	case !utf8.ValidString(password):
		return fmt.Errorf("%w: it is not valid UTF-8", ErrWeakPassword)
	case strings.EqualFold(strings.TrimSpace(password), strings.TrimSpace(name)):
		return fmt.Errorf("%w: it is the user's name", ErrWeakPassword)
	}
	return nil
}

// CheckPersonRole refuses roles people cannot hold (ingest, unknown ones).
func CheckPersonRole(r Role) error {
	if _, err := ParseRole(string(r)); err != nil {
		return err
	}
	if r == Ingest {
		return errors.New("role ingest is for log shippers' tokens, not people (want viewer, analyst, responder or admin)")
	}
	return nil
}

// HashParams are argon2id's costs. The default is RFC 9106's second
// recommended option (64 MiB, 3 passes, 4 lanes): strong on a server
// without the 2 GiB of the first option. Each stored hash carries its own
// parameters, so changing them keeps old hashes valid; a user's hash is
// upgraded at their next sign-in.
type HashParams struct {
	Memory  uint32 // KiB
	Time    uint32 // passes
	Threads uint8  // lanes
}

// DefaultHash is RFC 9106 §4, second recommended option.
var DefaultHash = HashParams{Memory: 64 * 1024, Time: 3, Threads: 4}

const (
	saltLen = 16
	keyLen  = 32
)

// Bounds on parameters read back from the database: a tampered or corrupt
// row must not make a sign-in allocate gigabytes.
const (
	maxMemory = 1 << 20 // KiB: 1 GiB
	maxTime   = 64
)

var b64 = base64.RawStdEncoding

// encode returns the PHC string of an argon2id hash of password with a
// fresh random salt.
func (p HashParams) encode(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// phc is a decoded PHC argon2id string.
type phc struct {
	HashParams
	salt, key []byte
}

func decodePHC(s string) (phc, error) {
	var h phc
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return h, errors.New("not an argon2id PHC string")
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return h, fmt.Errorf("argon2 version %q is not %d", parts[2], argon2.Version)
	}
	var threads uint32
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &h.Memory, &h.Time, &threads); err != nil {
		return h, fmt.Errorf("argon2 parameters %q: %v", parts[3], err)
	}
	if h.Memory < 8 || h.Memory > maxMemory || h.Time < 1 || h.Time > maxTime || threads < 1 || threads > 255 {
		return h, fmt.Errorf("argon2 parameters %q are out of bounds", parts[3])
	}
	h.Threads = uint8(threads)
	var err error
	if h.salt, err = b64.DecodeString(parts[4]); err != nil || len(h.salt) < 8 {
		return h, errors.New("argon2 salt is not base64 of at least 8 bytes")
	}
	if h.key, err = b64.DecodeString(parts[5]); err != nil || len(h.key) < 16 || len(h.key) > 64 {
		return h, errors.New("argon2 hash is not base64 of 16 to 64 bytes")
	}
	return h, nil
}

func (h phc) matches(password string) bool {
	k := argon2.IDKey([]byte(password), h.salt, h.Time, h.Memory, h.Threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(k, h.key) == 1
}

// UserOptions tunes Users; the zero value is the production setting.
type UserOptions struct {
	// Idle ends a session unused this long (default 30m).
	Idle time.Duration
	// Absolute ends a session this long after it started, used or not
	// (default 12h).
	Absolute time.Duration
	// Hash are the argon2id costs of new hashes (default DefaultHash).
	Hash HashParams
	// MaxHashing bounds argon2 computations running at once (default 2):
	// each takes Hash.Memory, so a flood of sign-ins waits its turn
	// instead of exhausting memory.
	MaxHashing int
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
}

// Users keeps people and their sessions in the control database. Every
// change commits with its audit entry.
type Users struct {
	db   *store.DB
	opts UserOptions
	sem  chan struct{}

	dummyOnce sync.Once
	dummy     phc
}

// NewUsers wraps the control database.
func NewUsers(db *store.DB, opts UserOptions) *Users {
	if opts.Idle <= 0 {
		opts.Idle = 30 * time.Minute
	}
	if opts.Absolute <= 0 {
		opts.Absolute = 12 * time.Hour
	}
	if opts.Hash == (HashParams{}) {
		opts.Hash = DefaultHash
	}
	if opts.MaxHashing <= 0 {
		opts.MaxHashing = 2
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Users{db: db, opts: opts, sem: make(chan struct{}, opts.MaxHashing)}
}

// Options returns the options in force, defaults filled in.
func (u *Users) Options() UserOptions { return u.opts }

func (u *Users) now() time.Time { return u.opts.Now().UTC() }

// hashing runs fn while holding one of the MaxHashing slots.
func (u *Users) hashing(ctx context.Context, fn func()) error {
	select {
	case u.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.sem }()
	fn()
	return nil
}

func (u *Users) hash(ctx context.Context, password string) (string, error) {
	var enc string
	var err error
	if e := u.hashing(ctx, func() { enc, err = u.opts.Hash.encode(password) }); e != nil {
		return "", e
	}
	return enc, err
}

// dummyHash is what unknown names are checked against, so that they take
// as long to refuse as a wrong password. It is made on first use: the CLI
// never needs it.
func (u *Users) dummyHash() phc {
	u.dummyOnce.Do(func() {
		var pw [16]byte
		_, _ = rand.Read(pw[:])
		enc, err := u.opts.Hash.encode(string(pw[:]))
		if err == nil {
			u.dummy, err = decodePHC(enc)
		}
		if err != nil {
			panic("auth: dummy hash: " + err.Error()) // only a broken rand or params
		}
	})
	return u.dummy
}

const userCols = `id, name, role, disabled, source, created_at, created_by, last_login`

type scanner interface{ Scan(...any) error }

func scanUser(r scanner, extra ...any) (User, error) {
	var x User
	var created int64
	var last sql.NullInt64
	if err := r.Scan(append([]any{&x.ID, &x.Name, &x.Role, &x.Disabled, &x.Source, &created, &x.CreatedBy, &last}, extra...)...); err != nil {
		return User{}, err
	}
	x.CreatedAt = time.Unix(0, created).UTC()
	if last.Valid {
		t := time.Unix(0, last.Int64).UTC()
		x.LastLogin = &t
	}
	return x, nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func getUser(ctx context.Context, q querier, name string) (User, error) {
	x, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, fmt.Errorf("user %s: %w", name, ErrUnknownUser)
	}
	return x, err
}

func auditTx(ctx context.Context, tx *sql.Tx, by, action string, x User, detail map[string]any) error {
	if detail == nil {
		detail = map[string]any{}
	}
	detail["name"] = x.Name
	d, err := json.Marshal(detail)
	if err != nil {
		return err
	}
	return audit.AppendTx(ctx, tx, by, action, "user:"+x.Name, d)
}

// Add creates a local user with a password. by is the audit actor.
func (u *Users) Add(ctx context.Context, name string, role Role, password, by string) (User, error) {
	if err := CheckName(name); err != nil {
		return User{}, err
	}
	if err := CheckPersonRole(role); err != nil {
		return User{}, err
	}
	if err := CheckPassword(name, password); err != nil {
		return User{}, err
	}
	enc, err := u.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	now := u.now()
	x := User{ID: event.NewID(now), Name: name, Role: role, Source: SourceLocal, CreatedAt: now, CreatedBy: by}
	err = u.db.Tx(ctx, func(tx *sql.Tx) error {
		if err := taken(ctx, tx, name); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO users (id, name, role, source, password, created_at, created_by) VALUES (?,?,?,?,?,?,?)`,
			x.ID, x.Name, string(x.Role), x.Source, enc, now.UnixNano(), by); err != nil {
			return err
		}
		return auditTx(ctx, tx, by, "user.create", x, map[string]any{"role": x.Role, "source": x.Source})
	})
	if err != nil {
		return User{}, err
	}
	return x, nil
}

func taken(ctx context.Context, tx *sql.Tx, name string) error {
	var have string
	err := tx.QueryRowContext(ctx, `SELECT name FROM users WHERE name = ?`, name).Scan(&have)
	if err == nil {
		return fmt.Errorf("user %s: %w (as %s)", name, ErrUserExists, have)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	return err
}

// endSessionsTx ends the live sessions of a user and says how many.
func endSessionsTx(ctx context.Context, tx *sql.Tx, userID string, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL`, now.UnixNano(), userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// SetPassword replaces a local user's password and ends all their
// sessions: whoever knew the old one is signed out.
func (u *Users) SetPassword(ctx context.Context, name, password, by string) error {
	x, err := getUser(ctx, u.db.R, name)
	if err != nil {
		return err
	}
	if x.Source != SourceLocal {
		return fmt.Errorf("user %s: %w", x.Name, ErrNotLocal)
	}
	if err := CheckPassword(x.Name, password); err != nil {
		return err
	}
	enc, err := u.hash(ctx, password)
	if err != nil {
		return err
	}
	now := u.now()
	return u.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE users SET password = ? WHERE id = ? AND source = ?`, enc, x.ID, SourceLocal)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, ErrUnknownUser)
		}
		n, err := endSessionsTx(ctx, tx, x.ID, now)
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, by, "user.password", x, map[string]any{"sessions_ended": n})
	})
}

// SetDisabled disables or enables a user. Disabling ends their sessions
// and refuses their sign-ins, local or through an OpenID provider.
// Setting the state the user already has changes and audits nothing.
func (u *Users) SetDisabled(ctx context.Context, name string, disabled bool, by string) error {
	now := u.now()
	return u.db.Tx(ctx, func(tx *sql.Tx) error {
		x, err := getUser(ctx, tx, name)
		if err != nil {
			return err
		}
		if x.Disabled == disabled {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET disabled = ? WHERE id = ?`, disabled, x.ID); err != nil {
			return err
		}
		if !disabled {
			return auditTx(ctx, tx, by, "user.enable", x, nil)
		}
		n, err := endSessionsTx(ctx, tx, x.ID, now)
		if err != nil {
			return err
		}
		return auditTx(ctx, tx, by, "user.disable", x, map[string]any{"sessions_ended": n})
	})
}

// SetRole changes a user's role; their sessions carry the new role from
// their next request. A user of an OpenID provider gets the role of their
// claim back at their next sign-in.
func (u *Users) SetRole(ctx context.Context, name string, role Role, by string) error {
	if err := CheckPersonRole(role); err != nil {
		return err
	}
	return u.db.Tx(ctx, func(tx *sql.Tx) error {
		x, err := getUser(ctx, tx, name)
		if err != nil {
			return err
		}
		if x.Role == role {
			return nil
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), x.ID); err != nil {
			return err
		}
		return auditTx(ctx, tx, by, "user.role", x, map[string]any{"from": x.Role, "to": role})
	})
}

// Get returns one user by name (any case).
func (u *Users) Get(ctx context.Context, name string) (User, error) {
	return getUser(ctx, u.db.R, name)
}

// List returns every user, by name.
func (u *Users) List(ctx context.Context) ([]User, error) {
	rows, err := u.db.R.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		x, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Authenticate checks a local user's password and records the sign-in.
// Every refusal is ErrBadCredentials, and takes one argon2 computation
// whether the name exists or not. A context error is returned as is when
// the caller gave up waiting for a hashing slot.
func (u *Users) Authenticate(ctx context.Context, name, password string) (User, error) {
	var enc string
	x, err := scanUser(u.db.R.QueryRowContext(ctx, `SELECT `+userCols+`, password FROM users WHERE name = ?`, name), &enc)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return User{}, err
	}
	h, perr := decodePHC(enc)
	known := err == nil && perr == nil && x.Source == SourceLocal
	if !known {
		h = u.dummyHash()
	}
	var ok bool
	if len(password) > MaxPassword {
		password = password[:MaxPassword] // still spend the time; it cannot match
		known = false
	}
	if err := u.hashing(ctx, func() { ok = h.matches(password) }); err != nil {
		return User{}, err
	}
	if !known || !ok || x.Disabled {
		return User{}, ErrBadCredentials
	}
	now := u.now()
	// A hash made with other costs than today's is replaced now, while
	// the password is at hand.
	var rehash string
	if h.HashParams != u.opts.Hash {
		if rehash, err = u.hash(ctx, password); err != nil {
			return User{}, err
		}
	}
	err = u.db.Tx(ctx, func(tx *sql.Tx) error {
		if rehash != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET password = ? WHERE id = ? AND password = ?`, rehash, x.ID, enc); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE users SET last_login = ? WHERE id = ?`, now.UnixNano(), x.ID)
		return err
	})
	if err != nil {
		return User{}, err
	}
	x.LastLogin = &now
	return x, nil
}

// External returns the user an OpenID provider vouched for, creating it on
// first sign-in and taking its name and role from the provider's claims
// at every sign-in (both audited when they change). The user is found by
// issuer and subject, never by name, so a provider cannot claim a local
// user's or another provider's user's name: that is refused with
// ErrUserExists. A disabled user is refused with ErrDisabled.
func (u *Users) External(ctx context.Context, issuer, subject, name string, role Role) (User, error) {
	if issuer == "" || subject == "" {
		return User{}, errors.New("an OpenID user needs an issuer and a subject")
	}
	if err := CheckName(name); err != nil {
		return User{}, err
	}
	if err := CheckPersonRole(role); err != nil {
		return User{}, err
	}
	source := "oidc:" + issuer
	now := u.now()
	var x User
	err := u.db.Tx(ctx, func(tx *sql.Tx) error {
		var err error
		x, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE source = ? AND subject = ?`, source, subject))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if err := taken(ctx, tx, name); err != nil {
				return err
			}
			x = User{ID: event.NewID(now), Name: name, Role: role, Source: source, CreatedAt: now, CreatedBy: source, LastLogin: &now}
			if _, err := tx.ExecContext(ctx,
				`INSERT INTO users (id, name, role, source, subject, created_at, created_by, last_login) VALUES (?,?,?,?,?,?,?,?)`,
				x.ID, x.Name, string(x.Role), source, subject, now.UnixNano(), source, now.UnixNano()); err != nil {
				return err
			}
			return auditTx(ctx, tx, source, "user.create", x, map[string]any{"role": role, "source": source, "subject": subject})
		case err != nil:
			return err
		}
		if x.Disabled {
			return fmt.Errorf("user %s: %w", x.Name, ErrDisabled)
		}
		if x.Name != name {
			if !strings.EqualFold(x.Name, name) {
				if err := taken(ctx, tx, name); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, `UPDATE users SET name = ? WHERE id = ?`, name, x.ID); err != nil {
				return err
			}
			old := x.Name
			x.Name = name
			if err := auditTx(ctx, tx, source, "user.rename", x, map[string]any{"from": old}); err != nil {
				return err
			}
		}
		if x.Role != role {
			if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE id = ?`, string(role), x.ID); err != nil {
				return err
			}
			if err := auditTx(ctx, tx, source, "user.role", x, map[string]any{"from": x.Role, "to": role}); err != nil {
				return err
			}
			x.Role = role
		}
		x.LastLogin = &now
		_, err = tx.ExecContext(ctx, `UPDATE users SET last_login = ? WHERE id = ?`, now.UnixNano(), x.ID)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return x, nil
}
