package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenC2Validate: the CLI accepts a valid command and response and
// refuses an invalid command with the reason (exit 1).
func TestOpenC2Validate(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"deny.json":     `{"action":"deny","target":{"ipv4_connection":{"protocol":"tcp","src_addr":"203.0.113.7/32","dst_port":22}},"args":{"duration":3600000,"response_requested":"complete","slpf":{"drop_process":"reject"}},"actuator":{"slpf":{}}}`,
		"response.json": `{"status":200,"status_text":"ok"}`,
		"bad.json":      `{"action":"deny","target":{"ipv4_net":"10.0.0.300/24"},"actuator":{"slpf":{}}}`,
	}
	for name, body := range files {
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	if out, errs, code := run("openc2", "validate", filepath.Join(dir, "deny.json")); code != 0 || !strings.Contains(out, "valid command") {
		t.Fatalf("valid command: exit %d %s %s", code, out, errs)
	}
	if out, errs, code := run("openc2", "validate", filepath.Join(dir, "response.json")); code != 0 || !strings.Contains(out, "valid response") {
		t.Fatalf("valid response: exit %d %s %s", code, out, errs)
	}
	if _, errs, code := run("openc2", "validate", filepath.Join(dir, "bad.json")); code != 1 || !strings.Contains(errs, "10.0.0.300/24") {
		t.Fatalf("invalid command: exit %d %s", code, errs)
	}
	if _, _, code := run("openc2", "validate", filepath.Join(dir, "absent.json")); code != 2 {
		t.Fatalf("missing file: exit %d, want 2", code)
	}
}
