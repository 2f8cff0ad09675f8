package server

import (
	"context"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/secret"
)

// TestCheckNamesMissingSecrets: config check (Check) fails on a
// secret:// reference the data directory does not hold, naming the key
// and the secret, whether the directory exists or not, and passes once the
// secret is set.
func TestCheckNamesMissingSecrets(t *testing.T) {
	t.Setenv(secret.KeyEnv, "")
	cfg := config.Default()
	cfg.Data = t.TempDir() + "/data"
	cfg.Connectors = config.Raw{YAML: []byte("http:\n  hosts: [api.example.org]\n  headers:\n    Authorization: secret://vendor/api\n    X-Tenant: blue\n"), Line: 1}
	want := func(stage string, missing bool) {
		t.Helper()
		var found bool
		for _, err := range Check(cfg) {
			if strings.Contains(err.Error(), "connectors.http.headers.Authorization") && strings.Contains(err.Error(), "secret://vendor/api does not exist") {
				found = true
			} else {
				t.Errorf("%s: unexpected problem: %v", stage, err)
			}
		}
		if found != missing {
			t.Fatalf("%s: missing reference reported %v, want %v", stage, found, missing)
		}
	}
	want("no data directory", true)
	db, err := OpenControl(cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want("empty store", true)
	t.Setenv(secret.KeyEnv, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	s, err := secret.Open(db, cfg.Data)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Set(context.Background(), "vendor/api", []byte("Bearer x"), "test"); err != nil {
		t.Fatal(err)
	}
	// Existence needs no key: check passes without the right one.
	t.Setenv(secret.KeyEnv, "")
	want("secret set", false)
}

// TestCheckNamesMissingSSOSecret: the console's single sign-on client
// secret given as a reference is checked like the connectors' ones.
func TestCheckNamesMissingSSOSecret(t *testing.T) {
	t.Setenv(secret.KeyEnv, "")
	cfg := config.Default()
	cfg.Data = t.TempDir() + "/data"
	cfg.Console.OIDC = config.OIDC{Issuer: "https://idp.example.org", ClientID: "riposte", ClientSecret: "secret://sso/client",
		RedirectURL: "https://riposte.example.org/login/oidc/callback", RoleClaim: "groups",
		Roles: []config.OIDCRole{{Value: "soc", Role: "analyst"}}}
	var found bool
	for _, err := range Check(cfg) {
		if strings.Contains(err.Error(), "console.oidc.client_secret") && strings.Contains(err.Error(), "secret://sso/client does not exist") {
			found = true
		} else {
			t.Errorf("unexpected problem: %v", err)
		}
	}
	if !found {
		t.Fatal("a missing single sign-on client secret is not reported by the check")
	}
}

// TestCheckNamesMissingFirewallSecrets: the firewall connectors' keys
// (connectors.panos, connectors.fortigate) are checked like the others.
func TestCheckNamesMissingFirewallSecrets(t *testing.T) {
	t.Setenv(secret.KeyEnv, "")
	for _, tc := range []struct{ yaml, key, ref string }{
		{"panos:\n  url: https://pa.example.org\n  api_key: secret://fw/pa\n  tag: riposte-block\n", "connectors.panos.api_key", "secret://fw/pa"},
		{"fortigate:\n  url: https://fgt.example.org\n  token: secret://fw/fgt\n  group: riposte-block\n  vdom: root\n", "connectors.fortigate.token", "secret://fw/fgt"},
	} {
		cfg := config.Default()
		cfg.Data = t.TempDir() + "/data"
		cfg.Connectors = config.Raw{YAML: []byte(tc.yaml), Line: 1}
		var found bool
		for _, err := range Check(cfg) {
			if strings.Contains(err.Error(), tc.key) && strings.Contains(err.Error(), tc.ref+" does not exist") {
				found = true
			} else {
				t.Errorf("%s: unexpected problem: %v", tc.key, err)
			}
		}
		if !found {
			t.Errorf("%s: a missing %s is not reported by the check", tc.key, tc.ref)
		}
	}
}
