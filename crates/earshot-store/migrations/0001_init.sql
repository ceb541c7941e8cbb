-- Times are integer microseconds since the Unix epoch (UTC): they sort, compare and index
-- as plain integers.

CREATE TABLE mentions (
    id               INTEGER PRIMARY KEY,
    source           TEXT    NOT NULL CHECK (length(source) > 0),
    external_id      TEXT    CHECK (external_id IS NULL OR length(external_id) > 0),
    url              TEXT,
    canonical_url    TEXT    CHECK (canonical_url IS NULL OR length(canonical_url) > 0),
    title            TEXT,
    text             TEXT    NOT NULL,
    links            TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(links)),
    published_at     INTEGER NOT NULL,
    fetched_at       INTEGER NOT NULL,
    author_handle    TEXT,
    author_name      TEXT,
    author_url       TEXT,
    author_followers INTEGER,
    lang             TEXT    NOT NULL,
    in_reply_to      TEXT,
    -- A u64 SimHash stored bit for bit in SQLite's signed 64-bit integer.
    fingerprint      INTEGER NOT NULL DEFAULT 0,
    duplicate_of     INTEGER REFERENCES mentions(id),
    -- Change counter: every insert or update takes the next value, so the search index can
    -- tell which rows it has not seen yet.
    rev              INTEGER NOT NULL
);

CREATE UNIQUE INDEX mentions_by_external_id ON mentions(source, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX mentions_by_canonical_url ON mentions(canonical_url)
    WHERE canonical_url IS NOT NULL;
CREATE UNIQUE INDEX mentions_by_rev ON mentions(rev);
CREATE INDEX mentions_by_published ON mentions(published_at);
CREATE INDEX mentions_by_lang ON mentions(lang, published_at);
CREATE INDEX mentions_by_source ON mentions(source, published_at);

CREATE TABLE mention_brands (
    brand      TEXT    NOT NULL CHECK (length(brand) > 0),
    mention_id INTEGER NOT NULL REFERENCES mentions(id),
    PRIMARY KEY (brand, mention_id)
) WITHOUT ROWID;

CREATE INDEX mention_brands_by_mention ON mention_brands(mention_id);

CREATE TABLE source_state (
    name            TEXT    PRIMARY KEY CHECK (length(name) > 0),
    cursor          TEXT,
    last_success_at INTEGER,
    last_error_at   INTEGER,
    last_error      TEXT,
    items_seen      INTEGER NOT NULL DEFAULT 0,
    items_stored    INTEGER NOT NULL DEFAULT 0
);
