package agent

import (
	"encoding/json"
	"fmt"

	"github.com/riposte-soar/riposte/connector"
	"github.com/riposte-soar/riposte/openc2"
)

// hostOp is a host operation: how its call becomes an OpenC2 command and
// how its success is undone.
type hostOp struct {
	connector.Operation
	build func(connector.Call) (map[string]any, error)
	undo  func(connector.Call, *openc2.Response) *connector.Undo
}

var hostArg = connector.ArgSpec{Type: "string", Required: true, Description: "the host (its agent acts)"}

// argsWith declares an operation's arguments: the host and these.
func argsWith(more map[string]connector.ArgSpec) map[string]connector.ArgSpec {
	m := map[string]connector.ArgSpec{"host": hostArg}
	for k, v := range more {
		m[k] = v
	}
	return m
}

// cmd builds an OpenC2 command; x carries who asked and for which
// incident, which the agent records with any evidence.
func cmd(call connector.Call, action string, target map[string]any, args map[string]any) map[string]any {
	if args == nil {
		args = map[string]any{}
	}
	x, _ := args["x-riposte"].(map[string]any)
	if x == nil {
		x = map[string]any{}
	}
	x["requested_by"] = "playbook:" + call.RunID
	if call.Incident != "" {
		x["incident"] = call.Incident
	}
	args["x-riposte"] = x
	args["response_requested"] = "complete"
	return map[string]any{"action": action, "target": target, "args": args}
}

// agentUndo turns the undo command the agent returned into a recorded undo.
func agentUndo(call connector.Call, rsp *openc2.Response) *connector.Undo {
	raw, ok := rsp.Results["x-riposte"]
	if !ok {
		return nil
	}
	var x struct {
		Undo json.RawMessage `json:"undo"`
	}
	if json.Unmarshal(raw, &x) != nil || len(x.Undo) == 0 || string(x.Undo) == "null" {
		return nil
	}
	var c map[string]any
	if json.Unmarshal(x.Undo, &c) != nil {
		return nil
	}
	host, _ := call.Args["host"].(string)
	return &connector.Undo{Connector: Name, Operation: "command", Args: map[string]any{"host": host, "command": c},
		Summary: fmt.Sprintf("undo %s on %s", call.Operation, host)}
}

func reqStr(call connector.Call, k string) (string, error) {
	s := str(call.Args, k)
	if s == "" {
		return "", fmt.Errorf("argument %q is required", k)
	}
	return s, nil
}

func num(call connector.Call, k string) (int64, bool) {
	switch v := call.Args[k].(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	case float64:
		return int64(v), v == float64(int64(v))
	}
	return 0, false
}

func named(kind, target string) func(connector.Call) (map[string]any, error) {
	return func(call connector.Call) (map[string]any, error) {
		n, err := reqStr(call, "name")
		if err != nil {
			return nil, err
		}
		return cmd(call, kind, map[string]any{target: map[string]any{"name": n}}, nil), nil
	}
}

func fileTarget(call connector.Call) (map[string]any, error) {
	p, err := reqStr(call, "path")
	if err != nil {
		return nil, err
	}
	f := map[string]any{"path": p}
	if h := str(call.Args, "sha256"); h != "" {
		f["hashes"] = map[string]any{"sha256": h}
	}
	return map[string]any{"file": f}, nil
}

func account(status string) func(connector.Call) (map[string]any, error) {
	return func(call connector.Call) (map[string]any, error) {
		a, err := reqStr(call, "account")
		if err != nil {
			return nil, err
		}
		args := map[string]any{"er": map[string]any{"account_status": status}}
		if status == "disabled" {
			args["x-riposte"] = map[string]any{"end_sessions": true}
		}
		return cmd(call, "set", map[string]any{"er:account": map[string]any{"account_name": a}}, args), nil
	}
}

func evidence(kind string, fields ...string) func(connector.Call) (map[string]any, error) {
	return func(call connector.Call) (map[string]any, error) {
		t := map[string]any{}
		for _, f := range fields {
			if f == "lines" {
				if n, ok := num(call, "lines"); ok {
					t["lines"] = n
				}
				continue
			}
			v, err := reqStr(call, f)
			if err != nil {
				return nil, err
			}
			t[f] = v
		}
		return cmd(call, "investigate", map[string]any{"x-riposte:" + kind: t}, nil), nil
	}
}

var evidenceOut = map[string]string{"evidence": "items uploaded: name, sha256, size, evidence id on the server", "status": "OpenC2 status"}

var hostOps = map[string]hostOp{
	"kill_process": {Operation: connector.Operation{Description: "Kill a process (SIGTERM, then SIGKILL); the agent checks the pid still names the same process first, and that it is gone after.",
		Args:    argsWith(map[string]connector.ArgSpec{"pid": {Type: "int", Required: true, Description: "process id"}, "name": {Type: "string", Description: "expected process name (refuses a reused pid)"}}),
		Outputs: map[string]string{"status": "OpenC2 status", "results": "what the agent verified"}, Idempotent: true},
		build: func(call connector.Call) (map[string]any, error) {
			pid, ok := num(call, "pid")
			if !ok || pid <= 1 {
				return nil, fmt.Errorf("argument \"pid\" must be a process id above 1")
			}
			p := map[string]any{"pid": pid}
			if n := str(call.Args, "name"); n != "" {
				p["name"] = n
			}
			return cmd(call, "stop", map[string]any{"process": p}, nil), nil
		}},
	"quarantine_file": {Operation: connector.Operation{Description: "Move a file into the agent's quarantine (hash recorded); restorable.",
		Args:    argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "absolute path"}, "sha256": {Type: "string", Description: "expected hash (refuses another file)"}}),
		Outputs: map[string]string{"status": "OpenC2 status", "results": "hash and quarantine entry"}, Idempotent: true, Reversible: "restore_file"},
		build: func(call connector.Call) (map[string]any, error) {
			t, err := fileTarget(call)
			if err != nil {
				return nil, err
			}
			return cmd(call, "contain", t, nil), nil
		}, undo: agentUndo},
	"restore_file": {Operation: connector.Operation{Description: "Put a quarantined file back where it was (never over a file that appeared since).",
		Args:    argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "original path"}, "sha256": {Type: "string", Description: "which stored version"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true},
		build: func(call connector.Call) (map[string]any, error) {
			t, err := fileTarget(call)
			if err != nil {
				return nil, err
			}
			return cmd(call, "allow", t, nil), nil
		}},
	"disable_account": {Operation: connector.Operation{Description: "Lock and expire a local account and end its sessions; the previous state is kept for enable_account.",
		Args:    argsWith(map[string]connector.ArgSpec{"account": {Type: "string", Required: true, Description: "account name"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true, Reversible: "enable_account"},
		build: account("disabled"), undo: agentUndo},
	"enable_account": {Operation: connector.Operation{Description: "Give a disabled account back its saved state.",
		Args:    argsWith(map[string]connector.ArgSpec{"account": {Type: "string", Required: true, Description: "account name"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true},
		build: account("enabled")},
	"stop_service": {Operation: connector.Operation{Description: "Stop an allowlisted service.",
		Args:    argsWith(map[string]connector.ArgSpec{"name": {Type: "string", Required: true, Description: "service name"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true, Reversible: "start_service"},
		build: named("stop", "x-riposte:service"), undo: agentUndo},
	"start_service": {Operation: connector.Operation{Description: "Start an allowlisted service.",
		Args:    argsWith(map[string]connector.ArgSpec{"name": {Type: "string", Required: true, Description: "service name"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true, Reversible: "stop_service"},
		build: named("start", "x-riposte:service"), undo: agentUndo},
	"restart_service": {Operation: connector.Operation{Description: "Restart an allowlisted service (a new instance is verified).",
		Args:    argsWith(map[string]connector.ArgSpec{"name": {Type: "string", Required: true, Description: "service name"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}},
		build: named("restart", "x-riposte:service")},
	"remediate": {Operation: connector.Operation{Description: "Run a remediation by name: a fixed argv from the server's allowlist (connectors.agent.remediations) or the agent's own; nothing from the playbook is added to it.",
		Args:    argsWith(map[string]connector.ArgSpec{"name": {Type: "string", Required: true, Description: "remediation name"}}),
		Outputs: map[string]string{"status": "OpenC2 status", "results": "exit code and bounded output"}},
		build: named("remediate", "x-riposte:remediation")},
	"upgrade_package": {Operation: connector.Operation{Description: "Upgrade an installed package; old and new versions reported.",
		Args:    argsWith(map[string]connector.ArgSpec{"name": {Type: "string", Required: true, Description: "package name"}}),
		Outputs: map[string]string{"status": "OpenC2 status", "results": "versions"}, Idempotent: true},
		build: named("update", "x-riposte:package")},
	"set_config_line": {Operation: connector.Operation{Description: "Set key = value in an allowlisted configuration file, with a backup.",
		Args: argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "absolute path (allowlisted)"},
			"key": {Type: "string", Required: true, Description: "the key"}, "value": {Type: "string", Required: true, Description: "the new value"}}),
		Outputs: map[string]string{"status": "OpenC2 status", "results": "backup id and hashes"}, Idempotent: true, Reversible: "restore_config"},
		build: func(call connector.Call) (map[string]any, error) {
			t := map[string]any{}
			for _, k := range []string{"path", "key", "value"} {
				v, err := reqStr(call, k)
				if err != nil {
					return nil, err
				}
				t[k] = v
			}
			return cmd(call, "set", map[string]any{"x-riposte:config_line": t}, nil), nil
		}, undo: agentUndo},
	"restore_config": {Operation: connector.Operation{Description: "Put a configuration file back from its backup.",
		Args: argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "absolute path"},
			"backup": {Type: "string", Required: true, Description: "backup id returned by set_config_line"}}),
		Outputs: map[string]string{"status": "OpenC2 status"}, Idempotent: true},
		build: func(call connector.Call) (map[string]any, error) {
			p, err := reqStr(call, "path")
			if err != nil {
				return nil, err
			}
			b, err := reqStr(call, "backup")
			if err != nil {
				return nil, err
			}
			return cmd(call, "restore", map[string]any{"x-riposte:config_line": map[string]any{"path": p, "backup": b}}, nil), nil
		}},
	"collect_file": {Operation: connector.Operation{Description: "Collect a file as evidence (SHA-256, uploaded, custody recorded).",
		Args: argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "absolute path"}}), Outputs: evidenceOut, Idempotent: true},
		build: evidence("evidence_file", "path")},
	"collect_processes": {Operation: connector.Operation{Description: "Collect the process list as evidence.",
		Args: argsWith(nil), Outputs: evidenceOut, Idempotent: true},
		build: evidence("processes")},
	"collect_connections": {Operation: connector.Operation{Description: "Collect the network connections (with owning processes) as evidence.",
		Args: argsWith(nil), Outputs: evidenceOut, Idempotent: true},
		build: evidence("connections")},
	"collect_log_lines": {Operation: connector.Operation{Description: "Collect the last lines of an allowlisted log file as evidence.",
		Args:    argsWith(map[string]connector.ArgSpec{"path": {Type: "string", Required: true, Description: "log file"}, "lines": {Type: "int", Description: "how many (default 100)"}}),
		Outputs: evidenceOut, Idempotent: true},
		build: evidence("log_lines", "path", "lines")},
	"collect_firewall": {Operation: connector.Operation{Description: "Collect the host's nftables state (Riposte's table and isolation) as evidence.",
		Args: argsWith(nil), Outputs: evidenceOut, Idempotent: true},
		build: evidence("firewall_state")},
}
