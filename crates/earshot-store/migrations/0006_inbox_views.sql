-- Saved views of the inbox: per user, a named filter set (the list's query string).
CREATE TABLE inbox_views (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    owner       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    query       TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (owner, name)
);
