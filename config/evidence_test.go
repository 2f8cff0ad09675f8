package config

import (
	"strings"
	"testing"
)

func TestEvidenceStore(t *testing.T) {
	for _, c := range []struct {
		store, dbURL, want string
	}{
		{"files", "", ""},
		{"nats", "", ""},
		{"postgres", "postgres://riposte@db:5432/riposte", ""},
		{"postgres", "", "database.url, which is not set"},
		{"s3", "", `"s3" is not one of files, nats, postgres`},
	} {
		cfg := Default()
		cfg.Evidence.Store, cfg.Database.URL = c.store, c.dbURL
		var got []string
		for _, p := range cfg.Validate(nil) {
			if p.Path == "evidence.store" {
				got = append(got, p.Msg)
			}
		}
		switch {
		case c.want == "" && len(got) > 0:
			t.Errorf("store %s, url %q: refused: %v", c.store, c.dbURL, got)
		case c.want != "" && (len(got) != 1 || !strings.Contains(got[0], c.want)):
			t.Errorf("store %s, url %q: problems %v, want one saying %q", c.store, c.dbURL, got, c.want)
		}
	}
}
