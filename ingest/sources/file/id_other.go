//go:build !unix

package file

import "os"

// idOf returns a zero identity where the platform has no inode numbers; the
// fingerprint of the first bytes is then the only identity check.
func idOf(os.FileInfo) fileID { return fileID{} }

// syncDir is a no-op where directories cannot be fsynced.
func syncDir(string) error { return nil }
