// Package normalize turns what the ingest sources accept (decoded JSON
// objects, parsed syslog messages, plain lines tailed from files) into the
// fields of an event.Event, which the ingest pipeline then stores on the
// event stream that detection, the event store and everything after read.
//
// It fills Event.Fields, Event.Time, Event.Host and Event.LogSource; the
// caller sets ID, Received, Source and Raw.
//
// Two naming schemes live side by side in Fields:
//
//   - The names Sigma rules are written against. Windows events are
//     flattened the way SigmaHQ's tooling flattens evtx_dump output
//     (System.X -> X, System.X.#attributes.A -> X_A, EventData.N -> N and N
//     without spaces, UserData.<root>.N -> N), winlogbeat and nxlog-style
//     ("windows-flat") events are brought to the same names, and auditd
//     records keep their raw keys (type, a0, exe, comm, key, ...).
//   - A small set of ECS entity keys (host.name, user.name, user.domain,
//     source.ip, source.port, destination.ip, destination.port,
//     process.executable, process.command_line, process.parent.executable,
//     file.path, file.hash.*, event.action, event.outcome) that alerts
//     extract entities from. They are only added when the event does not
//     already carry them.
//
// LogSource follows SigmaHQ's tests/thor.yml: Windows channels map to a
// service, and Sysmon event ids (and Security 4688, PowerShell and Defender
// ids) to a category. Sysmon registry events get the specific category
// (registry_add, registry_delete, registry_set, registry_rename); use
// CategoryMatches to let rules for the umbrella category registry_event see
// them too.
//
// Everything here treats its input as untrusted data: no input makes it
// panic, and values are only ever stored, never interpreted.
package normalize
