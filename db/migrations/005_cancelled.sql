-- 005_cancelled: the ledger state `cancelled` - a recipient that
-- `campaign cancel` took out of the queue before it was sent (a queued or
-- deferred row, or an uncertain one still owed its retry: was_uncertain
-- stays 1, so the report still lists it).  Nothing claims a cancelled row.
--
-- SQLite cannot change a CHECK constraint in place: the table is rebuilt
-- as https://www.sqlite.org/lang_altertable.html ("Making Other Kinds Of
-- Table Schema Changes") says - a new table, the rows copied, the old one
-- dropped, the new one renamed, its index made again - inside the
-- migration's transaction (store.c, migrate()).  Every column and default
-- is as 003_ledger made it.  Foreign keys stay on (PRAGMA foreign_keys
-- cannot change inside a transaction) and need not go off: no table,
-- view or trigger refers to sends, so dropping it touches nothing else,
-- and every row copied already satisfied its references.  The rename
-- leaves the table's name quoted in sqlite_master ("sends").
CREATE TABLE sends_new (
    campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'deferred',
                                     'bounced', 'failed', 'skipped',
                                     'expired', 'uncertain', 'cancelled')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    last_code       INTEGER,
    last_status     TEXT,
    last_text       TEXT,
    bounce_class    TEXT,
    message_id      TEXT,
    relay           TEXT,
    was_uncertain   INTEGER NOT NULL DEFAULT 0,
    queued_at       INTEGER NOT NULL,
    first_attempt_at INTEGER,
    done_at         INTEGER,
    PRIMARY KEY (campaign_id, contact_id)
) WITHOUT ROWID;

INSERT INTO sends_new(campaign_id, contact_id, state, attempts,
                      next_attempt_at, last_code, last_status, last_text,
                      bounce_class, message_id, relay, was_uncertain,
                      queued_at, first_attempt_at, done_at)
SELECT campaign_id, contact_id, state, attempts, next_attempt_at, last_code,
       last_status, last_text, bounce_class, message_id, relay,
       was_uncertain, queued_at, first_attempt_at, done_at
FROM sends;

DROP TABLE sends;
ALTER TABLE sends_new RENAME TO sends;
CREATE INDEX sends_state ON sends(campaign_id, state, next_attempt_at);
