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
