package playbook

import (
	"os"
	"path/filepath"
	"testing"
)

func addSeeds(f *testing.F, patterns ...string) {
	for _, pat := range patterns {
		files, _ := filepath.Glob(pat)
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
}

// exercise runs everything downstream of a parse: lint and both exports,
// and checks that an export reads back.
func exercise(t *testing.T, p *Playbook) {
	_ = Lint(p, builtinConnectors)
	if j, err := p.CACAO(); err == nil {
		if q, _ := ParseCACAO(j, Lenient(nil)); q == nil {
			t.Fatalf("CACAO export does not parse:\n%s", j)
		}
	}
	if y, err := p.YAML(); err == nil {
		if q, errs := ParseYAML(y); q == nil {
			t.Fatalf("YAML export does not parse: %v\n%s", errs, y)
		}
	}
}

func FuzzParseCACAO(f *testing.F) {
	addSeeds(f, "testdata/cacao/*.json", filepath.Join(corpusDirOrEmpty(), "*", "*", "*.json"), filepath.Join(corpusDirOrEmpty(), "oasis-examples", "Examples", "CACAO-2.0", "*.json"))
	f.Add([]byte(`{"type":"playbook","workflow":[]}`))
	f.Add([]byte(`{"workflow":{"if-condition--1":{"type":"if-condition","condition":"[__x__:value = 1]"}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := ParseCACAO(data, Lenient(nil))
		if p != nil {
			exercise(t, p)
		}
	})
}

func FuzzParseYAML(f *testing.F) {
	addSeeds(f, "testdata/yaml/*.yaml", "testdata/lint/*.yaml", "library/*.yaml")
	f.Add([]byte("name: x\nsteps: {a: end}\nstart: a\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, _ := ParseYAML(data)
		if p != nil {
			exercise(t, p)
		}
	})
}
