package file

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

const stateVersion = 1

// fileID is the identity of a file: device and inode (zero where the
// platform has none).
type fileID struct {
	Dev uint64
	Ino uint64
}

// span is a byte range [Start, End) of the followed file.
type span struct {
	Start int64 `json:"start"`
	End   int64 `json:"end"`
}

// state is what the state file holds.
type state struct {
	Version int    `json:"version"`
	Path    string `json:"path"`
	// Fresh says the next file found at Path is new to the tailer and is read
	// from offset 0 (the previous one was rotated away and read to its end, or
	// Path did not exist when the tailer first started).
	Fresh bool   `json:"fresh,omitempty"`
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	// Offset is the first byte not yet stored: every line before it is.
	Offset int64 `json:"offset"`
	// FingerprintLen bytes from offset 0 hash to Fingerprint (SHA-256, hex).
	FingerprintLen int    `json:"fingerprint_len"`
	Fingerprint    string `json:"fingerprint_sha256,omitempty"`
	// Generation counts the times this state file started reading a file
	// at Path from offset 0 after the first (a new file, or truncation). It
	// is part of the dedup key, so a file that reuses a former file's inode
	// (or a truncated file) never repeats an earlier batch's key.
	Generation uint64 `json:"generation"`
	// Pending is the batch being submitted, written before Submit so that a
	// restart re-submits exactly the same range under the same dedup key.
	Pending *span `json:"pending,omitempty"`
}

func (s *state) id() fileID { return fileID{Dev: s.Dev, Ino: s.Ino} }

func fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readState loads the state file; it returns nil, nil when there is none.
func readState(path string) (*state, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("file: read state %s: %w", path, err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("file: parse state %s: %w", path, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("file: state %s: unsupported version %d", path, st.Version)
	}
	if st.Offset < 0 || st.FingerprintLen < 0 || int64(st.FingerprintLen) > st.Offset ||
		(st.Pending != nil && (st.Pending.Start != st.Offset || st.Pending.End < st.Pending.Start)) {
		return nil, fmt.Errorf("file: state %s: inconsistent offsets", path)
	}
	return &st, nil
}

// writeState replaces the state file atomically: temp file in the same
// directory, fsync, rename, fsync of the directory.
func writeState(path string, st *state) (err error) {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(b); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(dir)
}
