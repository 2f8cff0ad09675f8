package hostops

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// checkEvidence verifies a staged item against the file on disk and the
// custody manifest.
func checkEvidence(t *testing.T, h *Host, out Outcome, id string) Evidence {
	t.Helper()
	if len(out.Evidence) != 1 {
		t.Fatalf("evidence %+v", out.Evidence)
	}
	ev := out.Evidence[0]
	wantDir := filepath.Join(h.cfg.DataDir, "evidence", id)
	if filepath.Dir(ev.Path) != wantDir || ev.CommandID != id || ev.Requester != "alice@soc" || ev.Incident != "INC-1" || ev.CollectedAt.IsZero() {
		t.Fatalf("evidence metadata %+v", ev)
	}
	b, err := os.ReadFile(ev.Path)
	if err != nil || sha(b) != ev.SHA256 || int64(len(b)) != ev.Size {
		t.Fatalf("staged file does not match its record: %v", err)
	}
	var man []Evidence
	if err := readJSON(filepath.Join(wantDir, "manifest.json"), &man); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, m := range man {
		found = found || (m.Name == ev.Name && m.SHA256 == ev.SHA256)
	}
	if !found {
		t.Fatalf("manifest %+v lacks %s", man, ev.Name)
	}
	return ev
}

func TestCollectFile(t *testing.T) {
	dir := t.TempDir()
	h := newHost(t, func(c *Config) { c.EvidencePaths = []string{dir} })
	p := filepath.Join(dir, "shell.php")
	content := []byte("<?php system($_GET['c']); ?>")
	os.WriteFile(p, content, 0o644)
	cmd := `{"action":"investigate","target":{"x-riposte:evidence_file":{"path":"` + p + `"}}}`
	out := handle(t, h, cmd)
	expect(t, out, 200, "collected file-shell.php", sha(content))
	ev := checkEvidence(t, h, out, "cmd-TestCollectFile")
	if ev.Source != p {
		t.Fatalf("source %q", ev.Source)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal("collecting must not move the original")
	}
	// A retry of the same command replaces its own item.
	expect(t, handle(t, h, cmd), 200)
	ents, _ := os.ReadDir(filepath.Dir(ev.Path))
	if len(ents) != 2 { // the item and manifest.json
		t.Fatalf("staging dir %v", ents)
	}
}

func TestCollectProcesses(t *testing.T) {
	h := newHost(t, nil)
	child := startHelper(t, "sleep")
	out := handle(t, h, `{"action":"investigate","target":{"x-riposte:processes":{}}}`)
	expect(t, out, 200, "processes.json")
	ev := checkEvidence(t, h, out, "cmd-TestCollectProcesses")
	var procs []procInfo
	b, _ := os.ReadFile(ev.Path)
	if err := json.Unmarshal(b, &procs); err != nil {
		t.Fatal(err)
	}
	var me, kid *procInfo
	for i := range procs {
		switch procs[i].PID {
		case os.Getpid():
			me = &procs[i]
		case child.Process.Pid:
			kid = &procs[i]
		}
	}
	if me == nil || kid == nil || kid.PPID != os.Getpid() || me.UID != os.Getuid() || len(kid.Cmdline) < 2 || kid.Cmdline[1] != helperArg {
		t.Fatalf("self %+v child %+v", me, kid)
	}
	expect(t, handle(t, h, `{"action":"investigate","target":{"x-riposte:processes":{"pid":1}}}`), 400, "unknown field")
}

func TestCollectConnections(t *testing.T) {
	h := newHost(t, nil)
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := handle(t, h, `{"action":"investigate","target":{"x-riposte:connections":{}}}`)
	expect(t, out, 200, "connections.json")
	ev := checkEvidence(t, h, out, "cmd-TestCollectConnections")
	var conns []Conn
	b, _ := os.ReadFile(ev.Path)
	json.Unmarshal(b, &conns)
	want := ln.Addr().String()
	for _, c := range conns {
		if c.Proto == "tcp" && c.Local == want {
			if c.State != "LISTEN" || c.PID != os.Getpid() {
				t.Fatalf("listener found as %+v, want LISTEN owned by %d", c, os.Getpid())
			}
			return
		}
	}
	t.Fatalf("listener %s not among %d connections", want, len(conns))
}

func TestCollectLogLines(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "auth.log")
	var buf bytes.Buffer
	for i := 1; i <= 5000; i++ {
		fmt.Fprintf(&buf, "Nov 26 10:00:00 web-1 sshd[%d]: Failed password for root from 203.0.113.7 line %d\n", i, i)
	}
	os.WriteFile(p, buf.Bytes(), 0o640)
	h := newHost(t, func(c *Config) { c.LogFiles = []string{p} })
	out := h.Handle(context.Background(), command(t, `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"`+p+`","lines":3}}}`), meta("log-1"))
	expect(t, out, 200, "log-auth.log.txt")
	ev := checkEvidence(t, h, out, "log-1")
	b, _ := os.ReadFile(ev.Path)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[0], "line 4998") || !strings.HasSuffix(lines[2], "line 5000") {
		t.Fatalf("tail %q", lines)
	}
	out = h.Handle(context.Background(), command(t, `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"`+p+`"}}}`), meta("log-2"))
	expect(t, out, 200)
	if out.Details["lines"] != DefaultLogLines {
		t.Fatalf("default lines: %v", out.Details["lines"])
	}
	expect(t, handle(t, h, `{"action":"investigate","target":{"x-riposte:log_lines":{"path":"`+p+`","lines":0}}}`), 400, "lines")
}

func TestTailLines(t *testing.T) {
	for _, tc := range []struct {
		content string
		n       int
		want    string
		count   int
	}{
		{"a\nb\nc\n", 2, "b\nc\n", 2},
		{"a\nb\nc", 2, "b\nc\n", 2},
		{"a\nb\nc\n", 10, "a\nb\nc\n", 3},
		{"", 5, "", 0},
		{"\n\n", 1, "\n", 1},
		{strings.Repeat("x", 200000) + "\nlast\n", 1, "last\n", 1},
		{strings.Repeat("0123456789\n", 20000), 2, "0123456789\n0123456789\n", 2},
	} {
		p := filepath.Join(t.TempDir(), "log")
		os.WriteFile(p, []byte(tc.content), 0o600)
		f, _ := os.Open(p)
		got, n, err := tailLines(f, int64(len(tc.content)), tc.n)
		f.Close()
		if err != nil || string(got) != tc.want || n != tc.count {
			t.Errorf("%.20q n=%d: %q %d %v", tc.content, tc.n, got, n, err)
		}
	}
}

func TestEvidenceStagingIsPrivate(t *testing.T) {
	h := newHost(t, nil)
	out := h.Handle(context.Background(), command(t, `{"action":"investigate","target":{"x-riposte:processes":{}}}`),
		Meta{CommandID: "c-" + strconv.FormatInt(time.Now().UnixNano(), 10)})
	expect(t, out, 200)
	st, _ := os.Stat(out.Evidence[0].Path)
	if st.Mode().Perm() != 0o400 {
		t.Fatalf("staged evidence mode %v", st.Mode())
	}
}
