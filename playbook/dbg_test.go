package playbook

import (
	"os"
	"path/filepath"
	"testing"
	"fmt"
)

func TestDbgCorpus(t *testing.T) {
	v, err := NewSchemaValidator("/work/shared/corpus/cacao/schemas/schemas")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("/work/shared/corpus/cacao/*/*/*.json")
	more, _ := filepath.Glob("/work/shared/corpus/cacao/*/*/*/*.json")
	files = append(files, more...)
	more, _ = filepath.Glob("/work/shared/corpus/cacao/*/*/*/*/*.json")
	files = append(files, more...)
	for _, f := range files {
		if filepath.Base(filepath.Dir(f)) == "schemas" || filepath.Base(filepath.Dir(filepath.Dir(f))) == "schemas" { continue }
		b, _ := os.ReadFile(f)
		for _, m := range []Mode{Strict(v), Lenient(v)} {
			_, errs := ParseCACAO(b, m)
			fmt.Printf("== %s strict=%v errors=%d\n", f, m.strict, len(Errors(errs)))
			for _, e := range errs { fmt.Println("   ", e.Error()) }
		}
	}
}

func TestDbgLint(t *testing.T) {
	files, _ := filepath.Glob("/work/shared/corpus/cacao/soarca/*/*.json")
	more, _ := filepath.Glob("/work/shared/corpus/cacao/soarca/test/playbooks/*.json")
	files = append(files, more...)
	files = append(files, "/work/shared/corpus/cacao/oasis-examples/Examples/CACAO-2.0/basic-example-1.json", "/work/shared/corpus/cacao/oasis-examples/Examples/CACAO-2.0/spec-3.1-example.json", "/work/shared/corpus/cacao/oasis-examples/Examples/CACAO-2.0/locky-bart-mbc-examples.json", "/work/shared/corpus/cacao/oasis-examples/Extensions/layout/examples/playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		p, _ := ParseCACAO(b, Lenient(nil))
		if p == nil { continue }
		fmt.Println("==", f)
		for _, e := range Lint(p, nil) { fmt.Println("   ", e.Error()) }
	}
}
