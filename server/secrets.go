package server

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/riposte-soar/riposte/config"
	"github.com/riposte-soar/riposte/secret"
	"github.com/riposte-soar/riposte/slackapprove"
	"github.com/riposte-soar/riposte/store"
)

// openSecrets opens the secret store of a data directory and reads every
// secret once, so a node given the wrong key stops now, naming a secret it
// cannot decrypt, rather than at the first playbook that needs one; then
// it checks that every reference of the configuration exists.
func openSecrets(ctx context.Context, cfg config.Config, ctl *store.DB) (*secret.Store, error) {
	s, err := secret.Open(ctl, cfg.Data)
	if err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	if err := s.Verify(ctx); err != nil {
		return nil, fmt.Errorf("secret store: %w", err)
	}
	if errs := checkSecretRefs(ctx, cfg, s.Exists); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// secretRefs lists the secret:// references of the configuration, by the
// key that holds each.
func secretRefs(cfg config.Config) (map[string]string, error) {
	deps, err := connectorDeps(cfg, nil)
	if err != nil {
		return nil, err
	}
	refs := deps.HTTP.References()
	if deps.DNSSink != nil {
		maps.Copy(refs, deps.DNSSink.References())
	}
	if deps.LDAP != nil {
		maps.Copy(refs, deps.LDAP.References())
	}
	if deps.PagerDuty != nil {
		maps.Copy(refs, deps.PagerDuty.References())
	}
	if deps.Jira != nil {
		maps.Copy(refs, deps.Jira.References())
	}
	if deps.ServiceNow != nil {
		maps.Copy(refs, deps.ServiceNow.References())
	}
	if deps.AbuseIPDB != nil {
		maps.Copy(refs, deps.AbuseIPDB.References())
	}
	if deps.VirusTotal != nil {
		maps.Copy(refs, deps.VirusTotal.References())
	}
	if deps.TheHive != nil {
		maps.Copy(refs, deps.TheHive.References())
	}
	if deps.Opsgenie != nil {
		maps.Copy(refs, deps.Opsgenie.References())
	}
	if deps.Falcon != nil {
		maps.Copy(refs, deps.Falcon.References())
	}
	if deps.Defender != nil {
		maps.Copy(refs, deps.Defender.References())
	}
	if deps.Entra != nil {
		maps.Copy(refs, deps.Entra.References())
	}
	if deps.Okta != nil {
		maps.Copy(refs, deps.Okta.References())
	}
	if deps.OPNsense != nil {
		maps.Copy(refs, deps.OPNsense.References())
	}
	if deps.PANOS != nil {
		maps.Copy(refs, deps.PANOS.References())
	}
	if deps.FortiGate != nil {
		maps.Copy(refs, deps.FortiGate.References())
	}
	// Approvals from Slack: the signing secret and the webhook.
	if sc, err := slackapprove.ParseConfig(cfg.Slack.YAML, cfg.Slack.Line); err == nil {
		for key, name := range sc.References() {
			if refs == nil {
				refs = map[string]string{}
			}
			refs[key] = name
		}
	}
	// The console's single sign-on client secret may be a reference too:
	// a missing one would otherwise show only at the first sign-in.
	if c := cfg.Console.OIDC; c.Issuer != "" {
		name, ok, err := secret.ParseRef(c.ClientSecret)
		if err != nil {
			return nil, fmt.Errorf("console.oidc.client_secret: %w", err)
		}
		if ok {
			if refs == nil {
				refs = map[string]string{}
			}
			refs["console.oidc.client_secret"] = name
		}
	}
	return refs, nil
}

// checkSecretRefs names each reference whose secret the store does not
// hold; exists is nil when the data directory has no store yet.
func checkSecretRefs(ctx context.Context, cfg config.Config, exists func(context.Context, string) (bool, error)) []error {
	refs, err := secretRefs(cfg)
	if err != nil {
		return nil // reported by the connector checks
	}
	var errs []error
	for _, key := range slices.Sorted(maps.Keys(refs)) {
		name := refs[key]
		ok := false
		if exists != nil {
			if ok, err = exists(ctx, name); err != nil {
				errs = append(errs, fmt.Errorf("%s: secret %s: %v", key, name, err))
				continue
			}
		}
		if !ok {
			errs = append(errs, fmt.Errorf("%s: secret://%s does not exist in %s (riposte secret set %s --data %s)", key, name, cfg.Data, name, cfg.Data))
		}
	}
	return errs
}

// checkSecretsOnDisk is Check's view of the references: the data directory
// the configuration names, read if it exists, never created.
func checkSecretsOnDisk(cfg config.Config) []error {
	refs, err := secretRefs(cfg)
	if err != nil || len(refs) == 0 {
		return nil
	}
	ctx := context.Background()
	if _, err := os.Stat(filepath.Join(cfg.Data, ControlDB)); cfg.Database.URL == "" && errors.Is(err, os.ErrNotExist) {
		return checkSecretRefs(ctx, cfg, nil)
	}
	db, err := openControlConfig(cfg)
	if err != nil {
		return []error{fmt.Errorf("secret references: %w", err)}
	}
	defer db.Close()
	// Existence needs no key: check works without RIPOSTE_SECRET_KEY.
	s, err := secret.New(db, make([]byte, 32))
	if err != nil {
		return []error{err}
	}
	return checkSecretRefs(ctx, cfg, s.Exists)
}
