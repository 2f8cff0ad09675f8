// Package atomicfile replaces a file so that a crash at any moment leaves
// either the old content or the new one, never a mix or nothing: write a
// temporary file beside it, fsync it, rename it over, fsync the directory.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data, with the given mode.
func Write(path string, data []byte, mode os.FileMode) error {
	return place(path, data, mode, os.Rename)
}

// Create writes path like Write but only if it does not exist yet: the file
// is linked into place instead of renamed, so a file another process created
// meanwhile is never replaced (os.ErrExist then).
func Create(path string, data []byte, mode os.FileMode) error {
	return place(path, data, mode, os.Link)
}

// place writes a synced temporary file beside path, moves it there with
// move, and syncs the directory.
func place(path string, data []byte, mode os.FileMode, move func(oldpath, newpath string) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := move(tmp, path); err != nil {
		return err
	}
	return SyncDir(dir)
}

// SyncDir makes a rename or creation in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
