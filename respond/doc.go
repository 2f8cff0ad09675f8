// Package respond is the response stage's front: it reads playbooks in
// either format, checks them against the connectors a node has, keeps
// their versions, and decides which playbooks an incident or alert starts.
// The engine package executes the runs; the connector packages act.
package respond
