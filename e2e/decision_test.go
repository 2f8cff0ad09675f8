package e2e

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestDecisionsCLI records containment decisions, shows the repeat-offender
// schedule lengthening a ban (the re-ban replaces the first decision), and
// reverts one.
func TestDecisionsCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	var ids []string
	for i, want := range []string{"offense 1", "offense 2"} {
		out, errs, code := run(append([]string{"decision", "add", "--target", "203.0.113.7", "--reason", "ssh brute force"}, srv...)...)
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("add %d: %s %s", i, out, errs)
		}
		ids = append(ids, strings.TrimSuffix(strings.Fields(out)[0], ":"))
	}
	if _, errs, code := run(append([]string{"decision", "add", "--target", "not-an-ip", "--reason", "x"}, srv...)...); code == 0 || !strings.Contains(errs, "neither an IP address nor a CIDR") {
		t.Fatalf("bad target accepted: %s", errs)
	}
	out, _, _ := run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
	var ds []struct {
		ID      string
		Offense int
		Target  string
	}
	json.Unmarshal([]byte(out), &ds)
	if len(ds) != 1 || ds[0].Target != "203.0.113.7/32" || ds[0].ID != ids[1] || ds[0].Offense != 2 {
		t.Fatalf("active decisions %s", out)
	}
	if _, _, code := run(append([]string{"decision", "revert", ids[0]}, srv...)...); code != 1 {
		t.Fatalf("reverting the superseded decision: exit %d, want 1", code)
	}
	if _, errs, code := run(append([]string{"decision", "revert", ids[1], "--reason", "false positive"}, srv...)...); code != 0 {
		t.Fatalf("revert: %s", errs)
	}
	if _, _, code := run(append([]string{"decision", "revert", ids[1]}, srv...)...); code != 1 {
		t.Fatalf("second revert: exit %d, want 1", code)
	}
	out, _, _ = run(append([]string{"decision", "list", "--output", "json"}, srv...)...)
	ds = nil
	json.Unmarshal([]byte(out), &ds)
	if len(ds) != 0 {
		t.Fatalf("after revert: %s", out)
	}
}
