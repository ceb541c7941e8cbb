-- Publications: each scheduled post variant on one account, published by the worker at its
-- time exactly once (docs/PUBLISHING-WORKER.md). post_id, variant_id and account_id belong to
-- the posts side and are plain integers here. Times are integer microseconds UTC.

CREATE TABLE publications (
    id                 INTEGER PRIMARY KEY,
    account_id         INTEGER NOT NULL,
    post_id            INTEGER NOT NULL,
    variant_id         INTEGER NOT NULL,
    revision           INTEGER NOT NULL,
    -- pub:{post}:{variant}:{revision}; re-enqueueing it is a no-op, and it goes to the network
    -- (Mastodon Idempotency-Key, Bluesky record key) on every attempt.
    idempotency_key    TEXT    NOT NULL UNIQUE CHECK (length(idempotency_key) > 0),
    text               TEXT    NOT NULL,
    language           TEXT,
    reply_to           TEXT    CHECK (reply_to IS NULL OR json_valid(reply_to)),
    scheduled_at       INTEGER NOT NULL,
    state              TEXT    NOT NULL DEFAULT 'scheduled'
                       CHECK (state IN ('scheduled', 'publishing', 'published', 'failed', 'cancelled')),
    attempts           INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at    INTEGER NOT NULL,
    lease_until        INTEGER,
    -- Raised by every claim: marks from a worker whose lease ran out no longer apply.
    claim              INTEGER NOT NULL DEFAULT 0,
    -- A network call began and its outcome is not recorded yet.
    attempt_started_at INTEGER,
    remote_id          TEXT,
    url                TEXT,
    last_error         TEXT,
    published_at       INTEGER,
    late               INTEGER NOT NULL DEFAULT 0 CHECK (late IN (0, 1)),
    -- When the posts side was told the outcome; NULL while it is still to be told.
    reported_at        INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    CHECK ((state = 'publishing') = (lease_until IS NOT NULL)),
    CHECK (state <> 'published' OR (remote_id IS NOT NULL AND published_at IS NOT NULL))
);

-- claim_due_publications: scheduled rows by due time, publishing ones by lease end.
CREATE INDEX publications_due ON publications(next_attempt_at) WHERE state = 'scheduled';
CREATE INDEX publications_lease_end ON publications(lease_until) WHERE state = 'publishing';
-- The queue per account and the calendar.
CREATE INDEX publications_by_account ON publications(account_id, scheduled_at);
CREATE INDEX publications_by_time ON publications(scheduled_at);
CREATE INDEX publications_by_post ON publications(post_id, variant_id);
-- Replies to a published post find it by the id or link their in_reply_to carries.
CREATE INDEX publications_by_remote_id ON publications(remote_id) WHERE remote_id IS NOT NULL;
CREATE INDEX publications_by_url ON publications(url) WHERE url IS NOT NULL;
-- Outcomes the posts side has not heard of yet.
CREATE INDEX publications_unreported ON publications(id)
    WHERE reported_at IS NULL AND state IN ('published', 'failed');

-- The post a conversation answers: set when a conversation's root mention replies to one of
-- our publications.
CREATE TABLE conversation_publications (
    conversation_id INTEGER PRIMARY KEY REFERENCES conversations(id) ON DELETE CASCADE,
    publication_id  INTEGER NOT NULL REFERENCES publications(id) ON DELETE CASCADE,
    linked_at       INTEGER NOT NULL
);
CREATE INDEX conversation_publications_by_publication
    ON conversation_publications(publication_id);
