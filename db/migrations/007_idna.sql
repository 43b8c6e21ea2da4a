-- 007_idna: one identity per address (IDNA2008, SMTPUTF8).
--
-- 1. The state `held`: the client did not hand the message to the relay,
--    for a reason on our side that a later run may not have: the relay
--    lacks SMTPUTF8 for a UTF-8 mailbox (RFC 6531), the message is larger
--    than the relay's SIZE, the address has no wire form.  last_text says
--    why.  Not final and never a bounce: the next send queues it again.
--
-- 2. Addresses rewritten to the canonical form of engine/email.h (U-label
--    domains, case folded, NFC), contacts that are one person merged and
--    suppressions re-keyed: that needs libidn2, so it is done in C by
--    db/store.c right after this file, in the same transaction.
--
-- 3. meta 'legacy_hashes' says that an older release left hash-only
--    suppressions (erased people), which may be hashes of an A-label
--    form: only then does an import compute that form's hash too (see
--    db/store_idna.c).  A database made by this release has none.
--
-- 4. contact_merged: the ids of contacts merged into another (old_id,
--    deleted, into into_id).  Mail sent before the merge carries the old
--    id in its unsubscribe, tracking and view links, which must go on
--    working: `campaign serve` follows an id that is no contact through
--    this table (db/store_contacts.c store_contact_current).
--
-- sends is rebuilt as 006_history.sql describes (SQLite cannot alter a
-- CHECK); nothing refers to it.
CREATE TABLE sends_new (
    campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'deferred',
                                     'bounced', 'failed', 'skipped',
                                     'expired', 'uncertain', 'cancelled',
                                     'unbuildable', 'held')),
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

CREATE TABLE contact_merged (
    old_id  INTEGER PRIMARY KEY,
    into_id INTEGER NOT NULL
);

INSERT INTO meta(key, value)
SELECT 'legacy_hashes', '1'
WHERE EXISTS (SELECT 1 FROM suppressions WHERE email IS NULL)
ON CONFLICT(key) DO NOTHING;
