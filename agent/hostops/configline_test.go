package hostops

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestEditKeyValue(t *testing.T) {
	cases := []struct {
		name, in, key, value, want string
		status                     int // 0: ok
	}{
		{"sshd style", "Port 22\nPermitRootLogin yes\n", "PermitRootLogin", "no", "Port 22\nPermitRootLogin no\n", 0},
		{"keeps tab separator", "PermitRootLogin\tyes\n", "PermitRootLogin", "no", "PermitRootLogin\tno\n", 0},
		{"sysctl style", "net.ipv4.ip_forward = 1\n", "net.ipv4.ip_forward", "0", "net.ipv4.ip_forward = 0\n", 0},
		{"tight equals", "A=1\nB=2", "B", "3", "A=1\nB=3", 0},
		{"keeps indent and CRLF", "  Key  value\r\nOther x\r\n", "Key", "new", "  Key  new\r\nOther x\r\n", 0},
		{"bare key", "Key\n", "Key", "v", "Key v\n", 0},
		{"comment ignored", "#PermitRootLogin yes\nPermitRootLogin prohibit-password\n", "PermitRootLogin", "no", "#PermitRootLogin yes\nPermitRootLogin no\n", 0},
		{"prefix is not the key", "PortX 1\nPort 22\n", "Port", "2222", "PortX 1\nPort 2222\n", 0},
		{"empty value", "A = 1\n", "A", "", "A = \n", 0},
		{"only commented", "#PermitRootLogin yes\n", "PermitRootLogin", "no", "", 404},
		{"twice", "X 1\nMatch User a\nX 2\n", "X", "3", "", 400},
		{"empty file", "", "X", "1", "", 404},
		{"value looks like a separator", "A 1\n", "A", "= 2", "", 400},
		{"value with leading space", "A 1\n", "A", " 2", "", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, e, err := editKeyValue(tc.in, tc.key, tc.value)
			if tc.status != 0 {
				if statusOf(err) != tc.status {
					t.Fatalf("err %v, want status %d", err, tc.status)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q %v, want %q", got, err, tc.want)
			}
			if splitLines(got)[e.Index] != e.New || splitLines(tc.in)[e.Index] != e.Old {
				t.Fatalf("edit %+v does not describe the change", e)
			}
		})
	}
}

func TestEditWholeLine(t *testing.T) {
	in := "#PermitRootLogin prohibit-password\nX 1\r\n"
	got, e, err := editWholeLine(in, "#PermitRootLogin prohibit-password", "PermitRootLogin no")
	if err != nil || got != "PermitRootLogin no\nX 1\r\n" || e.Index != 0 {
		t.Fatalf("%q %+v %v", got, e, err)
	}
	if got, _, err := editWholeLine(in, "X 1", "X 2"); err != nil || got != "#PermitRootLogin prohibit-password\nX 2\r\n" {
		t.Fatalf("CRLF line: %q %v", got, err)
	}
	if _, _, err := editWholeLine("a\na\n", "a", "b"); statusOf(err) != 400 {
		t.Fatalf("duplicate match: %v", err)
	}
	if _, _, err := editWholeLine("a\n", "b", "c"); statusOf(err) != 404 {
		t.Fatalf("no match: %v", err)
	}
}

// FuzzEditKeyValue: an edit changes exactly one line, keeps every other
// byte, and the changed line then sets the key to the value.
func FuzzEditKeyValue(f *testing.F) {
	for _, s := range []string{"Port 22\nPermitRootLogin yes\n", "a = 1\r\nb=2", "  k\tv\n#k x\n", "", "k\n\nk"} {
		f.Add(s, "k", "v")
	}
	f.Add("PermitRootLogin yes\n", "PermitRootLogin", "no")
	f.Fuzz(func(t *testing.T, content, key, value string) {
		if !configKeyRe.MatchString(key) || strings.ContainsAny(value, "\r\n") {
			return
		}
		got, e, err := editKeyValue(content, key, value)
		if err != nil {
			if s := statusOf(err); s != 400 && s != 404 {
				t.Fatalf("status %d: %v", s, err)
			}
			return
		}
		before, after := splitLines(content), splitLines(got)
		if len(before) != len(after) {
			t.Fatalf("line count %d -> %d", len(before), len(after))
		}
		for i := range before {
			if i != e.Index && before[i] != after[i] {
				t.Fatalf("line %d changed: %q -> %q", i, before[i], after[i])
			}
		}
		if lineEnding(before[e.Index]) != lineEnding(after[e.Index]) {
			t.Fatalf("line ending changed: %q -> %q", before[e.Index], after[e.Index])
		}
		if _, _, ok := keyLine(after[e.Index], key); !ok {
			t.Fatalf("edited line %q does not set %q", after[e.Index], key)
		}
		body := strings.TrimRight(after[e.Index], "\r\n")
		if !strings.HasSuffix(body, value) {
			t.Fatalf("edited line %q does not end with the value %q", body, value)
		}
		// Applying the same edit again is a no-op.
		again, _, err := editKeyValue(got, key, value)
		if err != nil || again != got {
			t.Fatalf("not idempotent: %q %v", again, err)
		}
	})
}

func configCmd(p, fields string) string {
	return `{"action":"set","target":{"x-riposte:config_line":{"path":"` + p + `",` + fields + `}}}`
}

func TestSetAndRestoreConfigLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sshd_config")
	orig := "Port 22\n#PermitRootLogin prohibit-password\nPermitRootLogin yes\n"
	os.WriteFile(p, []byte(orig), 0o640)
	uid, gid := os.Getuid(), os.Getgid()
	if os.Geteuid() == 0 {
		uid, gid = 0, 4242
		os.Chown(p, uid, gid)
	}
	h := newHost(t, func(c *Config) { c.ConfigFiles = []string{p} })

	out := handle(t, h, configCmd(p, `"key":"PermitRootLogin","value":"no"`))
	expect(t, out, 200, "line 3 changed", "verified")
	want := "Port 22\n#PermitRootLogin prohibit-password\nPermitRootLogin no\n"
	if b, _ := os.ReadFile(p); string(b) != want {
		t.Fatalf("file %q", b)
	}
	st, _ := os.Stat(p)
	sys := st.Sys().(*syscall.Stat_t)
	if st.Mode().Perm() != 0o640 || int(sys.Uid) != uid || int(sys.Gid) != gid {
		t.Fatalf("mode/owner not kept: %v %d:%d", st.Mode(), sys.Uid, sys.Gid)
	}
	id := out.Details["backup"].(string)
	var bk configBackup
	if err := readJSON(filepath.Join(h.cfg.DataDir, "config-backups", id, "meta.json"), &bk); err != nil {
		t.Fatal(err)
	}
	if bk.BackupSHA256 != sha([]byte(orig)) || bk.AfterSHA256 != sha([]byte(want)) || bk.Requester != "alice@soc" || bk.Edit.Index != 2 {
		t.Fatalf("backup record %+v", bk)
	}
	var undoCmd struct {
		Target map[string]map[string]string `json:"target"`
	}
	json.Unmarshal(out.Undo, &undoCmd)
	if undoCmd.Target["x-riposte:config_line"]["backup"] != id {
		t.Fatalf("undo %s", out.Undo)
	}

	expect(t, handle(t, h, configCmd(p, `"key":"PermitRootLogin","value":"no"`)), 200, "nothing changed")

	back := undo(t, h, out)
	expect(t, back, 200, "restored from backup", "verified")
	if b, _ := os.ReadFile(p); string(b) != orig {
		t.Fatalf("restored %q", b)
	}
	expect(t, undo(t, h, out), 200, "already equals backup")

	// Whole-line replace of the commented default.
	out2 := handle(t, h, configCmd(p, `"match":"#PermitRootLogin prohibit-password","line":"PermitEmptyPasswords no"`))
	expect(t, out2, 200, "line 2 changed")
	if b, _ := os.ReadFile(p); string(b) != "Port 22\nPermitEmptyPasswords no\nPermitRootLogin yes\n" {
		t.Fatalf("file %q", b)
	}
	// Someone edits the file afterwards: restore must not clobber that.
	os.WriteFile(p, []byte("Port 2222\n"), 0o640)
	expect(t, undo(t, h, out2), 400, "changed since the agent's edit")
	if b, _ := os.ReadFile(p); string(b) != "Port 2222\n" {
		t.Fatalf("restore overwrote a later change: %q", b)
	}
}

func TestConfigLineRefusals(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "app.conf")
	os.WriteFile(p, []byte("A 1\nA 2\n"), 0o644)
	link := filepath.Join(dir, "link.conf")
	os.Symlink(p, link)
	bin := filepath.Join(dir, "bin.conf")
	os.WriteFile(bin, []byte("A 1\x00"), 0o644)
	h := newHost(t, func(c *Config) { c.ConfigFiles = []string{p, link, bin, filepath.Join(dir, "missing.conf")} })
	cases := []struct {
		name, cmd string
		status    int
		want      string
	}{
		{"ambiguous key", configCmd(p, `"key":"A","value":"3"`), 400, "set on 2 lines (line 1, line 2)"},
		{"missing key", configCmd(p, `"key":"B","value":"3"`), 404, "target.x-riposte:config_line.key"},
		{"both modes", configCmd(p, `"key":"A","value":"3","match":"A 1","line":"A 3"`), 400, "either key and value"},
		{"no value", configCmd(p, `"key":"A"`), 400, "value: required"},
		{"no line", configCmd(p, `"match":"A 1"`), 400, "line: required"},
		{"backup on set", configCmd(p, `"key":"A","value":"1","backup":"x"`), 400, "only valid with restore"},
		{"symlink", configCmd(link, `"key":"A","value":"3"`), 403, "symbolic link"},
		{"binary", configCmd(bin, `"key":"A","value":"3"`), 400, "not a text file"},
		{"missing file", configCmd(filepath.Join(dir, "missing.conf"), `"key":"A","value":"3"`), 404, "does not exist"},
		{"unknown backup", `{"action":"restore","target":{"x-riposte:config_line":{"path":"` + p + `","backup":"20260101T000000Z-0000000000000000"}}}`, 404, "no backup"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			expect(t, handle(t, h, tc.cmd), tc.status, tc.want)
		})
	}
	if b, _ := os.ReadFile(p); string(b) != "A 1\nA 2\n" {
		t.Fatalf("file changed: %q", b)
	}
	if ents, _ := os.ReadDir(filepath.Join(h.cfg.DataDir, "config-backups")); len(ents) != 0 {
		t.Fatalf("refused edits left backups: %v", ents)
	}
}
