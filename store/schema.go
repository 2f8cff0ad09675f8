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
	`CREATE TABLE incidents (
		id         TEXT PRIMARY KEY,
		rev        INTEGER NOT NULL,
		status     TEXT NOT NULL,
		prio       INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		updated_at INTEGER NOT NULL,
		assignee   TEXT NOT NULL,
		doc        TEXT NOT NULL
	);
	CREATE INDEX incidents_queue ON incidents (status, prio, created_at);
	CREATE TABLE alerts (
		id            TEXT PRIMARY KEY,
		fingerprint   TEXT NOT NULL,
		incident_id   TEXT NOT NULL,
		rule_id       TEXT NOT NULL,
		first_seen    INTEGER NOT NULL,
		last_seen     INTEGER NOT NULL,
		suppressed_by TEXT NOT NULL,
		doc           TEXT NOT NULL
	);
	CREATE INDEX alerts_incident ON alerts (incident_id);
	CREATE INDEX alerts_last_seen ON alerts (last_seen);
	CREATE INDEX alerts_suppressed ON alerts (suppressed_by) WHERE suppressed_by != '';
	CREATE TABLE alert_sources (
		id TEXT PRIMARY KEY
	) WITHOUT ROWID;
	CREATE TABLE incident_entities (
		kind        TEXT NOT NULL,
		value       TEXT NOT NULL,
		incident_id TEXT NOT NULL,
		PRIMARY KEY (kind, value, incident_id)
	) WITHOUT ROWID;
	CREATE TABLE timeline (
		seq         INTEGER PRIMARY KEY,
		incident_id TEXT NOT NULL,
		at          INTEGER NOT NULL,
		actor       TEXT NOT NULL,
		kind        TEXT NOT NULL,
		text        TEXT NOT NULL,
		detail      TEXT NOT NULL
	);
	CREATE INDEX timeline_incident ON timeline (incident_id, seq);
	CREATE TABLE silences (
		id         TEXT PRIMARY KEY,
		ends_at    INTEGER NOT NULL,
		doc        TEXT NOT NULL
	);
	CREATE TABLE assets (
		kind        TEXT NOT NULL,
		name        TEXT NOT NULL,
		criticality INTEGER NOT NULL,
		discovered  INTEGER NOT NULL,
		first_seen  INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL,
		doc         TEXT NOT NULL,
		PRIMARY KEY (kind, name)
	);`,
	`CREATE TABLE playbook_versions (
		rule_id    TEXT NOT NULL,
		version    INTEGER NOT NULL,
		body       TEXT NOT NULL,
		title      TEXT NOT NULL,
		author     TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		reason     TEXT NOT NULL,
		PRIMARY KEY (rule_id, version)
	);
	CREATE TABLE playbooks (
		rule_id  TEXT PRIMARY KEY,
		current  INTEGER NOT NULL,
		enabled  INTEGER NOT NULL,
		kind     TEXT NOT NULL
	);`,
	`CREATE TABLE decisions (
		id          TEXT PRIMARY KEY,
		kind        TEXT NOT NULL,
		target      TEXT NOT NULL,
		host        TEXT NOT NULL,
		created_at  INTEGER NOT NULL,
		expires_at  INTEGER NOT NULL,
		reverted_at INTEGER NOT NULL,
		doc         TEXT NOT NULL
	);
	CREATE INDEX decisions_target ON decisions (target, created_at);
	CREATE INDEX decisions_active ON decisions (reverted_at, expires_at);`,
	// rule numbers the decision for OpenC2 SLPF (insert_rule, delete
	// slpf:rule_number); ended marks an expiry already recorded.
	`ALTER TABLE decisions ADD COLUMN rule INTEGER NOT NULL DEFAULT 0;
	ALTER TABLE decisions ADD COLUMN ended INTEGER NOT NULL DEFAULT 0;
	CREATE INDEX decisions_ended ON decisions (ended, reverted_at, expires_at);`,
	// Host agents: one-time enrollment tokens (hashes only) and enrolled
	// agents with their public key and the hash of their bus credential.
	`CREATE TABLE agent_tokens (
		id         TEXT PRIMARY KEY,
		hash       TEXT NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		expires_at INTEGER NOT NULL,
		used_at    INTEGER NOT NULL DEFAULT 0,
		agent_id   TEXT NOT NULL DEFAULT '',
		created_by TEXT NOT NULL
	);
	CREATE TABLE agents (
		id          TEXT PRIMARY KEY,
		hostname    TEXT NOT NULL,
		public_key  BLOB NOT NULL,
		cred_hash   TEXT NOT NULL,
		enrolled_at INTEGER NOT NULL,
		last_seen   INTEGER NOT NULL DEFAULT 0,
		revoked_at  INTEGER NOT NULL DEFAULT 0,
		inventory   TEXT NOT NULL DEFAULT '{}'
	);
	CREATE INDEX agents_host ON agents (hostname);
	CREATE TABLE evidence (
		id          TEXT PRIMARY KEY,
		sha256      TEXT NOT NULL,
		size        INTEGER NOT NULL,
		name        TEXT NOT NULL,
		agent_id    TEXT NOT NULL,
		hostname    TEXT NOT NULL,
		command_id  TEXT NOT NULL,
		incident    TEXT NOT NULL,
		requested_by TEXT NOT NULL,
		collected_at INTEGER NOT NULL,
		stored_at   INTEGER NOT NULL,
		path        TEXT NOT NULL
	);
	CREATE INDEX evidence_incident ON evidence (incident, stored_at);`,
	// Undo ledger: what playbooks did to an incident that can be undone,
	// in order, so recovery reverses it.
	`CREATE TABLE undo_ledger (
		id         INTEGER PRIMARY KEY AUTOINCREMENT,
		incident   TEXT NOT NULL,
		run_id     TEXT NOT NULL,
		step_id    TEXT NOT NULL,
		connector  TEXT NOT NULL,
		operation  TEXT NOT NULL,
		args       TEXT NOT NULL,
		summary    TEXT NOT NULL,
		created_at INTEGER NOT NULL,
		done_at    INTEGER NOT NULL DEFAULT 0,
		outcome    TEXT NOT NULL DEFAULT ''
	);
	CREATE INDEX undo_incident ON undo_ledger (incident, id);`,
	`CREATE INDEX decisions_key ON decisions (json_extract(doc, '$.key'));`,
	// Tokens may expire (NULL: never).
	`ALTER TABLE tokens ADD COLUMN expires_at INTEGER;`,
	// Secrets, sealed with AES-256-GCM (package secret); the key is not here.
	`CREATE TABLE secrets (
		name       TEXT PRIMARY KEY,
		nonce      BLOB NOT NULL,
		sealed     BLOB NOT NULL,
		size       INTEGER NOT NULL,
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL,
		updated_at INTEGER NOT NULL,
		updated_by TEXT NOT NULL
	);`,
	// People who sign in to the console: local users (argon2id password
	// hash in PHC form) and users of an OpenID provider (source
	// "oidc:<issuer>", subject). Sessions keep only the SHA-256 of the
	// cookie's secret (package auth).
	`CREATE TABLE users (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
		role       TEXT NOT NULL,
		disabled   INTEGER NOT NULL DEFAULT 0,
		source     TEXT NOT NULL,
		subject    TEXT NOT NULL DEFAULT '',
		password   TEXT NOT NULL DEFAULT '',
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL,
		last_login INTEGER
	);
	CREATE UNIQUE INDEX users_subject ON users (source, subject) WHERE subject != '';
	CREATE TABLE sessions (
		id         TEXT PRIMARY KEY,
		hash       BLOB NOT NULL UNIQUE,
		user_id    TEXT NOT NULL REFERENCES users (id),
		created_at INTEGER NOT NULL,
		last_seen  INTEGER NOT NULL,
		ended_at   INTEGER,
		from_addr  TEXT NOT NULL
	);
	CREATE INDEX sessions_user ON sessions (user_id);`,
	// An agent's NATS user public key (nkey), which a NATS cluster that
	// trusts Riposte (natsauth) is told to refuse when the agent is revoked.
	`ALTER TABLE agents ADD COLUMN nats_key TEXT NOT NULL DEFAULT '';`,
	// CrowdSec bouncers (package bouncer): each has its own API key, kept
	// as its SHA-256 only; bouncer_held is the set of decisions a bouncer
	// was last sent (one per address or network), so a pull answers only
	// what changed; bouncer_pulls is a bounded log of what each received.
	`CREATE TABLE bouncers (
		id         TEXT PRIMARY KEY,
		name       TEXT NOT NULL UNIQUE,
		hash       BLOB NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL,
		last_pull  INTEGER NOT NULL DEFAULT 0,
		last_addr  TEXT NOT NULL DEFAULT '',
		user_agent TEXT NOT NULL DEFAULT ''
	);
	CREATE TABLE bouncer_held (
		bouncer_id  TEXT NOT NULL,
		value       TEXT NOT NULL,
		decision_id TEXT NOT NULL,
		doc         TEXT NOT NULL,
		PRIMARY KEY (bouncer_id, value)
	);
	CREATE TABLE bouncer_pulls (
		seq         INTEGER PRIMARY KEY,
		bouncer_id  TEXT NOT NULL,
		at          INTEGER NOT NULL,
		action      TEXT NOT NULL,
		decision_id TEXT NOT NULL,
		value       TEXT NOT NULL
	);
	CREATE INDEX bouncer_pulls_bouncer ON bouncer_pulls (bouncer_id, seq);
	CREATE INDEX bouncer_pulls_decision ON bouncer_pulls (decision_id);`,
	// Block-list feeds for firewalls (package feeds): each consumer has its
	// own token, kept as its SHA-256 only, and its last poll; feed_serial
	// is the change counter firewalls see, raised when the served set of
	// addresses changes (one row per list, "deny").
	`CREATE TABLE feeds (
		id          TEXT PRIMARY KEY,
		name        TEXT NOT NULL UNIQUE,
		hash        BLOB NOT NULL UNIQUE,
		created_at  INTEGER NOT NULL,
		created_by  TEXT NOT NULL,
		last_poll   INTEGER NOT NULL DEFAULT 0,
		last_addr   TEXT NOT NULL DEFAULT '',
		user_agent  TEXT NOT NULL DEFAULT '',
		last_format TEXT NOT NULL DEFAULT '',
		last_serial INTEGER NOT NULL DEFAULT 0
	);
	CREATE TABLE feed_serial (
		list       TEXT PRIMARY KEY,
		serial     INTEGER NOT NULL,
		digest     TEXT NOT NULL,
		changed_at INTEGER NOT NULL
	);`,
	// Approvals answered from Slack (package slackapprove): which Slack
	// user is which Riposte user, which approvals were posted to Slack
	// (claimed before posting, so one node of a cluster posts each once),
	// and the signatures of recent interactions, so a replayed request is
	// refused on every node.
	`CREATE TABLE slack_links (
		slack_id   TEXT PRIMARY KEY,
		user_name  TEXT NOT NULL UNIQUE,
		created_at INTEGER NOT NULL,
		created_by TEXT NOT NULL
	);
	CREATE TABLE slack_posts (
		inquiry_id TEXT PRIMARY KEY,
		posted_at  INTEGER NOT NULL
	);
	CREATE TABLE slack_seen (
		signature TEXT PRIMARY KEY,
		at        INTEGER NOT NULL
	);
	CREATE INDEX slack_seen_at ON slack_seen (at);`,
}
