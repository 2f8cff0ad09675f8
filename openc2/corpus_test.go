package openc2

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riposte-soar/riposte/internal/corpus"
)

// corpusExceptions are corpus files whose good/bad label Riposte's rules
// deliberately disagree with, each with the reason.
var corpusExceptions = map[string]string{
	"PlugFests/2020.01.27-CyberCom-Plugfest/TestData/slpf+acme/responses/bad/results_castle.json": "README 'implausible tests': valid against a generic LS+anything schema; " +
		"Riposte accepts any well-formed x- results namespace as opaque, so it passes",
	"PlugFests/2020.01.27-CyberCom-Plugfest/TestData/slpf+acme/responses/bad/results_poetry.json": "README 'implausible tests': same as results_castle (opaque x-lit results)",
}

// componentFor maps a corpus folder to the component its labels are relative to (digest §10).
func componentFor(rel string) (Component, bool) {
	switch {
	case strings.Contains(rel, "/TestData/language/"):
		return ComponentLanguage, true
	case strings.Contains(rel, "/TestData/slpf+acme/"):
		return ComponentRiposte, true
	case strings.Contains(rel, "/TestData/slpf/"):
		return ComponentSLPF, true
	case strings.HasPrefix(rel, "Actuator-Profile-Schemas/slpf/"):
		return ComponentSLPF11, true
	case strings.HasPrefix(rel, "Actuator-Profile-Schemas/er/"):
		return ComponentER, true
	}
	return 0, false
}

func TestCorpus(t *testing.T) {
	corpusRoot := corpus.Dir(t, "openc2")
	var total, agree, excepted int
	err := filepath.WalkDir(corpusRoot, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".json") {
			return err
		}
		rel, _ := filepath.Rel(corpusRoot, p)
		dir := strings.ToLower(filepath.Dir(rel))
		var good bool
		switch {
		case strings.HasSuffix(dir, "/good") || strings.Contains(dir, "/good-"):
			good = true
		case strings.HasSuffix(dir, "/bad") || strings.Contains(dir, "/bad-"):
			good = false
		default:
			return nil
		}
		isResponse := strings.Contains(dir, "response")
		comp, ok := componentFor(rel)
		if !ok {
			t.Errorf("%s: no component for folder", rel)
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		var verr error
		if isResponse {
			verr = ValidateResponseFor(comp, data)
		} else {
			verr = ValidateCommandFor(comp, data)
		}
		total++
		ok = (verr == nil) == good
		if reason, exc := corpusExceptions[rel]; exc {
			excepted++
			if ok {
				t.Errorf("%s: documented exception no longer disagrees (%s); remove it", rel, reason)
			} else {
				t.Logf("exception %s: %s", rel, reason)
			}
			return nil
		}
		if ok {
			agree++
			if !good {
				t.Logf("bad  %-90s %v", rel, verr)
			}
		} else if good {
			t.Errorf("good file rejected: %s [%s]: %v", rel, comp, verr)
		} else {
			t.Errorf("bad file accepted: %s [%s]", rel, comp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("corpus: %d files, %d agree, %d documented exceptions, %d disagree",
		total, agree, excepted, total-agree-excepted)
	if total == 0 {
		t.Fatal("no corpus files found under good/bad folders")
	}
}
