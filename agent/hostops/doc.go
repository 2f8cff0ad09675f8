// Package hostops is what `riposte agent` does on its host besides the
// firewall: it executes one already-validated, non-firewall OpenC2 command
// (ER profile pairs, or Riposte "x-riposte:" extension targets) and reports
// what it verified afterwards.
//
// The agent runtime feeds it: the runtime receives signed commands
// (agent/protocol), checks signatures, replay and policy, routes network
// commands to agent/firewall and agent/enforce, and calls Host.Handle for the
// rest. Handle's Outcome feeds the runtime's signed result: the OpenC2
// response, the evidence files to upload and the command that undoes the
// action, which the server keeps in its decision record.
//
// Operations and their OpenC2 mapping:
//
//	stop process                       kill by pid (identity checked), SIGTERM, grace, SIGKILL
//	contain file / delete file         move into DataDir/quarantine (undo: allow file)
//	allow file                         restore from quarantine
//	set er:account + er.account_status lock and expire / restore a local account
//	stop er:service, start|stop|restart x-riposte:service
//	remediate x-riposte:remediation    run an allowlisted argv
//	update x-riposte:package           upgrade one installed package
//	set / restore x-riposte:config_line change one line of an allowlisted file, with backup
//	investigate x-riposte:evidence_file|processes|connections|log_lines
//
// Every operation checks its effect after acting (process gone, hash of the
// quarantined copy, shadow fields, service state, file hash, ...) and sets
// Outcome.Verified only when that check passed. Nothing from a command is
// ever given to a shell: programs run from fixed argv with a timeout and
// bounded output, and paths are walked component by component without
// following symbolic links.
package hostops
