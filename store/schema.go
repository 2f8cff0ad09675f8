package store

// Control lists the migrations of riposte.db, the database of records people
// and automation change (tokens, audit log; later assets, incidents, runs).
// Append only: a released step is never edited.
var Control = []Migration{
	`CREATE TABLE tokens (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL,
		role       TEXT NOT NULL,
		hash       BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL,
		revoked_at INTEGER
	);
	CREATE TABLE audit (
		seq     INTEGER PRIMARY KEY,
		at      INTEGER NOT NULL,
		actor   TEXT NOT NULL,
		action  TEXT NOT NULL,
		target  TEXT NOT NULL,
		detail  TEXT NOT NULL,
		prev    BLOB NOT NULL,
		hash    BLOB NOT NULL
	);
	CREATE TABLE meta (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`,
	`CREATE TABLE rule_versions (
		rule_id    TEXT NOT NULL,
		version    INTEGER NOT NULL,
		body       TEXT NOT NULL,
		title      TEXT NOT NULL,
		author     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		reason     TEXT NOT NULL,
		PRIMARY KEY (rule_id, version)
	);
	CREATE TABLE rules (
		rule_id  TEXT PRIMARY KEY,
		current  INTEGER NOT NULL,
		enabled  INTEGER NOT NULL,
		kind     TEXT NOT NULL
	);`,
}
