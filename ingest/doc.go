// Package ingest is the first stage of the flow: sources (HTTP, syslog, file
// tail, NATS subject) read events, the normalize package turns them into
// event.Event values, and the Pipeline stores them durably on the events
// stream, which the event store and detection consume.
package ingest
