package main

import (
	"strings"
	"testing"
)

func TestUserLinkCommands(t *testing.T) {
	data := t.TempDir()
	d := "--data=" + data
	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		says  string
	}{
		{"correct horse battery\n", []string{"user", "add", "alice", "--role", "responder", "--password-stdin", d}, 0, "added alice"},
		{"correct horse battery\n", []string{"user", "add", "bob", "--role", "viewer", "--password-stdin", d}, 0, "added bob"},
		{"", []string{"user", "link", "alice", "--slack", "U012AB3CD", d}, 0, "Slack user U012AB3CD answers approvals as alice"},
		{"", []string{"user", "link", "bob", "--slack", "U012AB3CD", d}, 1, "linked to another Riposte user (alice)"},
		{"", []string{"user", "link", "bob", "--slack", "@bob", d}, 2, "not a Slack user ID"},
		{"", []string{"user", "link", "bob", d}, 2, "slack"},
		{"", []string{"user", "link", "ghost", "--slack", "U0GHOST1", d}, 1, "no such user"},
		{"", []string{"user", "link", "bob", "--slack", "W0BOB0001", d}, 0, "answers approvals as bob"},
		{"", []string{"user", "unlink", "bob", d}, 0, "bob has no Slack link any more"},
		{"", []string{"user", "unlink", "bob", d}, 1, "no Slack link"},
	} {
		out, errs, code := runUser(t, c.stdin, c.args...)
		if code != c.code || !strings.Contains(out+errs, c.says) {
			t.Errorf("riposte %s: exit %d, stdout %q, stderr %q; want exit %d saying %q", strings.Join(c.args, " "), code, out, errs, c.code, c.says)
		}
	}
	out, errs, code := runUser(t, "", "user", "list", d)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasSuffix(lines[0], "SLACK") ||
		!strings.HasSuffix(strings.TrimSpace(lines[1]), "U012AB3CD") || !strings.HasSuffix(strings.TrimSpace(lines[2]), "-") {
		t.Fatalf("user list: exit %d\n%s%s", code, out, errs)
	}
}
