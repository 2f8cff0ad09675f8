package playbook

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// golden compares got with testdata/golden/<name>, or rewrites it with
// -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func errorsText(errs []Error) []byte {
	var b strings.Builder
	for _, e := range errs {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	if len(errs) == 0 {
		b.WriteString("(clean)\n")
	}
	return []byte(b.String())
}

// ownYAML lists the YAML playbooks that must parse without errors: the
// fixtures under testdata/yaml and the starter library.
func ownYAML(t *testing.T) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	files, _ := filepath.Glob(filepath.Join("testdata", "yaml", "*.yaml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimSuffix(filepath.Base(f), ".yaml")] = b
	}
	libs, _ := Library.ReadDir("library")
	for _, e := range libs {
		b, _ := Library.ReadFile("library/" + e.Name())
		out["library-"+strings.TrimSuffix(e.Name(), ".yaml")] = b
	}
	if len(out) < 7 {
		t.Fatalf("only %d YAML fixtures found", len(out))
	}
	return out
}

func mustParseYAML(t *testing.T, name string, data []byte) *Playbook {
	t.Helper()
	p, errs := ParseYAML(data)
	if p == nil || HasErrors(errs) {
		t.Fatalf("%s: %v", name, errs)
	}
	return p
}

// TestLintGolden records the linter's findings for every fixture.
func TestLintGolden(t *testing.T) {
	for name, data := range ownYAML(t) {
		p := mustParseYAML(t, name, data)
		golden(t, "lint/"+name+".txt", errorsText(Lint(p, builtinConnectors)))
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "lint", "*.yaml"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		name := strings.TrimSuffix(filepath.Base(f), ".yaml")
		p := mustParseYAML(t, name, data)
		golden(t, "lint/"+name+".txt", errorsText(Lint(p, builtinConnectors)))
	}
}

func TestLintGoldenCorpus(t *testing.T) {
	dir := corpusDir(t)
	for _, c := range corpusCases {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		p, perrs := ParseCACAO(data, Lenient(nil))
		out := append(errorsText(perrs), "--- lint\n"...)
		out = append(out, errorsText(Lint(p, builtinConnectors))...)
		golden(t, "corpus/"+strings.TrimSuffix(filepath.Base(c.file), ".json")+".txt", out)
	}
}

// TestExportGolden records the CACAO and YAML exports of the own fixtures
// and the library.
func TestExportGolden(t *testing.T) {
	for name, data := range ownYAML(t) {
		p := mustParseYAML(t, name, data)
		j, err := p.CACAO()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "export/"+name+".json", j)
		y, err := p.YAML()
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "export/"+name+".yaml", y)
	}
}
