package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlaybookSecretRefs: a playbook whose webhook trigger names a secret
// the store does not hold is refused by `playbook import` and fails
// `playbook validate` against the server or the data directory, both naming
// the YAML path and the secret; validate without a store only notes that
// the references were not checked. Once the secret is set, both accept it.
func TestPlaybookSecretRefs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	n := newNode(t, "")
	f := filepath.Join(t.TempDir(), "hook.yaml")
	body := strings.Replace(secretHookPlaybook, "secret://hooks/report", "secret://hooks/missing", 1)
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := func(what string, errs string, code int) {
		t.Helper()
		if code != 1 || !strings.Contains(errs, "$.trigger.webhook.secret_ref") || !strings.Contains(errs, "secret://hooks/missing does not exist") {
			t.Fatalf("%s with a missing secret: exit %d, %s", what, code, errs)
		}
	}
	_, errs, code := run("playbook", "validate", f)
	if code != 0 || !strings.Contains(errs, "secret:// references were not checked") {
		t.Fatalf("validate without a store: exit %d, %s", code, errs)
	}
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	_, errs, code = run(append([]string{"playbook", "validate", f}, srv...)...)
	missing("validate --server", errs, code)
	_, errs, code = run("playbook", "validate", f, "--data", n.data)
	missing("validate --data", errs, code)
	_, errs, code = run(append([]string{"playbook", "import", f}, srv...)...)
	if code == 0 || !strings.Contains(errs, "$.trigger.webhook.secret_ref") || !strings.Contains(errs, "secret://hooks/missing does not exist") {
		t.Fatalf("import with a missing secret: exit %d, %s", code, errs)
	}

	set := exec.Command(binary, append([]string{"secret", "set", "hooks/missing"}, srv...)...)
	set.Stdin = strings.NewReader("hook-key-3f9a1c\n")
	if b, err := set.CombinedOutput(); err != nil {
		t.Fatalf("secret set: %v %s", err, b)
	}
	for _, args := range [][]string{
		append([]string{"playbook", "validate", f}, srv...),
		{"playbook", "validate", f, "--data", n.data},
		append([]string{"playbook", "import", f}, srv...),
	} {
		if out, errs, code := run(args...); code != 0 || strings.Contains(errs, "not checked") {
			t.Fatalf("%v once the secret exists: exit %d, %s %s", args[:2], code, out, errs)
		}
	}
}
