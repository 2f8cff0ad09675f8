package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// YAML → model → CACAO → model → YAML gives the same model and the same
// YAML; every export passes lenient parsing without errors.
func TestRoundTripYAML(t *testing.T) {
	for name, data := range ownYAML(t) {
		p1 := mustParseYAML(t, name, data)
		y1, err := p1.YAML()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// YAML export reads back to the same model.
		pY := mustParseYAML(t, name+" (exported)", y1)
		if d := diffModels(p1, pY); d != "" {
			t.Errorf("%s: YAML → model → YAML → model differs: %s", name, d)
		}
		c, err := p1.CACAO()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p2, errs := ParseCACAO(c, Lenient(nil))
		if HasErrors(errs) {
			t.Fatalf("%s: exported CACAO does not load: %v", name, errs)
		}
		for _, e := range errs {
			t.Errorf("%s: exported CACAO gives a warning: %v", name, e)
		}
		if d := diffModels(p1, p2); d != "" {
			t.Errorf("%s: YAML → model → CACAO → model differs: %s", name, d)
		}
		y2, err := p2.YAML()
		if err != nil {
			t.Fatal(err)
		}
		if string(y1) != string(y2) {
			t.Errorf("%s: YAML differs after the CACAO round trip:\n%s\n---\n%s", name, y1, y2)
		}
	}
}

// Exports of Riposte playbooks pass strict validation.
func TestExportsPassStrict(t *testing.T) {
	v, _ := corpusValidator(t)
	for name, data := range ownYAML(t) {
		p := mustParseYAML(t, name, data)
		c, err := p.CACAO()
		if err != nil {
			t.Fatal(err)
		}
		if _, errs := ParseCACAO(c, Strict(v)); HasErrors(errs) {
			t.Errorf("%s: export fails strict: %v", name, Errors(errs))
		}
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "cacao", "*.json"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if _, errs := ParseCACAO(data, Strict(v)); HasErrors(errs) {
			t.Errorf("%s fails strict: %v", f, Errors(errs))
		}
	}
}

// CACAO corpus → model → CACAO → model (and → YAML → model) is lossless.
func TestRoundTripCorpus(t *testing.T) {
	dir := corpusDir(t)
	for _, c := range corpusCases {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		p1, _ := ParseCACAO(data, Lenient(nil))
		if p1 == nil || p1.Steps == nil {
			continue // the CACAO 1.x list: nothing to round-trip
		}
		out, err := p1.CACAO()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		p2, _ := ParseCACAO(out, Lenient(nil))
		if d := diffModels(p1, p2); d != "" {
			t.Errorf("%s: CACAO → model → CACAO → model differs: %s", c.file, d)
		}
		y, err := p1.YAML()
		if err != nil {
			t.Fatalf("%s: %v", c.file, err)
		}
		p3, _ := ParseYAML(y)
		if p3 == nil {
			t.Fatalf("%s: YAML export does not parse", c.file)
		}
		if d := diffModels(p1, p3); d != "" {
			t.Errorf("%s: CACAO → model → YAML → model differs: %s", c.file, d)
		}
	}
}

// The own CACAO fixtures (testdata/cacao) are the CACAO form of the YAML
// fixtures: both load to the same model.
func TestCACAOFixturesMatchYAML(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "cacao", "*.json"))
	if len(files) == 0 {
		t.Fatal("no CACAO fixtures")
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		data, _ := os.ReadFile(f)
		pc, errs := ParseCACAO(data, Lenient(nil))
		if HasErrors(errs) {
			t.Fatalf("%s: %v", f, errs)
		}
		yd, err := os.ReadFile(filepath.Join("testdata", "yaml", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		py := mustParseYAML(t, name, yd)
		if d := diffModels(py, pc); d != "" {
			t.Errorf("%s: CACAO and YAML fixtures differ: %s", name, d)
		}
		if errs := Errors(Lint(pc, builtinConnectors)); len(errs) > 0 {
			t.Errorf("%s: lint: %v", f, errs)
		}
	}
}
