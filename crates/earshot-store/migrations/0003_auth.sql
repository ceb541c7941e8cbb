-- People and access. Every secret (session id, API token, invite) is stored only as the hex
-- SHA-256 of its value, so a copy of the database signs nobody in. Passwords are argon2id
-- PHC strings. Times are integer microseconds UTC, like every other table.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE CHECK (length(name) > 0),
    display_name  TEXT,
    role          TEXT    NOT NULL CHECK (role IN ('viewer', 'agent', 'manager', 'admin')),
    -- NULL until the user sets one (through an invite).
    password_hash TEXT,
    disabled      INTEGER NOT NULL DEFAULT 0 CHECK (disabled IN (0, 1)),
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash      TEXT    PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    csrf_secret  TEXT    NOT NULL,
    client_addr  TEXT    NOT NULL
);
CREATE INDEX sessions_by_user ON sessions(user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    token_hash   TEXT    NOT NULL UNIQUE,
    prefix       TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    user_id      INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked      INTEGER NOT NULL DEFAULT 0 CHECK (revoked IN (0, 1))
);

CREATE TABLE invites (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- One row per failed sign-in, under a key: `account:NAME` or `address:IP`.
CREATE TABLE login_failures (
    key       TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
);
CREATE INDEX login_failures_by_key ON login_failures(key, failed_at);
