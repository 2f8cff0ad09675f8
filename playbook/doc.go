// Package playbook is Riposte's playbook model: one in-memory form of a
// playbook version that two formats load into and export from.
//
//   - CACAO 2.0 JSON (OASIS): ParseCACAO, (*Playbook).CACAO. Strict mode
//     validates against the official JSON schemas, loaded at run time from a
//     directory (NewSchemaValidator); lenient mode accepts the deviations
//     real-world playbooks have and reports them as warnings.
//   - Riposte's YAML: ParseYAML, (*Playbook).YAML. Human-friendly step names
//     as keys, shorthands for connector calls (`connector: agent.deny_ip`),
//     approvals (`approve:`), branches (`if`/`then`/`else`, `while`/`do`,
//     `switch`/`cases`, `parallel`), `retry:`, `timeout:`, `trigger:`. It maps
//     1:1 onto the model; see README.md for the reference.
//
// Riposte's additions that CACAO lacks (trigger, retry policy, approval
// policy, revert-after, loop cap, failure policy, connector pin) travel
// through CACAO in one extension, RiposteExtensionID (x-riposte), whose
// schema is x-riposte.schema.json.
//
// Lint checks what no schema can (cacao.md §10.3): reachability, cycles (a
// while loop is fine), branches that must end at their own end steps,
// missing references, undefined variables, conditions, unknown agents and
// targets, connector operations and their arguments (KnownConnectors,
// supplied by the connector registry).
//
// Conditions are written in the language of package expr (a STIX
// comparison subset). Variable references `__name__:value` are substituted
// with Substitute and friends, which keep untrusted values as data (see
// subst.go for the injection-safety rules).
//
// RepairCACAO rewrites the deviations other executors' CACAO playbooks
// commonly have (no start step, goto-style branches, key prefixes, actions
// without agent) into valid CACAO, listing each repair with its JSON path,
// and refuses what it could only fix by guessing (repair.go).
//
// Library holds the starter playbooks (library/*.yaml).
//
// Fed by: playbook files (API, CLI, the embedded library). Feeds: the
// durable engine (durable-engine.md), which compiles a linted Playbook into
// its plan and runs it; the API and UI, which show and edit it.
package playbook
