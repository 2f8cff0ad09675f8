package hostops

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const maxConfigSize = 1 << 20

// ---- the line editor (pure functions, fuzzed) ------------------------------

// splitLines splits after each "\n", keeping the endings, so that joining
// the result gives the content back byte for byte.
func splitLines(s string) []string {
	lines := strings.SplitAfter(s, "\n")
	if len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

func lineEnding(line string) string {
	switch {
	case strings.HasSuffix(line, "\r\n"):
		return "\r\n"
	case strings.HasSuffix(line, "\n"):
		return "\n"
	}
	return ""
}

// keyLine reports whether line assigns key, in any of the forms
// "key value", "key=value", "key = value" (sshd_config, sysctl.conf,
// login.defs, /etc/default/*), and returns its indent and separator so an
// edit keeps the file's style. Commented lines never match: a key starts
// with a letter or "_".
func keyLine(line, key string) (indent, sep string, ok bool) {
	body := strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	trimmed := strings.TrimLeft(body, " \t")
	indent = body[:len(body)-len(trimmed)]
	rest, found := strings.CutPrefix(trimmed, key)
	if !found {
		return "", "", false
	}
	if rest == "" {
		return indent, " ", true // bare key; write "key value"
	}
	ws := rest[:len(rest)-len(strings.TrimLeft(rest, " \t"))]
	after := rest[len(ws):]
	if strings.HasPrefix(after, "=") {
		ws2 := after[1:]
		ws2 = ws2[:len(ws2)-len(strings.TrimLeft(ws2, " \t"))]
		return indent, ws + "=" + ws2, true
	}
	if ws == "" {
		return "", "", false // "PortX" is not "Port"
	}
	return indent, ws, true
}

// lineEdit is one changed line; Index counts from 0.
type lineEdit struct {
	Index int    `json:"line_index"`
	Old   string `json:"old_line"`
	New   string `json:"new_line"`
}

// editKeyValue sets the only line assigning key to value.
func editKeyValue(content, key, value string) (string, lineEdit, error) {
	if strings.TrimLeft(value, " \t=") != value {
		return "", lineEdit{}, errBad("value", "%s must not start with whitespace or \"=\" (ambiguous with the separator)", quote(value))
	}
	return editOnlyLine(content,
		func(l string) bool { _, _, ok := keyLine(l, key); return ok },
		func(l string) string { indent, sep, _ := keyLine(l, key); return indent + key + sep + value },
		func(hits []int) error {
			if len(hits) == 0 {
				return errNotFound("key", "no line sets %s (use match/line to replace a commented line); nothing changed", quote(key))
			}
			return errBad("key", "%s is set on %d lines (%s); use match/line to pick one", quote(key), len(hits), lineNumbers(hits))
		})
}

// editWholeLine replaces the only line equal to match (ending aside).
func editWholeLine(content, match, line string) (string, lineEdit, error) {
	return editOnlyLine(content,
		func(l string) bool { return strings.TrimSuffix(strings.TrimSuffix(l, "\n"), "\r") == match },
		func(string) string { return line },
		func(hits []int) error {
			if len(hits) == 0 {
				return errNotFound("match", "no line equals %s; nothing changed", quote(match))
			}
			return errBad("match", "%d lines equal %s (%s); nothing changed", len(hits), quote(match), lineNumbers(hits))
		})
}

// editOnlyLine replaces the line match picks with replace(line), keeping
// the line's ending. An edit never guesses: unless exactly one line
// matches, nothing changes and refuse says why, given the lines that did.
func editOnlyLine(content string, match func(line string) bool, replace func(line string) string, refuse func(hits []int) error) (string, lineEdit, error) {
	lines := splitLines(content)
	var hits []int
	for i, l := range lines {
		if match(l) {
			hits = append(hits, i)
		}
	}
	if len(hits) != 1 {
		return "", lineEdit{}, refuse(hits)
	}
	i := hits[0]
	newLine := replace(lines[i]) + lineEnding(lines[i])
	e := lineEdit{Index: i, Old: lines[i], New: newLine}
	lines[i] = newLine
	return strings.Join(lines, ""), e, nil
}

func lineNumbers(idx []int) string {
	var s []string
	for _, i := range idx {
		s = append(s, fmt.Sprintf("line %d", i+1))
	}
	return strings.Join(s, ", ")
}

// ---- the operations ---------------------------------------------------------

type configLineTarget struct {
	Path   string  `json:"path"`
	Key    string  `json:"key"`
	Value  *string `json:"value"`
	Match  string  `json:"match"`
	Line   *string `json:"line"`
	Backup string  `json:"backup"`
}

// configBackup is DataDir/config-backups/<id>/meta.json; the original
// content is beside it in "original".
type configBackup struct {
	ID           string     `json:"id"`
	Path         string     `json:"path"`
	BackupSHA256 string     `json:"backup_sha256"` // the content before the change
	AfterSHA256  string     `json:"after_sha256"`  // the content the agent wrote
	Mode         uint32     `json:"mode"`
	UID          uint32     `json:"uid"`
	GID          uint32     `json:"gid"`
	Edit         lineEdit   `json:"edit"`
	CreatedAt    time.Time  `json:"created_at"`
	RestoredAt   *time.Time `json:"restored_at,omitempty"`
	CommandID    string     `json:"command_id,omitempty"`
	Requester    string     `json:"requester,omitempty"`
	Incident     string     `json:"incident,omitempty"`
}

const configField = "target.x-riposte:config_line"

// configTarget reads the target of a set or restore and checks its path
// against config_files: the agent edits no file it was not told it may.
func (h *Host) configTarget(c *call) (configLineTarget, string, error) {
	var t configLineTarget
	if err := decodeTarget(c, &t); err != nil {
		return t, "", err
	}
	p, err := checkPath(configField+".path", t.Path)
	if err != nil {
		return t, "", err
	}
	if !h.configFiles[p] {
		return t, "", errForbidden(configField+".path", "%s is not in config_files", quote(p))
	}
	return t, p, nil
}

// readConfig reads an allowlisted file through a symlink-free walk.
func readConfig(p string) (*dirHandle, []byte, unix.Stat_t, error) {
	d, f, st, err := openRegular(configField+".path", p)
	if err != nil {
		return nil, nil, st, err
	}
	defer f.Close()
	if st.Size > maxConfigSize {
		d.Close()
		return nil, nil, st, errBad(configField+".path", "%s is %d bytes; config files are edited up to %d", quote(p), st.Size, maxConfigSize)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	if err != nil {
		d.Close()
		return nil, nil, st, errFailed("reading %s: %v", p, err)
	}
	if len(b) > maxConfigSize || bytes.IndexByte(b, 0) >= 0 {
		d.Close()
		return nil, nil, st, errBad(configField+".path", "%s is not a text file (or grew past %d bytes)", quote(p), maxConfigSize)
	}
	return d, b, st, nil
}

// replaceFile writes content under a temporary name next to the file and
// renames it over, so readers see the old or the new file, never half.
// The rename happens only if the name still points at the inode that was
// read (expect), so a concurrent change is not silently overwritten.
func replaceFile(d *dirHandle, base string, content []byte, mode, uid, gid uint32, expect *unix.Stat_t) error {
	tmp := "." + base + ".riposte-" + randomHex(6)
	f, err := d.open(tmp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		f.Close()
		if !renamed {
			_ = unix.Unlinkat(d.fd, tmp, 0)
		}
	}()
	if _, err := f.Write(content); err != nil {
		return err
	}
	if err := f.Chown(int(uid), int(gid)); err != nil {
		return err
	}
	if err := unix.Fchmod(int(f.Fd()), mode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if expect != nil {
		now, err := d.lstat(base)
		if err != nil || now.Dev != expect.Dev || now.Ino != expect.Ino || now.Size != expect.Size || now.Mtim != expect.Mtim {
			return fmt.Errorf("%s changed while it was being edited; nothing written", d.join(base))
		}
	}
	if err := unix.Renameat(d.fd, tmp, d.fd, base); err != nil {
		return err
	}
	renamed = true
	return d.sync()
}

// setConfigLine: set x-riposte:config_line {path, key, value} or
// {path, match, line}.
func (h *Host) setConfigLine(ctx context.Context, c *call) (result, error) {
	t, p, err := h.configTarget(c)
	if err != nil {
		return result{}, err
	}
	if t.Backup != "" {
		return result{}, errBad(configField+".backup", "only valid with restore")
	}
	byKey := t.Key != "" || t.Value != nil
	byLine := t.Match != "" || t.Line != nil
	switch {
	case byKey == byLine:
		return result{}, errBad(configField, "give either key and value, or match and line")
	case byKey:
		if err := checkName(configField+".key", t.Key, configKeyRe, 128); err != nil {
			return result{}, err
		}
		if t.Value == nil {
			return result{}, errBad(configField+".value", "required with key")
		}
		if err := checkText(configField+".value", *t.Value, maxTextLen); err != nil {
			return result{}, err
		}
	default:
		if t.Match == "" {
			return result{}, errBad(configField+".match", "required with line")
		}
		// match is only compared with the file, so it is taken literally.
		if err := checkLiteral(configField+".match", t.Match, maxTextLen); err != nil {
			return result{}, err
		}
		if t.Line == nil {
			return result{}, errBad(configField+".line", "required with match")
		}
		if err := checkText(configField+".line", *t.Line, maxTextLen); err != nil {
			return result{}, err
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	d, content, st, err := readConfig(p)
	if err != nil {
		return result{}, err
	}
	defer d.Close()
	var next string
	var edit lineEdit
	if byKey {
		next, edit, err = editKeyValue(string(content), t.Key, *t.Value)
	} else {
		next, edit, err = editWholeLine(string(content), t.Match, *t.Line)
	}
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) {
			oe.msg = configField + "." + oe.msg
		}
		return result{}, err
	}
	det := map[string]any{"path": p, "edit": edit, "before_sha256": sha256Hex(content)}
	if next == string(content) {
		det["unchanged"] = true
		return result{text: fmt.Sprintf("%s line %d already reads as requested; nothing changed", p, edit.Index+1),
			details: det, verified: true}, nil
	}
	id := c.meta.Now.UTC().Format("20060102T150405Z") + "-" + randomHex(8)
	bdir := filepath.Join(h.cfg.DataDir, "config-backups", id)
	if err := os.Mkdir(bdir, 0o700); err != nil {
		return result{details: det}, errFailed("backup: %v", err)
	}
	if err := writeFileAtomic(filepath.Join(bdir, "original"), content, 0o600); err != nil {
		return result{details: det}, errFailed("backup: %v", err)
	}
	bk := configBackup{ID: id, Path: p, BackupSHA256: sha256Hex(content), AfterSHA256: sha256Hex([]byte(next)),
		Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid, Edit: edit, CreatedAt: c.meta.Now.UTC(),
		CommandID: c.meta.CommandID, Requester: c.meta.Requester, Incident: c.meta.Incident}
	if err := writeJSONAtomic(filepath.Join(bdir, "meta.json"), bk); err != nil {
		return result{details: det}, errFailed("backup: %v", err)
	}
	// Verify the backup before touching the original.
	if got, _, err := hashFile(filepath.Join(bdir, "original"), maxConfigSize); err != nil || got != bk.BackupSHA256 {
		return result{details: det}, errFailed("backup %s does not hash to %s (%v); original untouched", id, bk.BackupSHA256, err)
	}
	det["backup"] = id
	det["backup_sha256"] = bk.BackupSHA256
	if err := replaceFile(d, filepath.Base(p), []byte(next), bk.Mode, bk.UID, bk.GID, &st); err != nil {
		return result{details: det}, errFailed("writing %s: %v", p, err)
	}
	if err := verifyContent(p, bk.AfterSHA256); err != nil {
		return result{details: det}, err
	}
	det["after_sha256"] = bk.AfterSHA256
	det["verified"] = "file re-read: sha256 equals the edited content"
	undo := undoCmd("restore", "x-riposte:config_line", map[string]string{"path": p, "backup": id}, nil)
	return result{text: fmt.Sprintf("%s line %d changed (backup %s); verified", p, edit.Index+1, id),
		details: det, undo: undo, verified: true}, nil
}

func verifyContent(p, want string) error {
	d, b, _, err := readConfig(p)
	if err != nil {
		return errFailed("verification: %v", err)
	}
	d.Close()
	if got := sha256Hex(b); got != want {
		return errFailed("verification: %s hashes to %s, expected %s", p, got, want)
	}
	return nil
}

// restoreConfigLine: restore x-riposte:config_line {path, backup}.
func (h *Host) restoreConfigLine(ctx context.Context, c *call) (result, error) {
	t, p, err := h.configTarget(c)
	if err != nil {
		return result{}, err
	}
	if t.Key != "" || t.Value != nil || t.Match != "" || t.Line != nil {
		return result{}, errBad(configField, "restore takes only path and backup")
	}
	if err := checkText(configField+".backup", t.Backup, 64); err != nil {
		return result{}, err
	}
	if !backupIDRe.MatchString(t.Backup) {
		return result{}, errBad(configField+".backup", "%s is not a backup id (as returned by set)", quote(t.Backup))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	bdir := filepath.Join(h.cfg.DataDir, "config-backups", t.Backup)
	var bk configBackup
	if err := readJSON(filepath.Join(bdir, "meta.json"), &bk); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return result{}, errNotFound(configField+".backup", "no backup %s", t.Backup)
		}
		return result{}, errFailed("backup %s: %v", t.Backup, err)
	}
	if bk.Path != p {
		return result{}, errBad(configField+".backup", "backup %s is of %s, not %s", t.Backup, bk.Path, p)
	}
	det := map[string]any{"path": p, "backup": t.Backup, "backup_sha256": bk.BackupSHA256}
	d, cur, st, err := readConfig(p)
	if err != nil {
		return result{details: det}, err
	}
	defer d.Close()
	curSum := sha256Hex(cur)
	det["before_sha256"] = curSum
	if curSum == bk.BackupSHA256 {
		det["unchanged"] = true
		return result{text: fmt.Sprintf("%s already equals backup %s; verified", p, t.Backup), details: det, verified: true}, nil
	}
	if curSum != bk.AfterSHA256 {
		return result{details: det}, errBad(configField+".path", "%s changed since the agent's edit (sha256 %s, expected %s); refusing to overwrite those changes", p, curSum, bk.AfterSHA256)
	}
	orig, err := readBounded(filepath.Join(bdir, "original"), maxConfigSize+1)
	if err != nil || sha256Hex(orig) != bk.BackupSHA256 {
		return result{details: det}, errFailed("backup %s is damaged (content does not hash to %s); original left as is", t.Backup, bk.BackupSHA256)
	}
	if err := replaceFile(d, filepath.Base(p), orig, bk.Mode, bk.UID, bk.GID, &st); err != nil {
		return result{details: det}, errFailed("writing %s: %v", p, err)
	}
	if err := verifyContent(p, bk.BackupSHA256); err != nil {
		return result{details: det}, err
	}
	now := c.meta.Now.UTC()
	bk.RestoredAt = &now
	if err := writeJSONAtomic(filepath.Join(bdir, "meta.json"), bk); err != nil {
		det["warning"] = fmt.Sprintf("restored, but the backup record was not updated: %v", err)
	}
	det["verified"] = "file re-read: sha256 equals the backup"
	return result{text: fmt.Sprintf("%s restored from backup %s; verified", p, t.Backup), details: det, verified: true}, nil
}
