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
}
