package playbook

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// A large minified playbook parses in time linear in its size: positions
// used to be found by scanning from the start of the document for every
// value, which made a few MiB on one line (as an API client may send)
// take minutes of CPU.
func TestParseLargeMinifiedPlaybookQuickly(t *testing.T) {
	var b strings.Builder
	n := 12000
	for i := 0; i < n; i++ {
		next := fmt.Sprintf("action--%08x-0000-4000-8000-000000000000", i+1)
		if i == n-1 {
			next = rpEnd
		}
		fmt.Fprintf(&b, `"action--%08x-0000-4000-8000-000000000000":{"type":"action","name":"step %d","agent":%q,"commands":[{"type":"manual","command":"look at it"}],"on_completion":%q},`, i, i, rpPerson, next)
	}
	doc := rpDoc(rpStart, `{"`+rpStart+`":{"type":"start","on_completion":"action--00000000-0000-4000-8000-000000000000"},`+b.String()+`"`+rpEnd+`":{"type":"end"}}`, rpPeople)
	start := time.Now()
	p, errs := ParseCACAO([]byte(doc), Lenient(nil))
	took := time.Since(start)
	if p == nil || HasErrors(errs) || len(p.Steps) != n+2 {
		t.Fatalf("did not parse: %v", Errors(errs))
	}
	t.Logf("%d bytes on one line: %v", len(doc), took)
	if took > 10*time.Second {
		t.Fatalf("parsing %d bytes took %v", len(doc), took)
	}
	// Positions are still right on a later line.
	_, errs = ParseCACAO([]byte("{\n  \"type\": \"playbook\",\n  \"id\": 7\n}"), Lenient(nil))
	found := false
	for _, e := range errs {
		found = found || (e.Path == "$.id" && e.Line == 3 && e.Column == 9)
	}
	if !found {
		t.Errorf("want an error at line 3, column 9 for $.id, got %v", errs)
	}
}
