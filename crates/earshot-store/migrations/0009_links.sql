-- Tracked links, their clicks per day, conversions, and campaigns with their spend.
-- Times are integer microseconds since the Unix epoch (UTC); calendar days are 'YYYY-MM-DD'
-- (UTC for clicks). Money is integer minor units with its ISO 4217 currency: never a float.
-- No IP address, user agent, cookie or referrer of a visitor is stored anywhere here.

CREATE TABLE campaigns (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    name            TEXT    NOT NULL UNIQUE,
    utm_campaign    TEXT    NOT NULL UNIQUE,
    goal            TEXT    NOT NULL
                            CHECK (goal IN ('leads', 'sales', 'sign_ups', 'resolved_complaints', 'custom')),
    custom_goal     TEXT,
    target          INTEGER CHECK (target IS NULL OR target >= 0),
    budget_minor    INTEGER CHECK (budget_minor IS NULL OR budget_minor >= 0),
    budget_currency TEXT,
    starts_on       TEXT    NOT NULL,
    ends_on         TEXT,
    created_at      INTEGER NOT NULL,
    CHECK ((budget_minor IS NULL) = (budget_currency IS NULL))
);

-- Posts belong to the publishing part of the product; only their ids are kept here.
CREATE TABLE campaign_posts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    post_id     INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, post_id)
) WITHOUT ROWID;

CREATE TABLE campaign_spend (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    campaign_id  INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    amount_minor INTEGER NOT NULL CHECK (amount_minor >= 0),
    currency     TEXT    NOT NULL,
    spent_on     TEXT    NOT NULL,
    note         TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL
);
CREATE INDEX campaign_spend_by_campaign ON campaign_spend(campaign_id);

CREATE TABLE tracked_links (
    code         TEXT    PRIMARY KEY,
    target_url   TEXT    NOT NULL,
    utm_source   TEXT,
    utm_medium   TEXT,
    utm_campaign TEXT,
    utm_content  TEXT,
    utm_term     TEXT,
    campaign_id  INTEGER REFERENCES campaigns(id) ON DELETE SET NULL,
    post_id      INTEGER,
    created_at   INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX tracked_links_by_campaign ON tracked_links(campaign_id) WHERE campaign_id IS NOT NULL;
CREATE INDEX tracked_links_by_created ON tracked_links(created_at);

-- One row per link and UTC day: people and crawlers counted apart.
CREATE TABLE link_clicks (
    code  TEXT    NOT NULL REFERENCES tracked_links(code) ON DELETE CASCADE,
    day   TEXT    NOT NULL,
    human INTEGER NOT NULL DEFAULT 0 CHECK (human >= 0),
    bot   INTEGER NOT NULL DEFAULT 0 CHECK (bot >= 0),
    PRIMARY KEY (code, day)
) WITHOUT ROWID;

CREATE TABLE conversions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    external_id  TEXT    NOT NULL UNIQUE,
    value_minor  INTEGER NOT NULL CHECK (value_minor >= 0),
    currency     TEXT    NOT NULL,
    kind         TEXT    NOT NULL,
    link_code    TEXT,
    utm_campaign TEXT,
    occurred_at  INTEGER NOT NULL,
    received_at  INTEGER NOT NULL,
    CHECK (link_code IS NOT NULL OR utm_campaign IS NOT NULL)
);
CREATE INDEX conversions_by_link ON conversions(link_code) WHERE link_code IS NOT NULL;
CREATE INDEX conversions_by_utm_campaign ON conversions(utm_campaign) WHERE utm_campaign IS NOT NULL;
