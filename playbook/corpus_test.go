package playbook

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/corpus"
	"github.com/riposte-soar/riposte/internal/testenv"
)

// corpusDir is the shared CACAO corpus (schemas, OASIS examples, SOARCA
// examples and test playbooks): a test that needs it skips when it is
// absent, and fails under CI.
func corpusDir(t testing.TB) string {
	t.Helper()
	dir := corpus.Dir(t, "cacao")
	_, err := os.Stat(filepath.Join(dir, "schemas", "schemas", "playbook.json"))
	testenv.Need(t, err == nil, "the CACAO schemas in the corpus: %v", err)
	return dir
}

func corpusValidator(t testing.TB) (*SchemaValidator, string) {
	dir := corpusDir(t)
	v, err := NewSchemaValidator(filepath.Join(dir, "schemas"))
	if err != nil {
		t.Fatal(err)
	}
	return v, dir
}

// corpusCase is the expected outcome for one corpus playbook (cacao.md §12).
// An empty want means the mode accepts the playbook (no error-severity
// finding); otherwise some error must contain the text.
type corpusCase struct {
	file    string
	strict  string // error expected in strict mode, "" = passes
	lenient string // error expected in lenient mode, "" = loads clean
	lint    string // error expected from Lint (after lenient load), "" = clean
}

var corpusCases = []corpusCase{
	// OASIS examples.
	{"oasis-examples/Examples/CACAO-2.0/basic-example-1.json", "", "", ""},
	{"oasis-examples/Examples/CACAO-2.0/spec-3.1-example.json", "", "", ""},
	{"oasis-examples/Examples/CACAO-2.0/locky-bart-mbc-examples.json",
		`"software--5e1cadae-7532-45d8-89f8-fe051a1e7df8" is not allowed here`, "",
		`no connector for command type "subroutine"`},
	{"oasis-examples/Extensions/layout/examples/playbook--aa1898b6-5251-49b4-aeb7-fd5e912583ff.json",
		`missing property 'switch'`, `missing properties 'commands', 'agent'`,
		`a switch-condition needs switch`},
	// SOARCA examples: closed agent map in strict; soarca agents have no connector.
	{"soarca/examples/http-playbook.json", `"soarca--00020001-1000-1000-a000-000100010001" is not allowed here`, "", `no connector runs http-api commands for agent type "soarca"`},
	{"soarca/examples/ssh-playbook.json", `"soarca--00010001-1000-1000-a000-000100010001" is not allowed here`, "", `no connector runs ssh commands for agent type "soarca"`},
	{"soarca/examples/manual-playbook.json", `"soarca-manual-capability--7b0e98db-fa93-42aa-8511-e871c65131b1" is not allowed here`, "", `key prefix "soarca-manual-capability" does not match type "soarca-manual"`},
	{"soarca/examples/openc2-playbook.json", `"soarca--00020001-1000-1000-a000-000100010001" is not allowed here`, "", `no connector runs openc2-http commands for agent type "soarca"`},
	{"soarca/examples/powershell-playbook.json", `"authentication-info--5a9c4caa-734b-4bd4-bbe1-fef0d426cf5a" is not allowed here`, "", `no connector runs powershell commands for agent type "soarca"`},
	{"soarca/examples/fin-playbook.json", `does not match pattern`, `does not match pattern`, `modified 2023-11-01T15:33:31.072Z is earlier than created`},
	// SOARCA test playbooks: schema-valid ones only the linter rejects.
	{"soarca/test/playbooks/playbook.json", "", "", `must be a start step, but action--a76dbc32-b739-427b-ae13-4ec703d5797e is of type action`},
	{"soarca/test/playbooks/infinite_playbook.json", "", "", `cycle without exit "End SOARCA Main Flow" → "End SOARCA Main Flow"`},
	{"soarca/test/playbooks/missing_step_playbook.json", "", "", `on_completion references missing step "end--6b23c237-ade8-4d00-9aa1-75999738d558"`},
	{"soarca/test/playbooks/invalid_email_playbook.json", "", "", `workflow_exception references missing step "end--40131926-89e9-44df-a018-5f92f2df7914"`},
	{"soarca/test/playbooks/invalid_playbook.json", `value must be 'http-api'`, `value must be 'http-api'`, `key prefix "http-api" does not match type "invalid"`},
	{"soarca/test/playbooks/changed-playbook.json", `got array, want object`, `CACAO 1.x workflow list not supported`, `the workflow has no steps`},
}

func findError(errs []Error, want string) bool {
	for _, e := range errs {
		if e.Severity == SeverityError && strings.Contains(e.Error(), want) {
			return true
		}
	}
	return false
}

func checkOutcome(t *testing.T, what, want string, errs []Error) {
	t.Helper()
	if want == "" {
		for _, e := range Errors(errs) {
			t.Errorf("%s: unexpected error: %v", what, e)
		}
		return
	}
	if !findError(errs, want) {
		t.Errorf("%s: want an error containing %q, got:", what, want)
		for _, e := range errs {
			t.Logf("    %v", e)
		}
	}
}

func TestCorpusOutcomes(t *testing.T) {
	v, dir := corpusValidator(t)
	var strictOK, lenientOK, loaded, lintOK int
	for _, c := range corpusCases {
		t.Run(filepath.Base(c.file), func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Fatal(err)
			}
			_, serrs := ParseCACAO(data, Strict(v))
			checkOutcome(t, "strict", c.strict, serrs)
			if !HasErrors(serrs) {
				strictOK++
			}
			p, lerrs := ParseCACAO(data, Lenient(v))
			checkOutcome(t, "lenient", c.lenient, lerrs)
			if p == nil {
				t.Fatal("lenient mode returned no playbook")
			}
			loaded++
			if !HasErrors(lerrs) {
				lenientOK++
			}
			lint := Lint(p, builtinConnectors)
			checkOutcome(t, "lint", c.lint, lint)
			if !HasErrors(lint) {
				lintOK++
			}
			// Every error has a path; errors in the document have a line.
			for _, e := range append(append(serrs, lerrs...), lint...) {
				if e.Path == "" {
					t.Errorf("finding without a path: %v", e)
				}
			}
		})
	}
	t.Logf("corpus: %d playbooks; %d load in lenient mode (%d without errors); %d pass strict; %d lint clean",
		len(corpusCases), loaded, lenientOK, strictOK, lintOK)
}

// TestCorpusCovered makes sure the table names every playbook in the corpus.
func TestCorpusCovered(t *testing.T) {
	dir := corpusDir(t)
	listed := map[string]bool{}
	for _, c := range corpusCases {
		listed[c.file] = true
	}
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || !strings.HasSuffix(path, ".json") {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		rel = filepath.ToSlash(rel)
		if strings.HasPrefix(rel, "schemas/") {
			return nil
		}
		data, _ := os.ReadFile(path)
		if !strings.Contains(string(data), `"type": "playbook"`) {
			return nil // identities, marking objects, extension definitions
		}
		if !listed[rel] {
			t.Errorf("corpus playbook %s has no expected outcome in corpusCases", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLenientWithoutSchemas: the hand-written checks alone give the same
// verdicts as lenient mode with schemas for the corpus.
func TestLenientWithoutSchemas(t *testing.T) {
	dir := corpusDir(t)
	for _, c := range corpusCases {
		data, err := os.ReadFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		p, errs := ParseCACAO(data, Lenient(nil))
		if p == nil {
			t.Errorf("%s: no playbook", c.file)
			continue
		}
		if (c.lenient == "") == HasErrors(errs) {
			t.Errorf("%s: lenient without schemas: errors=%v, want errors=%v: %v", c.file, HasErrors(errs), c.lenient != "", Errors(errs))
		}
	}
}

func TestStrictNeedsSchemas(t *testing.T) {
	p, errs := ParseCACAO([]byte(`{}`), Strict(nil))
	if p != nil || !findError(errs, "strict mode needs the CACAO JSON schemas") {
		t.Fatalf("got %v, %v", p, errs)
	}
}
