package config

import (
	"slices"
	"testing"
	"time"
)

func TestValidateConsole(t *testing.T) {
	sso := func(c *Config) {
		c.Console.OIDC = OIDC{Issuer: "https://idp.example/realms/soc", ClientID: "riposte", ClientSecret: "secret://oidc/riposte",
			RedirectURL: "https://riposte.example/login/oidc/callback", RoleClaim: "groups",
			Roles: []OIDCRole{{Value: "soc-admins", Role: "admin"}}}
	}
	for _, c := range []struct {
		name   string
		change func(c *Config)
		want   []string
	}{
		{"default: no single sign-on", func(c *Config) {}, nil},
		{"a provider", sso, nil},
		{"a provider on this machine over http", func(c *Config) {
			sso(c)
			c.Console.OIDC.Issuer, c.Console.OIDC.RedirectURL = "http://127.0.0.1:5556/dex", "http://localhost:8080/login/oidc/callback"
		}, nil},
		{"everyone a viewer", func(c *Config) {
			sso(c)
			c.Console.OIDC.RoleClaim, c.Console.OIDC.Roles, c.Console.OIDC.DefaultRole = "", nil, "viewer"
		}, nil},
		{"idle too short", func(c *Config) { c.Console.SessionIdle = Duration(time.Second) },
			[]string{"console.session_idle: 1s is outside 1m..24h"}},
		{"absolute under idle", func(c *Config) { c.Console.SessionAbsolute = Duration(10 * time.Minute) },
			[]string{"console.session_absolute: 10m0s is outside console.session_idle (30m0s)..720h"}},
		{"keys without an issuer", func(c *Config) { c.Console.OIDC.ClientID = "riposte" },
			[]string{"console.oidc.issuer: must be set with the other console.oidc keys"}},
		{"http issuer on the network", func(c *Config) { sso(c); c.Console.OIDC.Issuer = "http://idp.example" },
			[]string{`console.oidc.issuer: "http://idp.example" must use https (http only on localhost)`}},
		{"relative redirect", func(c *Config) { sso(c); c.Console.OIDC.RedirectURL = "/login/oidc/callback" },
			[]string{`console.oidc.redirect_url: "/login/oidc/callback" is not an absolute URL without query or fragment`}},
		{"no client id", func(c *Config) { sso(c); c.Console.OIDC.ClientID = "" }, []string{"console.oidc.client_id: must not be empty"}},
		{"empty secret reference", func(c *Config) { sso(c); c.Console.OIDC.ClientSecret = "secret://" },
			[]string{`console.oidc.client_secret: "secret://" is not a secret://NAME reference`}},
		{"ingest for people", func(c *Config) { sso(c); c.Console.OIDC.Roles[0].Role = "ingest" },
			[]string{`console.oidc.roles[0].role: "ingest" is not one of viewer, analyst, responder, admin`}},
		{"default role unknown", func(c *Config) { sso(c); c.Console.OIDC.DefaultRole = "root" },
			[]string{`console.oidc.default_role: "root" is not empty (refuse) nor one of viewer, analyst, responder, admin`}},
		{"no way to get a role", func(c *Config) { sso(c); c.Console.OIDC.RoleClaim, c.Console.OIDC.Roles = "", nil },
			[]string{"console.oidc.role_claim: set role_claim and roles, or default_role: otherwise no one can sign in"}},
		{"a claim without mappings", func(c *Config) { sso(c); c.Console.OIDC.Roles = nil },
			[]string{"console.oidc.roles: map at least one value of groups to a role, or no one can sign in"}},
		{"mappings without a claim", func(c *Config) { sso(c); c.Console.OIDC.RoleClaim = "" },
			[]string{"console.oidc.role_claim: must name the claim that console.oidc.roles map"}},
		{"a scope with a space", func(c *Config) { sso(c); c.Console.OIDC.Scopes = []string{"profile email"} },
			[]string{`console.oidc.scopes[0]: "profile email" is not a scope`}},
	} {
		cfg := Default()
		c.change(&cfg)
		var got []string
		for _, p := range cfg.Validate(map[string]int{}) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: Validate =\n%q\nwant\n%q", c.name, got, c.want)
		}
	}
}
