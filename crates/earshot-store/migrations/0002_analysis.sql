-- The analysis stage's result per mention (sentiment, offensive language, spam, intents, the
-- sentiment toward each named brand), written in the same transaction as the mention, and the
-- corrections people make to it.

CREATE TABLE mention_analysis (
    mention_id      INTEGER PRIMARY KEY REFERENCES mentions(id),
    -- 0 when the row only holds corrections of a mention stored without analysis.
    analyzed        INTEGER NOT NULL DEFAULT 1 CHECK (analyzed IN (0, 1)),
    lang            TEXT    NOT NULL,
    sentiment       TEXT,
    sentiment_score REAL,
    offensive       TEXT,
    offensive_score REAL,
    spam            TEXT,
    spam_score      REAL,
    -- [{"label": "complaint", "score": 0.8}, ...]
    intents         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(intents)),
    -- [{"target": "Zeltron", "label": "negative", "score": 0.7}, ...]
    targets         TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(targets)),
    -- The labels in force once corrections are applied, kept here so the filters of the
    -- mention list are plain column comparisons. NULL: no correction.
    sentiment_corrected TEXT,
    offensive_corrected TEXT,
    spam_corrected      TEXT,
    -- {"complaint": false, "praise": true}: intents corrected as absent or present.
    intents_corrected   TEXT    NOT NULL DEFAULT '{}' CHECK (json_valid(intents_corrected))
);

CREATE INDEX mention_analysis_by_sentiment
    ON mention_analysis(COALESCE(sentiment_corrected, sentiment));

-- Every correction ever made (the history); the latest per mention, field and (for intents)
-- label is the one in force.
CREATE TABLE mention_corrections (
    id           INTEGER PRIMARY KEY,
    mention_id   INTEGER NOT NULL REFERENCES mentions(id),
    field        TEXT    NOT NULL CHECK (field IN ('sentiment', 'offensive', 'spam', 'intent')),
    label        TEXT    NOT NULL CHECK (length(label) > 0),
    -- 0 only for an intent said to be absent.
    present      INTEGER NOT NULL DEFAULT 1 CHECK (present IN (0, 1)),
    corrected_by TEXT,
    corrected_at INTEGER NOT NULL
);

CREATE INDEX mention_corrections_by_mention ON mention_corrections(mention_id, field);
