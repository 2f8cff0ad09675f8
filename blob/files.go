package blob

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
)

// Files keeps each blob in a file of its own, Dir/<sha[:2]>/<sha>, read
// only (0400): the layout of a single node's data directory.
type Files struct {
	Dir string
}

// NewFiles keeps blobs under dir, creating it if needed.
func NewFiles(dir string) (*Files, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return &Files{Dir: dir}, nil
}

func (f *Files) Kind() string { return "files" }

// Path is where sha's file is (or would be).
func (f *Files) Path(sha string) string { return filepath.Join(f.Dir, sha[:2], sha) }

func (f *Files) Put(ctx context.Context, sha string, size int64, r io.Reader) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	if ok, err := f.Exists(ctx, sha); err != nil {
		return err
	} else if ok {
		return drain(r, sha, size)
	}
	// Written aside and renamed into place once verified: a reader never
	// sees a partial or wrong file, and two uploads of one blob at once
	// each rename a whole, identical file.
	tmpDir := filepath.Join(f.Dir, "incoming")
	if err := os.MkdirAll(tmpDir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(tmpDir, "upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = io.Copy(tmp, newVerifier(r, sha, size))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	dst := f.Path(sha)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o400); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func (f *Files) Open(_ context.Context, sha string) (io.ReadCloser, int64, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return nil, 0, err
	}
	fh, err := os.Open(f.Path(sha))
	if err != nil {
		return nil, 0, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, 0, err
	}
	return fh, st.Size(), nil
}

func (f *Files) Exists(_ context.Context, sha string) (bool, error) {
	sha, err := CheckHash(sha)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(f.Path(sha))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (f *Files) Delete(_ context.Context, sha string) error {
	sha, err := CheckHash(sha)
	if err != nil {
		return err
	}
	if err := os.Remove(f.Path(sha)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
