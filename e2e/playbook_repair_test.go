package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// soarcaStyle is written the way SOARCA and other executors export CACAO:
// the workflow starts at a parallel step, its branches run into the step
// after the block instead of ending, the two manual actions name no agent,
// and the one agent's key prefix is not its type.
const soarcaStyle = `{
  "type": "playbook", "spec_version": "cacao-2.0",
  "id": "playbook--9a3c1f52-7e44-4b0d-8f21-5d6e7a8b9c01",
  "name": "Migrated triage",
  "description": "Two people check in parallel, then one confirms.",
  "created_by": "identity--5abe695c-7bd5-4c31-8824-2528696cdbf1",
  "created": "2025-03-01T10:00:00.000Z", "modified": "2025-03-01T10:00:00.000Z",
  "workflow_start": "parallel--0b1c2d3e-4f50-4a61-8b72-9c83d4e5f601",
  "workflow": {
    "parallel--0b1c2d3e-4f50-4a61-8b72-9c83d4e5f601": {"type": "parallel",
      "next_steps": ["action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01", "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02"]},
    "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01": {"type": "action", "name": "Check the firewall",
      "commands": [{"type": "manual", "command": "Check the firewall logs"}],
      "on_completion": "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03"},
    "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02": {"type": "action", "name": "Check the mail gateway",
      "commands": [{"type": "manual", "command": "Check the mail gateway"}],
      "on_completion": "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03"},
    "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03": {"type": "action", "name": "Confirm",
      "agent": "linux--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01",
      "commands": [{"type": "manual", "command": "Confirm the incident"}],
      "on_completion": "end--2b3c4d5e-6f70-4a81-9b92-ac3d4e5f6a01"},
    "end--2b3c4d5e-6f70-4a81-9b92-ac3d4e5f6a01": {"type": "end"}
  },
  "agent_definitions": {
    "linux--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01": {"type": "individual", "name": "on-call analyst"}
  }
}`

// TestPlaybookRepairCLI: validate refuses a SOARCA-style playbook, validate
// --repair prints each repair with its JSON path and dry-runs the result,
// import --repair stores it on a running node, and a playbook whose repair
// would be a guess (two people could run the step) is refused and not
// stored.
func TestPlaybookRepairCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the real binary")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "migrated.json")
	os.WriteFile(file, []byte(soarcaStyle), 0o644)

	if out, errs, code := run("playbook", "validate", file); code != 1 || !strings.Contains(errs, `action steps require "agent"`) {
		t.Fatalf("validate without --repair: want exit 1 naming the missing agent, got %d\n%s%s", code, out, errs)
	}
	fixed := filepath.Join(dir, "fixed.json")
	out, errs, code := run("playbook", "validate", "--repair", "--write", fixed, file)
	if code != 0 {
		t.Fatalf("validate --repair: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{
		`repaired $.agent_definitions["linux--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01"]: renamed "individual--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01"`,
		`repaired $.workflow_start: was parallel step "parallel--0b1c2d3e-4f50-4a61-8b72-9c83d4e5f601"; a start step`,
		`repaired $.workflow["parallel--0b1c2d3e-4f50-4a61-8b72-9c83d4e5f601"].on_completion: set to "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03"`,
		`repaired $.workflow["action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01"].on_completion: ran into "action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c03", the step after the parallel block`,
		`repaired $.workflow["action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c02"].agent: bound to the only individual agent "individual--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e01"`,
		`valid (Migrated triage, 8 steps, after 8 repair(s); its dry run succeeded)`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("validate --repair output lacks\n    %s\ngot:\n%s", want, out)
		}
	}
	// What it wrote is valid as it stands, and runs.
	if out, errs, code := run("playbook", "validate", fixed); code != 0 {
		t.Fatalf("the written repair does not validate: %s%s", out, errs)
	}
	if out, errs, code := run("playbook", "run", "--dry-run", "--output", "json", fixed); code != 0 || !strings.Contains(out, `"outcome": "succeeded"`) {
		t.Fatalf("the written repair does not dry-run: %d\n%s%s", code, out, errs)
	}

	n := newNode(t, "")
	n.start()
	srv := []string{"--server", "http://" + n.http, "--token", n.token}
	if out, errs, code := run(append([]string{"playbook", "import", file, "--reason", "from SOARCA"}, srv...)...); code != 1 {
		t.Fatalf("import without --repair: want exit 1, got %d\n%s%s", code, out, errs)
	}
	out, errs, code = run(append([]string{"playbook", "import", "--repair", file, "--reason", "from SOARCA"}, srv...)...)
	if code != 0 || !strings.Contains(out, "version 1 stored") || !strings.Contains(out, "repaired $.workflow_start") {
		t.Fatalf("import --repair: exit %d\n%s%s", code, out, errs)
	}
	resp, body, err := n.do("GET", "/api/v1/playbooks/playbook--9a3c1f52-7e44-4b0d-8f21-5d6e7a8b9c01/versions", n.token, nil, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("versions: %v %s", err, body)
	}
	if !strings.Contains(string(body), "from SOARCA (repaired on import: 8 deviation(s) from CACAO 2.0)") {
		t.Errorf("the stored version's reason does not say it was repaired: %s", body)
	}

	// Two people could answer the unbound steps: binding either is a guess.
	var doc map[string]any
	json.Unmarshal([]byte(soarcaStyle), &doc)
	doc["id"] = "playbook--9a3c1f52-7e44-4b0d-8f21-5d6e7a8b9c02"
	doc["agent_definitions"].(map[string]any)["individual--7c8d9e0f-1a2b-4c3d-8e4f-5a6b7c8d9e02"] = map[string]any{"type": "individual", "name": "second analyst"}
	two, _ := json.Marshal(doc)
	ambiguous := filepath.Join(dir, "ambiguous.json")
	os.WriteFile(ambiguous, two, 0o644)
	out, errs, code = run(append([]string{"playbook", "import", "--repair", ambiguous}, srv...)...)
	if code != 1 || !strings.Contains(errs, `cannot repair $.workflow["action--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c01"].agent: missing, and 2 agents fit`) {
		t.Fatalf("import --repair of an ambiguous playbook: want exit 1 with the reason, got %d\n%s%s", code, out, errs)
	}
	if resp, _, _ := n.do("GET", "/api/v1/playbooks/playbook--9a3c1f52-7e44-4b0d-8f21-5d6e7a8b9c02", n.token, nil, nil); resp == nil || resp.StatusCode != 404 {
		t.Errorf("a refused repair stored something: %v", resp)
	}
	if _, errs, code := run("playbook", "validate", "--repair", ambiguous); code != 1 || !strings.Contains(errs, "2 agents fit") {
		t.Errorf("validate --repair of an ambiguous playbook: want exit 1 with the reason, got %d %s", code, errs)
	}
}
