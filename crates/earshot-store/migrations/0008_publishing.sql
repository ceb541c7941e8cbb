-- Publishing with a plan: official accounts, posts with one variant per account, approvals
-- and the full history of every post (docs/PUBLISHING.md). Times are microseconds UTC.

CREATE TABLE publishing_accounts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    network         TEXT    NOT NULL,
    name            TEXT    NOT NULL UNIQUE,
    handle          TEXT    NOT NULL,
    server_url      TEXT    NOT NULL,
    owner           TEXT    NOT NULL,
    purpose         TEXT    NOT NULL DEFAULT '',
    languages       TEXT    NOT NULL DEFAULT '[]',   -- JSON array of ISO 639-1 codes
    status          TEXT    NOT NULL DEFAULT 'active',
    last_check_at   INTEGER,
    last_error      TEXT,
    posts_per_day   INTEGER NOT NULL,
    approval_steps  TEXT    NOT NULL DEFAULT '[]',   -- JSON array of team names, in order
    -- XChaCha20-Poly1305 record (earshot-vault) sealed under the account's identity.
    credentials     BLOB    NOT NULL,
    created_at      INTEGER NOT NULL,
    UNIQUE (network, handle, server_url)
);
CREATE INDEX publishing_accounts_owner ON publishing_accounts (owner);

CREATE TABLE posts (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    title         TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    scheduled_at  INTEGER,
    revision      INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX posts_by_state ON posts (state, id);
CREATE INDEX posts_by_schedule ON posts (scheduled_at) WHERE scheduled_at IS NOT NULL;

CREATE TABLE post_variants (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    post          INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    account       INTEGER NOT NULL REFERENCES publishing_accounts (id),
    position      INTEGER NOT NULL,
    text          TEXT    NOT NULL,
    media         TEXT    NOT NULL DEFAULT '[]',     -- JSON array of URLs or file names
    state         TEXT    NOT NULL DEFAULT 'pending',
    remote_id     TEXT,
    url           TEXT,
    error         TEXT,
    published_at  INTEGER,
    UNIQUE (post, account)
);
CREATE INDEX post_variants_by_account ON post_variants (account, post);

-- Approvals of the post's current text: an edit deletes them (the events keep the history).
CREATE TABLE post_approvals (
    post        INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    step_index  INTEGER NOT NULL,
    step        TEXT    NOT NULL,
    approver    TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (post, step_index)
);

CREATE TABLE post_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    post        INTEGER NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    actor       TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    comment     TEXT
);
CREATE INDEX post_events_by_post ON post_events (post, id);
