package hostops

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/riposte-soar/riposte/internal/atomicfile"
)

// dirHandle is a directory reached from "/" one component at a time with
// O_NOFOLLOW, so no symbolic link in the path, present or swapped in
// later, can redirect an operation. Files are then opened relative to it.
type dirHandle struct {
	fd   int
	path string
}

// errSymlink marks a path refused because a component is a symbolic link.
var errSymlink = errors.New("is a symbolic link")

// openDir opens the absolute, clean directory path without following
// symbolic links in any component.
func openDir(path string) (*dirHandle, error) {
	fd, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: "/", Err: err}
	}
	cur := "/"
	for _, el := range strings.Split(path, "/") {
		if el == "" {
			continue
		}
		next := filepath.Join(cur, el)
		nfd, err := unix.Openat(fd, el, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			var st unix.Stat_t
			if err == unix.ENOTDIR && unix.Fstatat(fd, el, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
				err = errSymlink
			}
			unix.Close(fd)
			return nil, &os.PathError{Op: "open", Path: next, Err: err}
		}
		unix.Close(fd)
		fd, cur = nfd, next
	}
	return &dirHandle{fd: fd, path: path}, nil
}

func (d *dirHandle) Close() { unix.Close(d.fd) }

func (d *dirHandle) join(name string) string { return filepath.Join(d.path, name) }

// open opens name inside d, never following a symbolic link.
func (d *dirHandle) open(name string, flags int, mode uint32) (*os.File, error) {
	fd, err := unix.Openat(d.fd, name, flags|unix.O_NOFOLLOW|unix.O_CLOEXEC, mode)
	if err != nil {
		if err == unix.ELOOP {
			err = errSymlink
		}
		return nil, &os.PathError{Op: "open", Path: d.join(name), Err: err}
	}
	return os.NewFile(uintptr(fd), d.join(name)), nil
}

func (d *dirHandle) lstat(name string) (unix.Stat_t, error) {
	var st unix.Stat_t
	err := unix.Fstatat(d.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW)
	return st, err
}

// sync flushes the directory entry changes (rename, unlink) to disk.
func (d *dirHandle) sync() error {
	fd, err := unix.Openat(d.fd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Fsync(fd)
}

// openRegular opens an existing regular file for reading, refusing
// symbolic links, FIFOs (O_NONBLOCK: opening one must not hang the agent)
// and devices.
func openRegular(field, p string) (*dirHandle, *os.File, unix.Stat_t, error) {
	var st unix.Stat_t
	d, err := openDir(filepath.Dir(p))
	if err != nil {
		return nil, nil, st, pathErr(field, err)
	}
	f, err := d.open(filepath.Base(p), unix.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		d.Close()
		return nil, nil, st, pathErr(field, err)
	}
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		d.Close()
		return nil, nil, st, errFailed("%s: stat %s: %v", field, p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		f.Close()
		d.Close()
		return nil, nil, st, errBad(field, "%s is not a regular file", quote(p))
	}
	return d, f, st, nil
}

// pathErr maps a file system error to a status: missing → 404, symlink →
// 403, other → 500.
func pathErr(field string, err error) error {
	var pe *os.PathError
	path := ""
	if errors.As(err, &pe) {
		path = pe.Path
	}
	switch {
	case errors.Is(err, errSymlink):
		return errForbidden(field, "%s is a symbolic link (not followed)", path)
	case errors.Is(err, os.ErrNotExist):
		return errNotFound(field, "%s does not exist", path)
	case errors.Is(err, unix.ENOTDIR):
		return errBad(field, "%s is not a directory", path)
	}
	return errFailed("%s: %v", field, err)
}

// sums are the digests of one content.
type sums struct {
	MD5    string `json:"md5"`
	SHA1   string `json:"sha1"`
	SHA256 string `json:"sha256"`
}

// match compares the digests the producer gave (any case) with ours.
func (s sums) match(want map[string]string) (bool, string) {
	for k, v := range want {
		var got string
		switch k {
		case "md5":
			got = s.MD5
		case "sha1":
			got = s.SHA1
		case "sha256":
			got = s.SHA256
		default:
			return false, k
		}
		if !strings.EqualFold(got, v) {
			return false, k
		}
	}
	return true, ""
}

// copyHashed copies at most limit bytes from src to dst (dst may be nil)
// and returns the digests; more than limit bytes is an error, not a
// truncated copy.
func copyHashed(dst io.Writer, src io.Reader, limit int64) (sums, int64, error) {
	h5, h1, h256 := md5.New(), sha1.New(), sha256.New()
	ws := []io.Writer{h5, h1, h256}
	if dst != nil {
		ws = append(ws, dst)
	}
	n, err := io.Copy(io.MultiWriter(ws...), io.LimitReader(src, limit+1))
	if err != nil {
		return sums{}, n, err
	}
	if n > limit {
		return sums{}, n, fmt.Errorf("larger than the %d-byte limit", limit)
	}
	return sums{MD5: hex.EncodeToString(h5.Sum(nil)), SHA1: hex.EncodeToString(h1.Sum(nil)),
		SHA256: hex.EncodeToString(h256.Sum(nil))}, n, nil
}

// writeHashed copies at most limit bytes from src into a new file in dir,
// named after pattern as by os.CreateTemp, and returns its name and the
// digests. The file is made read-only and synced before the caller renames
// it into place, so a crash never leaves a torn or writable copy there; on
// an error it is removed.
func writeHashed(dir, pattern string, src io.Reader, limit int64) (string, sums, int64, error) {
	tmp, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", sums{}, 0, err
	}
	s, n, err := copyHashed(tmp, src, limit)
	if err == nil {
		err = tmp.Chmod(0o400)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp.Name())
		return "", sums{}, 0, err
	}
	return tmp.Name(), s, n, nil
}

// hashFile re-reads a file to verify what was written.
func hashFile(p string, limit int64) (string, int64, error) {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	s, n, err := copyHashed(nil, f, limit)
	return s.SHA256, n, err
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux
	return hex.EncodeToString(b)
}

// writeFileAtomic replaces p (in the agent's own DataDir) with data, so a
// crash leaves the old content or the new, never a torn file.
func writeFileAtomic(p string, data []byte, mode os.FileMode) error {
	return atomicfile.Write(p, data, mode)
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

func writeJSONAtomic(p string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p, append(b, '\n'), 0o600)
}

func readJSON(p string, v any) error {
	b, err := os.ReadFile(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// statDetails describes a file's metadata for manifests and responses.
func statDetails(st unix.Stat_t) map[string]any {
	return map[string]any{
		"mode":  fmt.Sprintf("%04o", st.Mode&0o7777),
		"uid":   st.Uid,
		"gid":   st.Gid,
		"size":  st.Size,
		"inode": st.Ino,
		"nlink": st.Nlink,
		"mtime": st.Mtim.Nano(),
	}
}
