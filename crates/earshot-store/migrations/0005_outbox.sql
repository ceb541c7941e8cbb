-- The outbox: what must be delivered outside (webhooks, e-mails, posts), kept until it is.
-- Times are integer microseconds since the Unix epoch (UTC), like every table.

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    kind            TEXT    NOT NULL CHECK (kind IN ('webhook', 'email', 'publish')),
    -- Enqueueing a key that exists is a no-op; also the idempotency key sent to the remote.
    dedup_key       TEXT    NOT NULL UNIQUE CHECK (length(dedup_key) > 0),
    payload         TEXT    NOT NULL CHECK (json_valid(payload)),
    state           TEXT    NOT NULL DEFAULT 'pending'
                            CHECK (state IN ('pending', 'in_flight', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at INTEGER NOT NULL,
    -- While in flight: until when the claiming worker holds it.
    lease_until     INTEGER,
    -- Raised by every claim, so a worker whose lease ran out cannot overwrite the outcome of
    -- the worker that took the message over.
    claim           INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    result          TEXT    CHECK (result IS NULL OR json_valid(result)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    CHECK ((state = 'in_flight') = (lease_until IS NOT NULL))
);

-- claim_due: pending messages by due time, in-flight ones by lease end.
CREATE INDEX outbox_pending_due ON outbox(next_attempt_at) WHERE state = 'pending';
CREATE INDEX outbox_lease_end ON outbox(lease_until) WHERE state = 'in_flight';
CREATE INDEX outbox_by_state ON outbox(state, id);
CREATE INDEX outbox_by_kind ON outbox(kind, id);
