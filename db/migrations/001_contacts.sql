-- 001_contacts: contacts, lists, memberships, suppressions, import runs.
-- Times are Unix seconds (UTC).  Emails are stored in normal form
-- (engine/email.c): trimmed and lower-cased, so UNIQUE(email) is one
-- person.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- Per-database random salt for the hashes kept after `contacts forget`.
INSERT INTO meta(key, value) VALUES ('hash_salt', lower(hex(randomblob(32))));

CREATE TABLE imports (
    id         INTEGER PRIMARY KEY,
    file       TEXT NOT NULL,
    list_id    INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    started_at INTEGER NOT NULL,
    imported   INTEGER NOT NULL DEFAULT 0,
    updated    INTEGER NOT NULL DEFAULT 0,
    unchanged  INTEGER NOT NULL DEFAULT 0,
    rejected   INTEGER NOT NULL DEFAULT 0
);

-- status: active, or why the contact must not be mailed.  The suppressions
-- table is the durable record (it survives `contacts forget`); status is
-- its per-contact mirror, kept in step by the store.
-- seen_run, seen_new, prev_attrs, prev_updated are import bookkeeping:
-- the import run that last saw the row, whether that run created it, and
-- the attributes and update time from before that run's first change
-- (NULL when it changed nothing), so that a duplicate inside one file
-- counts once and a change undone by a later row counts as unchanged.
-- prev_* are cleared when the run ends.
CREATE TABLE contacts (
    id           INTEGER PRIMARY KEY,
    email        TEXT NOT NULL UNIQUE,
    attrs        TEXT NOT NULL DEFAULT '{}',
    status       TEXT NOT NULL DEFAULT 'active'
                 CHECK (status IN ('active', 'unsubscribed', 'bounced',
                                   'complained', 'suppressed')),
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    seen_run     INTEGER,
    seen_new     INTEGER,
    prev_attrs   TEXT,
    prev_updated INTEGER
);
CREATE INDEX contacts_changed ON contacts(seen_run) WHERE prev_attrs IS NOT NULL;

CREATE TABLE lists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE memberships (
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    added_at   INTEGER NOT NULL,
    PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX memberships_contact ON memberships(contact_id);

-- hash: SHA-256(salt || normalised email), the key that survives forget.
-- email: NULL once the person is forgotten.
CREATE TABLE suppressions (
    hash       BLOB PRIMARY KEY,
    email      TEXT,
    reason     TEXT NOT NULL
               CHECK (reason IN ('unsubscribed', 'bounced', 'complained',
                                 'manual', 'forgotten')),
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX suppressions_email ON suppressions(email) WHERE email IS NOT NULL;
