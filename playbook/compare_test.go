package playbook

import (
	"encoding/json"
	"fmt"
	"reflect"
)

// diffModels describes the first difference between two playbooks (their
// Source maps excluded), or returns "".
func diffModels(a, b *Playbook) string {
	ac, bc := *a, *b
	ac.Source, bc.Source = nil, nil
	if reflect.DeepEqual(&ac, &bc) {
		return ""
	}
	ja, _ := json.MarshalIndent(ac, "", " ")
	jb, _ := json.MarshalIndent(bc, "", " ")
	la, lb := splitLines(string(ja)), splitLines(string(jb))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: %q vs %q", i+1, la[i], lb[i])
		}
	}
	if len(la) != len(lb) {
		return fmt.Sprintf("lengths %d vs %d", len(la), len(lb))
	}
	return "differ in a way JSON does not show (nil vs empty?)"
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
