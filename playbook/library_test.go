package playbook

import (
	"path"
	"testing"
)

// testConnectors is the connector table the library is linted against: the
// built-in connectors and their operations.
type testConnectors map[string]map[string]map[string]ArgSpec

func (t testConnectors) Operation(connector, op string) (map[string]ArgSpec, bool) {
	ops, ok := t[connector]
	if !ok {
		return nil, false
	}
	spec, ok := ops[op]
	return spec, ok
}

// CommandType: Riposte runs manual, riposte-connector, http-api, ssh, bash,
// powershell and openc2-http commands, for agents of the CACAO vocabulary.
func (t testConnectors) CommandType(cmdType, agentType string) bool {
	switch cmdType {
	case CmdManual, CmdRiposteConnector, CmdHTTPAPI, CmdSSH, CmdBash, CmdPowerShell, CmdOpenC2HTTP:
	default:
		return false
	}
	switch agentType {
	case "", "group", "individual", "location", "organization", "sector", "http-api", "linux", "net-address", "security-category", "ssh":
		return true
	}
	return false
}

func req(typ string) ArgSpec { return ArgSpec{Type: typ, Required: true} }
func opt(typ string) ArgSpec { return ArgSpec{Type: typ} }

var builtinConnectors = testConnectors{
	"http": {
		"request": {"method": opt("string"), "url": req("string"), "headers": opt("map"), "body": opt("any"), "text": opt("string"), "timeout": opt("string"), "expect_status": opt("any")},
	},
	"notify": {
		"send": {"event": req("string"), "text": opt("string"), "channels": opt("list"), "priority": opt("string"), "title": opt("string"), "incident": opt("string")},
	},
	"incident": {
		"status":  {"status": req("string"), "incident": opt("string")},
		"comment": {"text": req("string")},
		"assign":  {"assignee": req("string")},
		"tag":     {"add": opt("list"), "remove": opt("list"), "incident": opt("string")},
		"verdict": {"verdict": req("string"), "incident": opt("string")},
	},
	"wait": {"sleep": {"duration": req("duration")}},
	// The global block starter also uses the sinkhole, directory and
	// ticket connectors, configured on the nodes it is imported on.
	"dnssink": {"sinkhole_domain": {"domain": req("string")}, "unsinkhole_domain": {"domain": req("string")}},
	"ldap":    {"disable_account": {"user": req("string")}, "enable_account": {"user": req("string")}},
	"thehive": {
		"open": {"incident": opt("string"), "title": req("string"), "description": opt("string"), "priority": opt("string"), "tags": opt("list"), "observables": opt("map")},
	},
	"set": {"vars": {"values": req("map")}},
	"agent": {
		"block_ip":            {"address": req("ip"), "host": opt("string"), "ttl": opt("string"), "reason": opt("string")},
		"unblock_ip":          {"address": opt("string"), "decision": opt("string"), "host": opt("string"), "reason": opt("string")},
		"isolate_host":        {"host": req("string"), "ttl": opt("string"), "reason": opt("string")},
		"release_host":        {"host": req("string"), "reason": opt("string")},
		"kill_process":        {"host": req("string"), "pid": req("int"), "name": opt("string")},
		"quarantine_file":     {"host": req("string"), "path": req("string"), "sha256": opt("string")},
		"restore_file":        {"host": req("string"), "path": req("string"), "sha256": opt("string")},
		"disable_account":     {"host": req("string"), "account": req("string")},
		"enable_account":      {"host": req("string"), "account": req("string")},
		"stop_service":        {"host": req("string"), "name": req("string")},
		"start_service":       {"host": req("string"), "name": req("string")},
		"restart_service":     {"host": req("string"), "name": req("string")},
		"remediate":           {"host": req("string"), "name": req("string")},
		"upgrade_package":     {"host": req("string"), "name": req("string")},
		"set_config_line":     {"host": req("string"), "path": req("string"), "key": req("string"), "value": req("string")},
		"restore_config":      {"host": req("string"), "path": req("string"), "backup": req("string")},
		"collect_file":        {"host": req("string"), "path": req("string")},
		"collect_processes":   {"host": req("string")},
		"collect_connections": {"host": req("string")},
		"collect_log_lines":   {"host": req("string"), "path": req("string"), "lines": opt("int")},
		"collect_firewall":    {"host": req("string")},
		"command":             {"host": req("string"), "command": req("map")},
	},
}

func TestLibraryParsesAndLintsClean(t *testing.T) {
	pbs, err := LoadLibrary()
	if err != nil {
		t.Fatal(err)
	}
	if len(pbs) != 6 {
		t.Fatalf("library has %d playbooks, want 6", len(pbs))
	}
	names, _ := Library.ReadDir("library")
	for i, p := range pbs {
		name := path.Base(names[i].Name())
		data, _ := Library.ReadFile("library/" + name)
		_, perrs := ParseYAML(data)
		for _, e := range perrs {
			t.Errorf("%s: parse: %v", name, e)
		}
		for _, e := range Lint(p, builtinConnectors) {
			t.Errorf("%s: lint: %v", name, e)
		}
		if p.Trigger == nil {
			t.Errorf("%s: no trigger", name)
		}
	}
}
