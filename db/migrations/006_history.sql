-- 006_history: a ledger that keeps its history.
--
-- 1. The state `unbuildable`: the message could not be built for this
--    recipient (a merge field it lacks with no fallback, a header that
--    would not build); last_text says why.  Not final, unlike `failed`
--    (kept for rows recorded by earlier releases): a later send, after the
--    template or the contact is fixed, tries it again.
--
-- 2. A forgotten recipient's rows stay.  `contacts forget` used to delete
--    the contact and, through ON DELETE CASCADE, its ledger rows and
--    events, so a finished campaign's counts dropped.  Now sends and
--    events no longer reference contacts(id): forget moves the person's
--    rows to a tombstone id (a negative number, taken from the meta key
--    'tombstone', never a contact's id) and clears what could identify
--    them (the reply text, the Message-ID, the IP); state, attempts,
--    codes and times stay, so reports of past campaigns do not change.
--    A positive contact_id is a contact's; the store keeps it so (forget
--    is the only way a contact goes).
--
-- Both tables are rebuilt as https://www.sqlite.org/lang_altertable.html
-- ("Making Other Kinds Of Table Schema Changes") says, inside the
-- migration's transaction (see 005_cancelled.sql).  No table, view or
-- trigger refers to either.
INSERT INTO meta(key, value) VALUES ('tombstone', '0')
    ON CONFLICT(key) DO NOTHING;

CREATE TABLE sends_new (
    campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      INTEGER NOT NULL,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'deferred',
                                     'bounced', 'failed', 'skipped',
                                     'expired', 'uncertain', 'cancelled',
                                     'unbuildable')),
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

CREATE TABLE events_new (
    id             INTEGER PRIMARY KEY,
    campaign_id    INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id     INTEGER NOT NULL,
    kind           TEXT NOT NULL
                   CHECK (kind = 'open' OR kind = 'click' OR
                          kind = 'unsubscribe' OR kind = 'view'),
    url            TEXT,
    at_ms          INTEGER NOT NULL,
    machine        INTEGER NOT NULL DEFAULT 0,
    machine_reason TEXT,
    ua_class       TEXT,
    ip             TEXT
);

INSERT INTO events_new(id, campaign_id, contact_id, kind, url, at_ms,
                       machine, machine_reason, ua_class, ip)
SELECT id, campaign_id, contact_id, kind, url, at_ms, machine,
       machine_reason, ua_class, ip
FROM events;

DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_contact ON events(contact_id, campaign_id, kind, at_ms);
