-- The engagement inbox: teams, conversations (threads of mentions), their event log, notes,
-- replies, saved replies and the product feedback log. Times are integer microseconds UTC.

CREATE TABLE teams (
    name     TEXT    PRIMARY KEY CHECK (length(name) > 0),
    manager  TEXT,
    capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
    hours    TEXT    NOT NULL DEFAULT 'null' CHECK (json_valid(hours)),
    -- Order as configured, so lists show teams the way earshot.toml does.
    position INTEGER NOT NULL
);

CREATE TABLE team_members (
    team   TEXT NOT NULL REFERENCES teams(name) ON DELETE CASCADE,
    member TEXT NOT NULL CHECK (length(member) > 0),
    PRIMARY KEY (team, member)
) WITHOUT ROWID;

CREATE INDEX team_members_by_member ON team_members(member);

CREATE TABLE conversations (
    id                     INTEGER PRIMARY KEY,
    state                  TEXT    NOT NULL
        CHECK (state IN ('new', 'assigned', 'waiting', 'resolved', 'ignored')),
    -- 0 urgent, 1 high, 2 normal, 3 low: ascending order is the work order.
    priority               INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
    -- Names, not keys: a team removed from earshot.toml leaves its history readable.
    team                   TEXT,
    assignee               TEXT,
    source                 TEXT    NOT NULL,
    lang                   TEXT    NOT NULL,
    root_mention           INTEGER NOT NULL UNIQUE REFERENCES mentions(id),
    mention_count          INTEGER NOT NULL DEFAULT 1,
    author_handle          TEXT,
    author_name            TEXT,
    author_followers       INTEGER,
    first_mention_at       INTEGER NOT NULL,
    last_mention_at        INTEGER NOT NULL,
    routed_by              TEXT,
    routing_reason         TEXT,
    negative               INTEGER NOT NULL DEFAULT 0 CHECK (negative IN (0, 1)),
    first_response_due     INTEGER,
    resolution_due         INTEGER,
    first_response_at      INTEGER,
    resolved_at            INTEGER,
    first_response_overdue INTEGER NOT NULL DEFAULT 0 CHECK (first_response_overdue IN (0, 1)),
    resolution_overdue     INTEGER NOT NULL DEFAULT 0 CHECK (resolution_overdue IN (0, 1)),
    created_at             INTEGER NOT NULL,
    updated_at             INTEGER NOT NULL,
    -- The state never contradicts who owns the conversation.
    CHECK (state <> 'assigned' OR assignee IS NOT NULL),
    CHECK (state <> 'new' OR assignee IS NULL)
);

-- The list queries: the open queue in work order, one state, a team's or a member's queue,
-- the overdue view and newest first. The open-queue and overdue indexes are partial; the
-- queries repeat their WHERE terms literally so SQLite can use them.
CREATE INDEX conversations_by_state ON conversations(state, priority, created_at, id);
CREATE INDEX conversations_open_queue ON conversations(priority, created_at, id)
    WHERE state IN ('new', 'assigned', 'waiting');
CREATE INDEX conversations_by_team ON conversations(team, priority, created_at, id);
CREATE INDEX conversations_by_assignee ON conversations(assignee, priority, created_at, id);
-- Open load per member (least-loaded assignment) counts from this index alone.
CREATE INDEX conversations_load ON conversations(assignee, state);
CREATE INDEX conversations_unassigned_queue ON conversations(priority, created_at, id)
    WHERE assignee IS NULL;
CREATE INDEX conversations_open_newest ON conversations(created_at, id)
    WHERE state IN ('new', 'assigned', 'waiting');
CREATE INDEX conversations_overdue ON conversations(priority, created_at, id)
    WHERE first_response_overdue = 1 OR resolution_overdue = 1;
CREATE INDEX conversations_by_created ON conversations(created_at, id);
-- The SLA checker: deadlines still running.
CREATE INDEX conversations_first_response_running ON conversations(first_response_due)
    WHERE first_response_due IS NOT NULL AND first_response_at IS NULL
      AND first_response_overdue = 0;
CREATE INDEX conversations_resolution_running ON conversations(resolution_due)
    WHERE resolution_due IS NOT NULL AND resolved_at IS NULL AND resolution_overdue = 0;

-- Every mention of a thread (the root included); a mention belongs to one conversation.
CREATE TABLE conversation_mentions (
    mention_id      INTEGER PRIMARY KEY REFERENCES mentions(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    attached_at     INTEGER NOT NULL
);

CREATE INDEX conversation_mentions_by_conversation
    ON conversation_mentions(conversation_id, mention_id);

CREATE TABLE conversation_tags (
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    tag             TEXT    NOT NULL CHECK (length(tag) > 0),
    PRIMARY KEY (conversation_id, tag)
) WITHOUT ROWID;

CREATE INDEX conversation_tags_by_tag ON conversation_tags(tag, conversation_id);

CREATE TABLE conversation_events (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    at              INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    kind            TEXT    NOT NULL,
    -- The whole event (its kind tag included) as JSON.
    data            TEXT    NOT NULL CHECK (json_valid(data))
);

CREATE INDEX conversation_events_by_conversation ON conversation_events(conversation_id, id);

CREATE TABLE notes (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    author          TEXT    NOT NULL,
    body            TEXT    NOT NULL CHECK (length(body) > 0),
    mentions        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(mentions)),
    created_at      INTEGER NOT NULL
);

CREATE INDEX notes_by_conversation ON notes(conversation_id, id);

CREATE TABLE replies (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    body            TEXT    NOT NULL,
    author          TEXT    NOT NULL,
    idempotency_key TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) > 0),
    status          TEXT    NOT NULL
        CHECK (status IN ('pending', 'sent', 'failed', 'answered_elsewhere')),
    network_id      TEXT,
    network_url     TEXT,
    error           TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);

CREATE INDEX replies_by_conversation ON replies(conversation_id, id);
CREATE INDEX replies_to_send ON replies(id) WHERE status IN ('pending', 'failed');
CREATE INDEX replies_by_network_id ON replies(network_id) WHERE network_id IS NOT NULL;
CREATE INDEX replies_by_network_url ON replies(network_url) WHERE network_url IS NOT NULL;
-- "This text went out N times unchanged".
CREATE INDEX replies_sent_by_body ON replies(body) WHERE status = 'sent';

CREATE TABLE saved_replies (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (length(name) > 0),
    -- Lower-cased name: names are unique without regard to case, in every script.
    name_key   TEXT    NOT NULL UNIQUE,
    body       TEXT    NOT NULL CHECK (length(body) > 0),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE feedback_themes (
    id         INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL CHECK (length(name) > 0),
    name_key   TEXT    NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE feedback_items (
    id              INTEGER PRIMARY KEY,
    theme_id        INTEGER NOT NULL REFERENCES feedback_themes(id),
    conversation_id INTEGER NOT NULL REFERENCES conversations(id),
    summary         TEXT    NOT NULL CHECK (length(summary) > 0),
    author          TEXT    NOT NULL,
    created_at      INTEGER NOT NULL
);

CREATE INDEX feedback_items_by_theme ON feedback_items(theme_id, id);
