-- schema.sql - the complete current schema, for reading.
--
-- The numbered files in db/migrations/ are what `campaign init` applies
-- (embedded in the binary); this file must equal their sum, and the unit
-- test tests/unit/test_store.c checks that it does.  Change the schema by
-- adding a migration, then update this file.

CREATE TABLE schema_version (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    applied_at INTEGER NOT NULL
);

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

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

-- 007_idna: contacts merged into another by the migration to canonical
-- addresses; old links (unsubscribe, tracking, view) carry the old id.
CREATE TABLE contact_merged (
    old_id  INTEGER PRIMARY KEY,
    into_id INTEGER NOT NULL
);

-- 013_freeze_chunks added gen to lists and memberships: a campaign
-- freezes the members whose gen is at most the list's gen when it started
-- (which then moves on), however long its freeze takes.
CREATE TABLE lists (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    gen        INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE memberships (
    list_id    INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    contact_id INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    added_at   INTEGER NOT NULL,
    gen        INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (list_id, contact_id)
) WITHOUT ROWID;
CREATE INDEX memberships_contact ON memberships(contact_id);

-- Since 007_idna, contacts.email and suppressions.email are in the one
-- canonical form of engine/email.h (IDNA2008 U-labels, case folded, NFC),
-- and hash is the hash of that form: the migration's C step
-- (db/store_idna.c) rewrote and merged what earlier releases kept as
-- given.  A hash-only row of an erased person written before may be the
-- hash of the A-label form ("xn--"): look-ups try that one too.
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

-- data, frozen_at, control and recipients come from 003_ledger: the
-- campaign data kept for resumes, when the recipients were frozen, a
-- pause or cancel request, and the frozen recipient count; template_src
-- from 004_events: the template files as the campaign froze them; the
-- breaker columns from 008_bounces: why the circuit breaker paused it, and
-- the counts at the last resume; scheduled_at and sender_domain from
-- 009_schedule: the instant `send --at` set, and the From domain whose
-- daily cap the campaign counts against.
-- 013_freeze_chunks added freeze_gen (the list's gen the campaign
-- freezes) and freeze_after (the freeze goes on with the members after
-- this contact id; NULL once complete).
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    template    TEXT NOT NULL,
    list_id     INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    status      TEXT NOT NULL DEFAULT 'draft',
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER,
    data        TEXT,
    frozen_at   INTEGER,
    control     TEXT,
    recipients  INTEGER NOT NULL DEFAULT 0,
    template_src TEXT,
    breaker     TEXT,
    breaker_sent INTEGER NOT NULL DEFAULT 0,
    breaker_hard INTEGER NOT NULL DEFAULT 0,
    breaker_complaints INTEGER NOT NULL DEFAULT 0,
    scheduled_at INTEGER,
    sender_domain TEXT,
    freeze_gen  INTEGER,
    freeze_after INTEGER
);

-- 005_cancelled rebuilt sends to add the state cancelled (SQLite cannot
-- alter a CHECK); the rename leaves its name quoted.  006_history rebuilt
-- it again: the state unbuildable, and contact_id without a reference
-- (a forgotten recipient's rows stay, under a negative tombstone id).
-- 007_idna rebuilt it once more: the state held (not handed to the relay
-- for a reason on our side, such as a relay without SMTPUTF8).
CREATE TABLE "sends" (
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
-- 011_report_cover added bounce_class and was_uncertain: the ledger's
-- counts (`campaign report`) from the index alone.
CREATE INDEX sends_state ON sends(campaign_id, state, next_attempt_at, bounce_class, was_uncertain);

-- 004_events: opens, clicks, unsubscribes and web views (engine/serve.c);
-- 006_history rebuilt it with contact_id without a reference, as sends;
-- 008_bounces rebuilt it with what comes back by mail (engine/ingest.c):
-- kinds bounce, delayed, complaint and auto_reply, an unsubscribe by mail
-- with class 'mail', and class, status, code and detail; machine = 1 on
-- one of those marks a message matched by address alone (unverified:
-- reported, never acted on).
CREATE TABLE "events" (
    id             INTEGER PRIMARY KEY,
    campaign_id    INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id     INTEGER NOT NULL,
    kind           TEXT NOT NULL
                   CHECK (kind = 'open' OR kind = 'click' OR
                          kind = 'unsubscribe' OR kind = 'view' OR
                          kind = 'bounce' OR kind = 'delayed' OR
                          kind = 'complaint' OR kind = 'auto_reply'),
    url            TEXT,
    at_ms          INTEGER NOT NULL,
    machine        INTEGER NOT NULL DEFAULT 0,
    machine_reason TEXT,
    ua_class       TEXT,
    ip             TEXT,
    class          TEXT,
    status         TEXT,
    code           INTEGER,
    detail         TEXT
);
CREATE INDEX events_contact ON events(contact_id, campaign_id, kind, at_ms);
-- 010_report: one campaign's events of one kind, people's apart from
-- machines', in contact order (`campaign report`); 011_report_cover added
-- at_ms, so that first opens and opens over time come from the index.
CREATE INDEX events_campaign ON events(campaign_id, kind, machine, contact_id, at_ms);

-- 008_bounces: one row per inbound message read, keyed by the SHA-256 of
-- its identity: the same message ingested twice counts once.
CREATE TABLE inbound (
    key         BLOB PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    campaign_id INTEGER,
    contact_id  INTEGER
) WITHOUT ROWID;

-- 009_schedule: messages handed to a relay per sending domain and local
-- calendar day (days since 1970-01-01 in [limits] timezone): what the
-- daily cap and the warm-up allow.
CREATE TABLE daily_sent (
    domain  TEXT NOT NULL,
    day     INTEGER NOT NULL,
    sent    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (domain, day)
) WITHOUT ROWID;

-- 012_ledger_counts: each campaign's ledger rows counted by state, bounce
-- class and was_uncertain, kept by the triggers on sends in the same
-- transaction as the change (store_ledger_counts reads a few rows).
CREATE TABLE ledger_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    class       TEXT NOT NULL,
    uncertain   INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, state, class, uncertain)
) WITHOUT ROWID;

CREATE TRIGGER sends_count_insert AFTER INSERT ON sends BEGIN
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sends_count_delete AFTER DELETE ON sends BEGIN
    UPDATE ledger_counts SET n = n - 1
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
END;

CREATE TRIGGER sends_count_update
AFTER UPDATE OF campaign_id, state, bounce_class, was_uncertain ON sends
WHEN old.campaign_id IS NOT new.campaign_id OR old.state IS NOT new.state
  OR old.bounce_class IS NOT new.bounce_class
  OR old.was_uncertain IS NOT new.was_uncertain
BEGIN
    UPDATE ledger_counts SET n = n - 1
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET n = n + 1;
END;
