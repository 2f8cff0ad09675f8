package respond

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/internal/storetest"
	"github.com/riposte-soar/riposte/rulestore"
	"github.com/riposte-soar/riposte/secret"
	"github.com/riposte-soar/riposte/store"
)

// TestPutRefusesMissingSecret: storing a playbook whose webhook trigger
// names a secret the store does not hold is refused, naming the YAML path
// and the secret; once the secret is set the same playbook is stored.
func TestPutRefusesMissingSecret(t *testing.T) {
	dir := t.TempDir()
	db, err := store.OpenSchema(storetest.TargetIn(t, dir, "riposte.db"), "full", store.ControlSchema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	secrets, err := secret.New(db, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	lib := &Library{Store: rulestore.NewPlaybooks(db), Reg: connector.NewRegistry(), SecretExists: secrets.Exists}
	body := []byte(`id: playbook--8b2d4f60-3c5e-4d7f-9a01-b2c3d4e5f607
name: Signed report
modified: 2026-12-01T00:00:00Z
trigger:
  webhook: {name: signed-report, secret_ref: "secret://hooks/report"}
start: done
steps:
  done: end
`)
	ctx := context.Background()
	_, err = lib.Put(ctx, body, "test", "")
	var ce *CheckError
	if !errors.As(err, &ce) {
		t.Fatalf("put with a missing secret: %v, want a CheckError", err)
	}
	for _, want := range []string{"$.trigger.webhook.secret_ref", "secret://hooks/report does not exist", "line 5"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if err := secrets.Set(ctx, "hooks/report", []byte("k"), "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.Put(ctx, body, "test", ""); err != nil {
		t.Fatalf("put once the secret exists: %v", err)
	}
}
