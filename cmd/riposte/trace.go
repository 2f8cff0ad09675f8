package main

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/riposte-soar/riposte/engine"
)

// printTrace writes a run's trace for people: one numbered line per step
// with the name its author gave it, its status and how long it took, then
// what it sent, what came back, what it asked and what it returned.
// Child runs are indented under the step that started them. Every value
// is escaped: commands and outputs carry event and connector data.
func printTrace(w io.Writer, tr engine.Trace, title string) {
	head := safe(tr.Playbook)
	if title != "" {
		head = safe(title) + " (" + head + ")"
	}
	fmt.Fprintf(w, "%s: %s, %d steps\n", head, safe(tr.Outcome), len(tr.Steps))
	traceSteps(w, tr, "")
	if tr.Error != "" {
		fmt.Fprintf(w, "error: %s\n", safe(tr.Error))
	}
}

func traceSteps(w io.Writer, tr engine.Trace, indent string) {
	for i, st := range tr.Steps {
		name := st.Name
		if name == "" && st.Type == "start" {
			name = "start" // CACAO's start step is rarely named, and its id is a UUID
		}
		if name == "" {
			name = st.Step
		}
		took := "still running"
		if st.Ended != nil {
			took = "in " + span(st.Ended.Sub(st.Entered))
		}
		fmt.Fprintf(w, "%s%2d. %s [%s] %s %s\n", indent, i+1, safe(name), safe(st.Type), safe(st.Outcome), took)
		sub := indent + "      "
		detail := func(label, v string) {
			fmt.Fprintf(w, "%s%-8s %s\n", sub, label+":", safe(v))
		}
		for _, s := range st.Sent {
			detail("sent", s)
		}
		for _, r := range st.Results {
			detail("result", r)
		}
		if len(st.Outputs) > 0 {
			detail("outputs", outputsLine(st.Outputs))
		}
		if st.Inquiry != "" {
			detail("asked", st.Inquiry)
		}
		if st.Answer != "" {
			detail("answer", st.Answer)
		}
		if st.Reason != "" || st.Message != "" {
			detail("failed", strings.TrimSpace(st.Reason+" "+st.Message))
		}
		if st.Child != nil {
			fmt.Fprintf(w, "%schild run of %s: %s\n", sub, safe(st.Child.Playbook), safe(st.Child.Outcome))
			traceSteps(w, *st.Child, sub)
		}
	}
}

// outputsLine is name=value pairs in name order, values as JSON.
func outputsLine(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		b, _ := json.Marshal(m[k])
		parts[i] = k + "=" + string(b)
	}
	return strings.Join(parts, " ")
}
