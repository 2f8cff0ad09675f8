// Package alarm is the stage after detection: it reads alerts from the
// alerts stream, folds repeats of the same alert into one (dedup), holds
// what silences and inhibition say to hold, groups alerts that share
// entities into incidents, gives each incident a priority from severity,
// urgency and asset criticality, runs SLA clocks, and tells people through
// the notify package. Incidents are cases: people change their status along
// NIST SP 800-61, assign, comment, merge and split them, and every change
// lands in the incident's timeline and the audit log.
//
// State lives in SQLite (the control database) and, for speed, in memory:
// the open alerts and incidents are indexed by fingerprint and entity so an
// alert is placed without a query, and a batch of alerts is written in one
// transaction before the stream messages are acknowledged.
package alarm
