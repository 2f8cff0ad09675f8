// Package blob keeps content-addressed blobs (evidence uploaded by host
// agents, package fleet) by their SHA-256, in one of three places chosen by
// configuration (evidence.store): files under the data directory (one node,
// the default), the NATS JetStream object store (replicated across a NATS
// cluster) or PostgreSQL (the cluster's database). Every node of a cluster
// then reads what any node stored.
//
// Every Store hashes the bytes as they arrive and stores nothing that does
// not match the hash and size declared; bytes are streamed, never held
// whole in memory.
package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"
)

// Store keeps blobs by SHA-256. Hashes are 64 lowercase hex characters.
type Store interface {
	// Put stores the size bytes r yields under sha. The bytes are hashed
	// as they are read; if they do not hash to sha or are not size long,
	// nothing is stored and the error wraps ErrMismatch. Putting a blob
	// that is already stored verifies r the same way and keeps the copy
	// there is.
	Put(ctx context.Context, sha string, size int64, r io.Reader) error
	// Open reads a stored blob and tells its size; a missing blob's error
	// wraps fs.ErrNotExist.
	Open(ctx context.Context, sha string) (io.ReadCloser, int64, error)
	// Exists reports whether sha is stored.
	Exists(ctx context.Context, sha string) (bool, error)
	// Delete removes sha; deleting a missing blob is not an error.
	Delete(ctx context.Context, sha string) error
	// Kind names the implementation: files, nats or postgres.
	Kind() string
}

// ErrMismatch marks bytes that do not hash to, or are not as long as,
// what was declared.
var ErrMismatch = errors.New("blob content does not match its declared hash or size")

// ErrNotExist is what Open and Delete report of a blob that is not stored.
var ErrNotExist = fs.ErrNotExist

// CheckHash validates sha and returns it in lower case.
func CheckHash(sha string) (string, error) {
	sha = strings.ToLower(sha)
	if b, err := hex.DecodeString(sha); err != nil || len(b) != sha256.Size {
		return "", fmt.Errorf("blob hash %q: want 64 hex characters of a SHA-256", sha)
	}
	return sha, nil
}

// verifier reads exactly the declared bytes and hashes them. Its Read
// reports a mismatch in place of io.EOF, so a store that streams it to its
// end learns that the content is wrong before it keeps anything.
type verifier struct {
	r    io.Reader
	sha  string
	size int64
	n    int64
	h    hash.Hash
	err  error
}

func newVerifier(r io.Reader, sha string, size int64) *verifier {
	// One byte past the size is read so that a longer body is noticed.
	return &verifier{r: io.LimitReader(r, size+1), sha: sha, size: size, h: sha256.New()}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	n, err := v.r.Read(p)
	v.n += int64(n)
	v.h.Write(p[:n])
	if v.n > v.size {
		v.err = fmt.Errorf("%w: more than the %d bytes declared", ErrMismatch, v.size)
		return 0, v.err
	}
	if err == io.EOF {
		err = v.check()
		if err == nil {
			err = io.EOF
		}
		v.err = err
	}
	return n, err
}

// check compares what was read with what was declared.
func (v *verifier) check() error {
	if v.n != v.size {
		return fmt.Errorf("%w: %d bytes arrived, %d declared", ErrMismatch, v.n, v.size)
	}
	if got := hex.EncodeToString(v.h.Sum(nil)); got != v.sha {
		return fmt.Errorf("%w: content hashes to %s, declared %s", ErrMismatch, got, v.sha)
	}
	return nil
}

// drain reads r to its end through a verifier: what Put does with a blob
// it already has.
func drain(r io.Reader, sha string, size int64) error {
	_, err := io.Copy(io.Discard, newVerifier(r, sha, size))
	return err
}

// Verified wraps a stored blob's reader so that content which no longer
// hashes to sha ends in an error instead of io.EOF: a reader of altered
// bytes learns it at the end at the latest.
func Verified(rc io.ReadCloser, sha string, size int64) io.ReadCloser {
	return struct {
		io.Reader
		io.Closer
	}{newVerifier(rc, sha, size), rc}
}
