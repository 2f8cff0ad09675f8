// Package secret keeps credentials that playbooks and connectors send to
// other products (API tokens, webhook signing keys). Values are sealed with
// AES-256-GCM before they reach the control database, are never returned
// by the API or listed, and are read only at the moment they are used, so
// setting a secret again rotates it without a restart.
package secret

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/riposte-soar/riposte/audit"
	"github.com/riposte-soar/riposte/internal/atomicfile"
	"github.com/riposte-soar/riposte/store"
)

// KeyFile is the key's file in the data directory; KeyEnv, when set, holds
// the key instead (base64 of 32 bytes) and takes precedence, so the key can
// live apart from the database it protects.
const (
	KeyFile = "secret.key"
	KeyEnv  = "RIPOSTE_SECRET_KEY"
)

// Ref is the prefix of a reference to a stored secret in configuration and
// playbooks: secret://NAME.
const Ref = "secret://"

// MaxValue bounds one secret's value: credentials are small, and a large
// value is a mistake (a file of the wrong kind).
const MaxValue = 64 << 10

// ErrNotFound is returned for a name the store does not hold.
var ErrNotFound = errors.New("no such secret")

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$`)

// CheckName refuses names that cannot be written in a reference or a URL
// path without ambiguity.
func CheckName(name string) error {
	if !nameRE.MatchString(name) || strings.Contains(name, "//") || strings.HasSuffix(name, "/") ||
		strings.Contains(name, "/../") || strings.HasSuffix(name, "/..") || strings.Contains(name, "/./") {
		return fmt.Errorf("secret name %q: want 1 to 128 letters, digits, '.', '_', '-' or '/' (not first, last or doubled)", name)
	}
	return nil
}

// ParseRef returns NAME for "secret://NAME"; ok is false for a value that is
// not a reference.
func ParseRef(s string) (name string, ok bool, err error) {
	n, ok := strings.CutPrefix(s, Ref)
	if !ok {
		return "", false, nil
	}
	return n, true, CheckName(n)
}

// Meta is what may be known about a secret without its value.
type Meta struct {
	Name      string    `json:"name"`
	Size      int       `json:"size"`
	CreatedAt time.Time `json:"created_at"`
	CreatedBy string    `json:"created_by"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Store holds secrets in the control database.
type Store struct {
	db   *store.DB
	aead cipher.AEAD
}

// LoadKey returns the key from KeyEnv, or from DATA/secret.key, which is
// created (0600) on first use.
func LoadKey(data string) ([]byte, error) {
	if v := os.Getenv(KeyEnv); v != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		if err != nil || len(k) != 32 {
			return nil, fmt.Errorf("%s must be the base64 of 32 bytes (openssl rand -base64 32)", KeyEnv)
		}
		return k, nil
	}
	path := filepath.Join(data, KeyFile)
	k, err := readKey(path)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		return k, err
	}
	if err := os.MkdirAll(data, 0o700); err != nil {
		return nil, err
	}
	k = make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	if err := atomicfile.Create(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		if errors.Is(err, os.ErrExist) {
			// Another process (the server, a CLI) made it first: use
			// theirs, or the secrets it sealed would be unreadable.
			return readKey(path)
		}
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return k, nil
}

func readKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(k) != 32 {
		return nil, fmt.Errorf("%s does not hold a key (the base64 of 32 bytes)", path)
	}
	return k, nil
}

// New wraps the control database with a 32-byte key.
func New(db *store.DB, key []byte) (*Store, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key is %d bytes, want 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, aead: g}, nil
}

// Open loads the key for the data directory and wraps its control database.
func Open(db *store.DB, data string) (*Store, error) {
	k, err := LoadKey(data)
	if err != nil {
		return nil, err
	}
	return New(db, k)
}

// ad binds a sealed value to its name: a value copied to another name's row
// does not open.
func ad(name string) []byte { return []byte("riposte secret v1\x00" + name) }

// Set stores or replaces a secret; the change and its audit entry (name,
// size, whether it replaced one; never the value) commit together.
func (s *Store) Set(ctx context.Context, name string, value []byte, by string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	if len(value) == 0 {
		return fmt.Errorf("secret %s: the value is empty", name)
	}
	if len(value) > MaxValue {
		return fmt.Errorf("secret %s: the value is %d bytes, over the limit of %d", name, len(value), MaxValue)
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	sealed := s.aead.Seal(nil, nonce, value, ad(name))
	now := time.Now().UTC().UnixNano()
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE secrets SET nonce = ?, sealed = ?, size = ?, updated_at = ?, updated_by = ? WHERE name = ?`,
			nonce, sealed, len(value), now, by, name)
		if err != nil {
			return err
		}
		action := "secret.rotate"
		if n, _ := res.RowsAffected(); n == 0 {
			action = "secret.create"
			if _, err := tx.ExecContext(ctx, `INSERT INTO secrets (name, nonce, sealed, size, created_at, created_by, updated_at, updated_by) VALUES (?,?,?,?,?,?,?,?)`,
				name, nonce, sealed, len(value), now, by, now, by); err != nil {
				return err
			}
		}
		d, _ := json.Marshal(map[string]any{"name": name, "size": len(value)})
		return audit.AppendTx(ctx, tx, by, action, "secret:"+name, d)
	})
}

// Get returns a secret's value. A value that does not open names the
// secret and the likely cause, never the value.
func (s *Store) Get(ctx context.Context, name string) ([]byte, error) {
	var nonce, sealed []byte
	err := s.db.R.QueryRowContext(ctx, `SELECT nonce, sealed FROM secrets WHERE name = ?`, name).Scan(&nonce, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("secret %s: %w (riposte secret set %s)", name, ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	v, err := s.aead.Open(nil, nonce, sealed, ad(name))
	if err != nil {
		return nil, fmt.Errorf("secret %s cannot be decrypted: the key (%s or %s) is not the one it was stored with, or the row was altered", name, KeyFile, KeyEnv)
	}
	return v, nil
}

// Exists reports whether name is stored.
func (s *Store) Exists(ctx context.Context, name string) (bool, error) {
	var n int
	err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM secrets WHERE name = ?`, name).Scan(&n)
	return n > 0, err
}

// Verify opens every stored secret, so a node started with the wrong key
// stops at once, naming a secret it cannot read, rather than at the first
// playbook that needs one.
func (s *Store) Verify(ctx context.Context) error {
	ms, err := s.List(ctx)
	if err != nil {
		return err
	}
	for _, m := range ms {
		if _, err := s.Get(ctx, m.Name); err != nil {
			return err
		}
	}
	return nil
}

// List returns every secret's metadata, by name; never a value.
func (s *Store) List(ctx context.Context) ([]Meta, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT name, size, created_at, created_by, updated_at, updated_by FROM secrets ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Meta
	for rows.Next() {
		var m Meta
		var c, u int64
		if err := rows.Scan(&m.Name, &m.Size, &c, &m.CreatedBy, &u, &m.UpdatedBy); err != nil {
			return nil, err
		}
		m.CreatedAt, m.UpdatedAt = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
		out = append(out, m)
	}
	return out, rows.Err()
}

// Delete removes a secret, audited in the same transaction.
func (s *Store) Delete(ctx context.Context, name string, by string) error {
	return s.db.Tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM secrets WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("secret %s: %w", name, ErrNotFound)
		}
		d, _ := json.Marshal(map[string]any{"name": name})
		return audit.AppendTx(ctx, tx, by, "secret.delete", "secret:"+name, d)
	})
}

// Resolve returns the value of "secret://NAME" as a string, for headers
// and signing keys.
func (s *Store) Resolve(ctx context.Context, ref string) (string, error) {
	name, ok, err := ParseRef(ref)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("%q is not a secret:// reference", ref)
	}
	v, err := s.Get(ctx, name)
	return string(v), err
}

// Meta returns one secret's metadata.
func (s *Store) Meta(ctx context.Context, name string) (Meta, error) {
	m := Meta{Name: name}
	var c, u int64
	err := s.db.R.QueryRowContext(ctx, `SELECT size, created_at, created_by, updated_at, updated_by FROM secrets WHERE name = ?`, name).
		Scan(&m.Size, &c, &m.CreatedBy, &u, &m.UpdatedBy)
	if errors.Is(err, sql.ErrNoRows) {
		return Meta{}, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	if err != nil {
		return Meta{}, err
	}
	m.CreatedAt, m.UpdatedAt = time.Unix(0, c).UTC(), time.Unix(0, u).UTC()
	return m, nil
}
