package hostops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The quarantine store is content-addressed:
//
//	DataDir/quarantine/<sha256>/data           the content, mode 0400
//	DataDir/quarantine/<sha256>/manifest.json  where it came from, by whom
//
// Content, not path, names the entry so the same malware found in two
// places is stored once and a restore can be checked against its hash.

type quarantineEntry struct {
	Path          string    `json:"path"`
	Mode          uint32    `json:"mode"` // permission and set-id bits
	UID           uint32    `json:"uid"`
	GID           uint32    `json:"gid"`
	MTimeNS       int64     `json:"mtime_ns"`
	Size          int64     `json:"size"`
	Nlink         uint64    `json:"nlink"`
	QuarantinedAt time.Time `json:"quarantined_at"`
	CommandID     string    `json:"command_id,omitempty"`
	Requester     string    `json:"requester,omitempty"`
	Incident      string    `json:"incident,omitempty"`
}

type quarantineManifest struct {
	Sums    sums              `json:"hashes"`
	Entries []quarantineEntry `json:"entries"`
}

func (h *Host) quarantineDir() string { return filepath.Join(h.cfg.DataDir, "quarantine") }

const fileField = "target.file"

// quarantineTarget checks the file of a contain, delete or allow file
// command. Restores are held to quarantine_paths as quarantines are, so
// that allow cannot write where contain could not have taken from.
func (h *Host) quarantineTarget(c *call) (fileTarget, string, error) {
	var t fileTarget
	if err := decodeTarget(c, &t); err != nil {
		return t, "", err
	}
	if t.Path == "" {
		return t, "", errBad(fileField+".path", "required (the agent acts on paths, not names)")
	}
	if err := checkLiteral(fileField+".name", t.Name, 256); err != nil {
		return t, "", err
	}
	p, err := checkPath(fileField+".path", t.Path)
	if err != nil {
		return t, "", err
	}
	return t, p, h.checkFileScope(fileField+".path", p, h.cfg.QuarantinePaths, "quarantine_paths")
}

// quarantineFile: contain file, delete file. delete is carried out as a
// quarantine so that it, too, can be undone.
func (h *Host) quarantineFile(ctx context.Context, c *call) (result, error) {
	t, p, err := h.quarantineTarget(c)
	if err != nil {
		return result{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()

	d, f, st, err := openRegular(fileField+".path", p)
	if err != nil {
		return result{}, err
	}
	defer d.Close()
	defer f.Close()
	det := map[string]any{"path": p, "source": statDetails(st)}
	if st.Size > h.cfg.MaxFileSize {
		return result{details: det}, errBad(fileField+".path", "%s is %d bytes, max_file_size is %d", quote(p), st.Size, h.cfg.MaxFileSize)
	}
	tmpName, s, n, err := writeHashed(h.quarantineDir(), ".incoming-*", f, h.cfg.MaxFileSize)
	if err != nil {
		return result{details: det}, errFailed("copying %s into quarantine: %v", p, err)
	}
	defer os.Remove(tmpName) // no-op once renamed
	det["hashes"] = s
	if ok, k := s.match(t.Hashes); !ok {
		return result{details: det}, errNotFound(fileField+".hashes."+k, "%s has %s %s, not the requested file; nothing moved", quote(p), k, hashOf(s, k))
	}
	entryDir := filepath.Join(h.quarantineDir(), s.SHA256)
	if err := os.MkdirAll(entryDir, 0o700); err != nil {
		return result{details: det}, errFailed("quarantine store: %v", err)
	}
	dataPath := filepath.Join(entryDir, "data")
	if _, err := os.Lstat(dataPath); errors.Is(err, os.ErrNotExist) {
		if err := os.Rename(tmpName, dataPath); err != nil {
			return result{details: det}, errFailed("quarantine store: %v", err)
		}
		if err := syncDir(entryDir); err != nil {
			return result{details: det}, errFailed("quarantine store: %v", err)
		}
	}
	var man quarantineManifest
	manPath := filepath.Join(entryDir, "manifest.json")
	if err := readJSON(manPath, &man); err != nil && !errors.Is(err, os.ErrNotExist) {
		return result{details: det}, errFailed("quarantine manifest %s: %v", manPath, err)
	}
	man.Sums = s
	entry := quarantineEntry{Path: p, Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid,
		MTimeNS: st.Mtim.Nano(), Size: n, Nlink: st.Nlink, QuarantinedAt: c.meta.Now.UTC(),
		CommandID: c.meta.CommandID, Requester: c.meta.Requester, Incident: c.meta.Incident}
	kept := man.Entries[:0]
	for _, e := range man.Entries {
		if e.Path != p {
			kept = append(kept, e)
		}
	}
	man.Entries = append(kept, entry)
	if err := writeJSONAtomic(manPath, man); err != nil {
		return result{details: det}, errFailed("quarantine manifest: %v", err)
	}
	// The copy is safe; now remove the original, but only if the name
	// still points at the inode that was copied.
	base := filepath.Base(p)
	now, err := d.lstat(base)
	if err != nil || now.Dev != st.Dev || now.Ino != st.Ino {
		return result{details: det}, errFailed("%s changed while it was being quarantined; the copy is kept in quarantine, the original was not removed", p)
	}
	if err := unix.Unlinkat(d.fd, base, 0); err != nil {
		return result{details: det}, errFailed("removing %s after copying it to quarantine: %v", p, err)
	}
	if err := d.sync(); err != nil {
		return result{details: det}, errFailed("sync %s: %v", filepath.Dir(p), err)
	}
	det["quarantine"] = dataPath
	if st.Nlink > 1 {
		det["warning"] = fmt.Sprintf("the file had %d hard links; the other names still exist", st.Nlink)
	}
	// Verify: the original name is gone and the stored copy hashes right.
	if _, err := d.lstat(base); err == nil || !errors.Is(err, unix.ENOENT) {
		return result{details: det}, errFailed("verification: %s still exists after removal", p)
	}
	got, _, err := hashFile(dataPath, h.cfg.MaxFileSize)
	if err != nil || got != s.SHA256 {
		return result{details: det}, errFailed("verification: quarantined copy %s hashes to %s, expected %s (%v)", dataPath, got, s.SHA256, err)
	}
	det["verified"] = "original path absent; quarantined copy sha256 matches"
	undo := undoCmd("allow", "file", fileTarget{Path: p, Hashes: map[string]string{"sha256": s.SHA256}}, nil)
	return result{text: fmt.Sprintf("%s quarantined (sha256 %s); verified", p, s.SHA256), details: det, undo: undo, verified: true}, nil
}

func hashOf(s sums, k string) string {
	switch k {
	case "md5":
		return s.MD5
	case "sha1":
		return s.SHA1
	}
	return s.SHA256
}

// findQuarantined returns the store entry for path p whose content matches
// the given hashes (all of them, any case).
func (h *Host) findQuarantined(field, p string, hashes map[string]string) (string, quarantineManifest, int, error) {
	var dirs []string
	if s, ok := hashes["sha256"]; ok {
		s = strings.ToLower(s)
		if len(s) != 64 || strings.Trim(s, "0123456789abcdef") != "" {
			return "", quarantineManifest{}, 0, errBad(field+".hashes.sha256", "%s is not a sha256", quote(s))
		}
		dirs = []string{s}
	} else {
		ents, err := os.ReadDir(h.quarantineDir())
		if err != nil {
			return "", quarantineManifest{}, 0, errFailed("quarantine store: %v", err)
		}
		for _, e := range ents {
			if e.IsDir() && len(e.Name()) == 64 {
				dirs = append(dirs, e.Name())
			}
		}
	}
	type hit struct {
		dir string
		man quarantineManifest
		i   int
	}
	var hits []hit
	for _, dn := range dirs {
		var man quarantineManifest
		if err := readJSON(filepath.Join(h.quarantineDir(), dn, "manifest.json"), &man); err != nil {
			continue
		}
		if ok, _ := man.Sums.match(hashes); !ok {
			continue
		}
		for i, e := range man.Entries {
			if e.Path == p {
				hits = append(hits, hit{dn, man, i})
			}
		}
	}
	switch len(hits) {
	case 0:
		return "", quarantineManifest{}, 0, errNotFound(field, "no quarantined file from %s matches", quote(p))
	case 1:
		return filepath.Join(h.quarantineDir(), hits[0].dir), hits[0].man, hits[0].i, nil
	}
	var shas []string
	for _, x := range hits {
		shas = append(shas, x.dir)
	}
	sort.Strings(shas)
	return "", quarantineManifest{}, 0, errBad(field+".hashes", "%d quarantined versions of %s (sha256 %s); give hashes.sha256", len(hits), quote(p), strings.Join(shas, ", "))
}

// restoreFile: allow file. Puts a quarantined file back where it was, with
// its mode, owner and mtime, and never over a file that appeared since.
func (h *Host) restoreFile(ctx context.Context, c *call) (result, error) {
	t, p, err := h.quarantineTarget(c)
	if err != nil {
		return result{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	entryDir, man, idx, err := h.findQuarantined(fileField, p, t.Hashes)
	if err != nil {
		return result{}, err
	}
	e := man.Entries[idx]
	dataPath := filepath.Join(entryDir, "data")
	det := map[string]any{"path": p, "sha256": man.Sums.SHA256, "quarantine": dataPath,
		"mode": fmt.Sprintf("%04o", e.Mode), "uid": e.UID, "gid": e.GID}
	src, err := os.OpenFile(dataPath, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return result{details: det}, errFailed("quarantine store: %v", err)
	}
	defer src.Close()
	d, err := openDir(filepath.Dir(p))
	if err != nil {
		return result{details: det}, pathErr(fileField+".path", err)
	}
	defer d.Close()
	base := filepath.Base(p)
	dst, err := d.open(base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			if st, serr := d.lstat(base); serr == nil {
				det["existing"] = statDetails(st)
			}
			return result{details: det}, errBad(fileField+".path", "%s exists again; refusing to overwrite it (move it away, then retry)", quote(p))
		}
		return result{details: det}, pathErr(fileField+".path", err)
	}
	removeDst := true
	defer func() {
		dst.Close()
		if removeDst {
			_ = unix.Unlinkat(d.fd, base, 0)
		}
	}()
	s, _, err := copyHashed(dst, src, h.cfg.MaxFileSize)
	if err == nil {
		// chown first: it clears set-id bits that chmod then restores.
		err = dst.Chown(int(e.UID), int(e.GID))
	}
	if err == nil {
		err = unix.Fchmod(int(dst.Fd()), e.Mode)
	}
	if err == nil {
		ts := unix.NsecToTimespec(e.MTimeNS)
		err = unix.UtimesNanoAt(d.fd, base, []unix.Timespec{ts, ts}, unix.AT_SYMLINK_NOFOLLOW)
	}
	if err == nil {
		err = dst.Sync()
	}
	if err != nil {
		return result{details: det}, errFailed("restoring %s: %v", p, err)
	}
	// Verify the bytes now under the path, read back through a new open.
	back, err := d.open(base, unix.O_RDONLY, 0)
	if err != nil {
		return result{details: det}, errFailed("verification: reopening %s: %v", p, err)
	}
	got, _, err := copyHashed(nil, back, h.cfg.MaxFileSize)
	back.Close()
	if err != nil || got.SHA256 != man.Sums.SHA256 || s.SHA256 != man.Sums.SHA256 {
		return result{details: det}, errFailed("verification: restored %s hashes to %s, expected %s; restored file removed, quarantine kept", p, got.SHA256, man.Sums.SHA256)
	}
	if err := d.sync(); err != nil {
		return result{details: det}, errFailed("sync %s: %v", filepath.Dir(p), err)
	}
	removeDst = false
	// Only now drop the quarantine entry; the data goes with its last entry.
	man.Entries = append(man.Entries[:idx], man.Entries[idx+1:]...)
	if len(man.Entries) == 0 {
		if err := os.RemoveAll(entryDir); err != nil {
			det["warning"] = fmt.Sprintf("restored, but the quarantine entry was not removed: %v", err)
		}
	} else if err := writeJSONAtomic(filepath.Join(entryDir, "manifest.json"), man); err != nil {
		det["warning"] = fmt.Sprintf("restored, but the quarantine manifest was not updated: %v", err)
	}
	det["verified"] = "restored file sha256 matches the quarantined copy"
	undo := undoCmd("contain", "file", fileTarget{Path: p, Hashes: map[string]string{"sha256": man.Sums.SHA256}}, nil)
	return result{text: fmt.Sprintf("%s restored from quarantine (sha256 %s); verified", p, man.Sums.SHA256), details: det, undo: undo, verified: true}, nil
}
