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
-- 014_report_groups added domain (at the freeze) and whether the person
-- opened, clicked, unsubscribed, complained (kept by events_person_*).
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
    domain          TEXT NOT NULL DEFAULT '',
    opened          INTEGER NOT NULL DEFAULT 0,
    clicked         INTEGER NOT NULL DEFAULT 0,
    unsubscribed    INTEGER NOT NULL DEFAULT 0,
    complained      INTEGER NOT NULL DEFAULT 0,
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
-- 014_report_groups added the people among each count's rows.
CREATE TABLE ledger_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    class       TEXT NOT NULL,
    uncertain   INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    opened      INTEGER NOT NULL DEFAULT 0,
    clicked     INTEGER NOT NULL DEFAULT 0,
    unsubscribed INTEGER NOT NULL DEFAULT 0,
    complained  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, state, class, uncertain)
) WITHOUT ROWID;

-- 014_report_groups rewrote the triggers: the people counted too, and
-- sends' flags, report_groups, domain_events, event_counts, event_hours
-- and event_links, of the events up to meta 'events_folded' (the later
-- ones are counted by store_events_fold).
-- (when the campaign itself is deleted, its ledger goes with it: the
-- ledger's triggers must not count its rows again for a campaign gone)
CREATE TRIGGER events_person_delete AFTER DELETE ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (((old.machine = 0 AND (old.kind = 'open' OR old.kind = 'click'
                            OR old.kind = 'complaint'))
      OR old.kind = 'unsubscribe')
  AND EXISTS (SELECT 1 FROM campaigns WHERE id = old.campaign_id))
BEGIN
    UPDATE sends SET
        opened = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'open'
              AND e.machine = 0 AND e.contact_id = sends.contact_id),
        clicked = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'click'
              AND e.machine = 0 AND e.contact_id = sends.contact_id),
        unsubscribed = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id
              AND e.kind = 'unsubscribe' AND e.contact_id = sends.contact_id),
        complained = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'complaint'
              AND e.machine = 0 AND e.contact_id = sends.contact_id)
    WHERE campaign_id = old.campaign_id AND contact_id = old.contact_id;
END;

-- a machine's hit found out later (machine 0 -> 1), or any change of
-- what is counted: the flags of the rows before and after, from the
-- events left; not contact_id (see above)
CREATE TRIGGER events_person_update
AFTER UPDATE OF campaign_id, kind, machine ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (old.campaign_id IS NOT new.campaign_id OR old.kind IS NOT new.kind
  OR old.machine IS NOT new.machine)
BEGIN
    UPDATE sends SET
        opened = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'open'
              AND e.machine = 0 AND e.contact_id = sends.contact_id),
        clicked = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'click'
              AND e.machine = 0 AND e.contact_id = sends.contact_id),
        unsubscribed = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id
              AND e.kind = 'unsubscribe' AND e.contact_id = sends.contact_id),
        complained = EXISTS (SELECT 1 FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = sends.campaign_id AND e.kind = 'complaint'
              AND e.machine = 0 AND e.contact_id = sends.contact_id)
    WHERE (campaign_id = old.campaign_id AND contact_id = old.contact_id)
       OR (campaign_id = new.campaign_id AND contact_id = new.contact_id);
END;

CREATE TRIGGER sends_count_insert AFTER INSERT ON sends BEGIN
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n, opened,
                              clicked, unsubscribed, complained)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1, new.opened, new.clicked,
            new.unsubscribed, new.complained)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET
        n = n + 1, opened = opened + excluded.opened,
        clicked = clicked + excluded.clicked,
        unsubscribed = unsubscribed + excluded.unsubscribed,
        complained = complained + excluded.complained;
END;

CREATE TRIGGER sends_count_delete AFTER DELETE ON sends BEGIN
    UPDATE ledger_counts SET n = n - 1, opened = opened - old.opened,
        clicked = clicked - old.clicked,
        unsubscribed = unsubscribed - old.unsubscribed,
        complained = complained - old.complained
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
END;

CREATE TRIGGER sends_count_update
AFTER UPDATE OF campaign_id, state, bounce_class, was_uncertain, opened,
                clicked, unsubscribed, complained ON sends
WHEN old.campaign_id IS NOT new.campaign_id OR old.state IS NOT new.state
  OR old.bounce_class IS NOT new.bounce_class
  OR old.was_uncertain IS NOT new.was_uncertain
  OR old.opened IS NOT new.opened OR old.clicked IS NOT new.clicked
  OR old.unsubscribed IS NOT new.unsubscribed
  OR old.complained IS NOT new.complained
BEGIN
    UPDATE ledger_counts SET n = n - 1, opened = opened - old.opened,
        clicked = clicked - old.clicked,
        unsubscribed = unsubscribed - old.unsubscribed,
        complained = complained - old.complained
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n, opened,
                              clicked, unsubscribed, complained)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1, new.opened, new.clicked,
            new.unsubscribed, new.complained)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET
        n = n + 1, opened = opened + excluded.opened,
        clicked = clicked + excluded.clicked,
        unsubscribed = unsubscribed + excluded.unsubscribed,
        complained = complained + excluded.complained;
END;

CREATE TABLE report_groups (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    state       TEXT NOT NULL,
    class       TEXT NOT NULL,
    coded       INTEGER NOT NULL,
    retried     INTEGER NOT NULL,
    uncertain   INTEGER NOT NULL,
    people      INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, domain, state, class, coded, retried, uncertain,
                 people)
) WITHOUT ROWID;

CREATE TRIGGER sends_group_insert AFTER INSERT ON sends BEGIN
    INSERT INTO report_groups(campaign_id, domain, state, class, coded,
                              retried, uncertain, people, n)
    VALUES (new.campaign_id, new.domain,
            CASE WHEN new.state = 'sending' THEN 'queued' ELSE new.state END,
            COALESCE(new.bounce_class, ''),
            (new.state = 'failed' OR new.state = 'cancelled')
              AND COALESCE(new.last_code, 0) > 0,
            new.attempts > 1, new.was_uncertain > 0,
            new.opened + 2 * new.clicked + 4 * new.unsubscribed
              + 8 * new.complained, 1)
    ON CONFLICT(campaign_id, domain, state, class, coded, retried, uncertain,
                people)
    DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sends_group_delete AFTER DELETE ON sends BEGIN
    UPDATE report_groups SET n = n - 1
    WHERE campaign_id = old.campaign_id AND domain = old.domain
      AND state = CASE WHEN old.state = 'sending' THEN 'queued'
                       ELSE old.state END
      AND class = COALESCE(old.bounce_class, '')
      AND coded = ((old.state = 'failed' OR old.state = 'cancelled')
                   AND COALESCE(old.last_code, 0) > 0)
      AND retried = (old.attempts > 1) AND uncertain = (old.was_uncertain > 0)
      AND people = old.opened + 2 * old.clicked + 4 * old.unsubscribed
                   + 8 * old.complained;
END;

-- fires only when the row moves to another group: a claim (queued ->
-- sending, a first attempt) moves nothing, nor an open after the first
CREATE TRIGGER sends_group_update
AFTER UPDATE OF campaign_id, domain, state, bounce_class, last_code, attempts,
                was_uncertain, opened, clicked, unsubscribed, complained ON sends
WHEN old.campaign_id IS NOT new.campaign_id OR old.domain IS NOT new.domain
  OR (CASE WHEN old.state = 'sending' THEN 'queued' ELSE old.state END)
     IS NOT (CASE WHEN new.state = 'sending' THEN 'queued' ELSE new.state END)
  OR old.bounce_class IS NOT new.bounce_class
  OR ((old.state = 'failed' OR old.state = 'cancelled')
      AND COALESCE(old.last_code, 0) > 0)
     IS NOT ((new.state = 'failed' OR new.state = 'cancelled')
             AND COALESCE(new.last_code, 0) > 0)
  OR (old.attempts > 1) IS NOT (new.attempts > 1)
  OR (old.was_uncertain > 0) IS NOT (new.was_uncertain > 0)
  OR old.opened IS NOT new.opened OR old.clicked IS NOT new.clicked
  OR old.unsubscribed IS NOT new.unsubscribed
  OR old.complained IS NOT new.complained
BEGIN
    UPDATE report_groups SET n = n - 1
    WHERE campaign_id = old.campaign_id AND domain = old.domain
      AND state = CASE WHEN old.state = 'sending' THEN 'queued'
                       ELSE old.state END
      AND class = COALESCE(old.bounce_class, '')
      AND coded = ((old.state = 'failed' OR old.state = 'cancelled')
                   AND COALESCE(old.last_code, 0) > 0)
      AND retried = (old.attempts > 1) AND uncertain = (old.was_uncertain > 0)
      AND people = old.opened + 2 * old.clicked + 4 * old.unsubscribed
                   + 8 * old.complained;
    INSERT INTO report_groups(campaign_id, domain, state, class, coded,
                              retried, uncertain, people, n)
    VALUES (new.campaign_id, new.domain,
            CASE WHEN new.state = 'sending' THEN 'queued' ELSE new.state END,
            COALESCE(new.bounce_class, ''),
            (new.state = 'failed' OR new.state = 'cancelled')
              AND COALESCE(new.last_code, 0) > 0,
            new.attempts > 1, new.was_uncertain > 0,
            new.opened + 2 * new.clicked + 4 * new.unsubscribed
              + 8 * new.complained, 1)
    ON CONFLICT(campaign_id, domain, state, class, coded, retried, uncertain,
                people)
    DO UPDATE SET n = n + 1;
END;

CREATE TABLE domain_events (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    domain      TEXT NOT NULL,
    opens       INTEGER NOT NULL,
    clicks      INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, domain)
) WITHOUT ROWID;

CREATE TRIGGER events_domain_delete AFTER DELETE ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (old.machine = 0 AND (old.kind = 'open' OR old.kind = 'click'))
BEGIN
    UPDATE domain_events SET opens = opens - (old.kind = 'open'),
                             clicks = clicks - (old.kind = 'click')
    WHERE campaign_id = old.campaign_id
      AND domain = (SELECT domain FROM sends
                    WHERE campaign_id = old.campaign_id
                      AND contact_id = old.contact_id);
END;

-- not contact_id: an event's contact changes with its ledger row's (a
-- person forgotten), which sends_domain_move follows
CREATE TRIGGER events_domain_update
AFTER UPDATE OF campaign_id, kind, machine ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (((old.machine = 0 AND (old.kind = 'open' OR old.kind = 'click'))
      OR (new.machine = 0 AND (new.kind = 'open' OR new.kind = 'click')))
  AND (old.campaign_id IS NOT new.campaign_id OR old.kind IS NOT new.kind
       OR old.machine IS NOT new.machine))
BEGIN
    UPDATE domain_events
    SET opens = opens - (old.kind = 'open' AND old.machine = 0),
        clicks = clicks - (old.kind = 'click' AND old.machine = 0)
    WHERE campaign_id = old.campaign_id
      AND domain = (SELECT domain FROM sends
                    WHERE campaign_id = old.campaign_id
                      AND contact_id = old.contact_id);
    INSERT INTO domain_events(campaign_id, domain, opens, clicks)
    SELECT new.campaign_id, domain, new.kind = 'open', new.kind = 'click'
    FROM sends
    WHERE new.machine = 0 AND (new.kind = 'open' OR new.kind = 'click')
      AND campaign_id = new.campaign_id AND contact_id = new.contact_id
    ON CONFLICT(campaign_id, domain)
    DO UPDATE SET opens = opens + excluded.opens,
                  clicks = clicks + excluded.clicks;
END;

-- a ledger row that moves (a person forgotten: to a fresh tombstone id
-- and the domain '') takes its person's counted opens and clicks along,
-- whether the events moved to the new id before it or will after it (so
-- the new id must be one with no events of its own in the campaign: a
-- merge into an existing contact would need more than this)
CREATE TRIGGER sends_domain_move
AFTER UPDATE OF campaign_id, contact_id, domain ON sends
WHEN old.campaign_id IS NOT new.campaign_id
  OR old.contact_id IS NOT new.contact_id OR old.domain IS NOT new.domain
BEGIN
    UPDATE domain_events SET
        opens = opens - (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = old.campaign_id AND e.kind = 'open'
              AND e.machine = 0
              AND (e.contact_id = old.contact_id
                   OR e.contact_id = new.contact_id)),
        clicks = clicks - (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = old.campaign_id AND e.kind = 'click'
              AND e.machine = 0
              AND (e.contact_id = old.contact_id
                   OR e.contact_id = new.contact_id))
    WHERE campaign_id = old.campaign_id AND domain = old.domain;
    INSERT INTO domain_events(campaign_id, domain, opens, clicks)
    SELECT new.campaign_id, new.domain,
        (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = new.campaign_id AND e.kind = 'open'
              AND e.machine = 0
              AND (e.contact_id = old.contact_id
                   OR e.contact_id = new.contact_id)),
        (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = new.campaign_id AND e.kind = 'click'
              AND e.machine = 0
              AND (e.contact_id = old.contact_id
                   OR e.contact_id = new.contact_id))
    WHERE true
    ON CONFLICT(campaign_id, domain)
    DO UPDATE SET opens = opens + excluded.opens,
                  clicks = clicks + excluded.clicks;
END;

CREATE TRIGGER sends_domain_delete AFTER DELETE ON sends
WHEN EXISTS (SELECT 1 FROM campaigns WHERE id = old.campaign_id)
BEGIN
    UPDATE domain_events SET
        opens = opens - (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = old.campaign_id AND e.kind = 'open'
              AND e.machine = 0 AND e.contact_id = old.contact_id),
        clicks = clicks - (SELECT count(*) FROM events e
            WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
              AND e.campaign_id = old.campaign_id AND e.kind = 'click'
              AND e.machine = 0 AND e.contact_id = old.contact_id)
    WHERE campaign_id = old.campaign_id AND domain = old.domain;
END;

CREATE TABLE event_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,
    machine     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    people      INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, kind, machine)
) WITHOUT ROWID;

CREATE TRIGGER events_count_delete AFTER DELETE ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
BEGIN
    UPDATE event_counts SET n = n - 1,
        people = people - NOT EXISTS (SELECT 1 FROM events
            WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id = old.campaign_id AND kind = old.kind
              AND machine = old.machine AND contact_id = old.contact_id)
    WHERE campaign_id = old.campaign_id AND kind = old.kind
      AND machine = old.machine;
END;

CREATE TRIGGER events_count_update
AFTER UPDATE OF campaign_id, contact_id, kind, machine ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (old.campaign_id IS NOT new.campaign_id
  OR old.contact_id IS NOT new.contact_id OR old.kind IS NOT new.kind
  OR old.machine IS NOT new.machine)
BEGIN
    UPDATE event_counts SET n = n - 1,
        people = people - NOT EXISTS (SELECT 1 FROM events
            WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id = old.campaign_id AND kind = old.kind
              AND machine = old.machine AND contact_id = old.contact_id)
    WHERE campaign_id = old.campaign_id AND kind = old.kind
      AND machine = old.machine;
    INSERT INTO event_counts(campaign_id, kind, machine, n, people)
    VALUES (new.campaign_id, new.kind, new.machine, 1,
            NOT EXISTS (SELECT 1 FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
                        AND campaign_id = new.campaign_id
                        AND kind = new.kind AND machine = new.machine
                        AND contact_id = new.contact_id AND id <> new.id))
    ON CONFLICT(campaign_id, kind, machine)
    DO UPDATE SET n = n + 1, people = people + excluded.people;
END;

-- event_hours: the opens and clicks (a person's and machines' apart) of
-- each campaign by the hour they came in (at_ms / 3600000), for the
-- report's timeline, whose buckets are whole hours and days from an
-- hour's start.
CREATE TABLE event_hours (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    hour        INTEGER NOT NULL,
    click       INTEGER NOT NULL,
    machine     INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, hour, click, machine)
) WITHOUT ROWID;

CREATE TRIGGER events_hour_delete AFTER DELETE ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (old.kind = 'open' OR old.kind = 'click')
BEGIN
    UPDATE event_hours SET n = n - 1
    WHERE campaign_id = old.campaign_id AND hour = old.at_ms / 3600000
      AND click = (old.kind = 'click') AND machine = old.machine;
END;

CREATE TRIGGER events_hour_update
AFTER UPDATE OF campaign_id, kind, machine, at_ms ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND ((old.kind = 'open' OR old.kind = 'click' OR new.kind = 'open'
      OR new.kind = 'click')
  AND (old.campaign_id IS NOT new.campaign_id OR old.kind IS NOT new.kind
       OR old.machine IS NOT new.machine OR old.at_ms IS NOT new.at_ms))
BEGIN
    UPDATE event_hours SET n = n - 1
    WHERE (old.kind = 'open' OR old.kind = 'click')
      AND campaign_id = old.campaign_id AND hour = old.at_ms / 3600000
      AND click = (old.kind = 'click') AND machine = old.machine;
    INSERT INTO event_hours(campaign_id, hour, click, machine, n)
    SELECT new.campaign_id, new.at_ms / 3600000, new.kind = 'click',
           new.machine, 1
    WHERE new.kind = 'open' OR new.kind = 'click'
    ON CONFLICT(campaign_id, hour, click, machine) DO UPDATE SET n = n + 1;
END;

-- event_links: people's clicks (machine 0) of each campaign by link, and
-- the people (distinct contacts) who clicked it; url NULL is kept as ''.
CREATE TABLE event_links (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    url         TEXT NOT NULL,
    n           INTEGER NOT NULL,
    people      INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, url)
) WITHOUT ROWID;

CREATE TRIGGER events_link_delete AFTER DELETE ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (old.kind = 'click' AND old.machine = 0)
BEGIN
    UPDATE event_links SET n = n - 1,
        people = people - NOT EXISTS (SELECT 1 FROM events
            WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id = old.campaign_id AND kind = 'click'
              AND machine = 0 AND contact_id = old.contact_id
              AND COALESCE(url, '') = COALESCE(old.url, ''))
    WHERE campaign_id = old.campaign_id AND url = COALESCE(old.url, '');
END;

CREATE TRIGGER events_link_update
AFTER UPDATE OF campaign_id, contact_id, kind, machine, url ON events
WHEN old.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
  AND (((old.kind = 'click' AND old.machine = 0)
      OR (new.kind = 'click' AND new.machine = 0))
  AND (old.campaign_id IS NOT new.campaign_id
       OR old.contact_id IS NOT new.contact_id OR old.kind IS NOT new.kind
       OR old.machine IS NOT new.machine
       OR COALESCE(old.url, '') IS NOT COALESCE(new.url, '')))
BEGIN
    UPDATE event_links SET n = n - 1,
        people = people - NOT EXISTS (SELECT 1 FROM events
            WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id = old.campaign_id AND kind = 'click'
              AND machine = 0 AND contact_id = old.contact_id
              AND COALESCE(url, '') = COALESCE(old.url, ''))
    WHERE old.kind = 'click' AND old.machine = 0
      AND campaign_id = old.campaign_id AND url = COALESCE(old.url, '');
    INSERT INTO event_links(campaign_id, url, n, people)
    SELECT new.campaign_id, COALESCE(new.url, ''), 1,
           NOT EXISTS (SELECT 1 FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded')
                        AND campaign_id = new.campaign_id
                       AND kind = 'click' AND machine = 0
                       AND contact_id = new.contact_id AND id <> new.id
                       AND COALESCE(url, '') = COALESCE(new.url, ''))
    WHERE new.kind = 'click' AND new.machine = 0
    ON CONFLICT(campaign_id, url)
    DO UPDATE SET n = n + 1, people = people + excluded.people;
END;

-- 014_report_groups: the ledger rows `report NAME` lists one by one or
-- by reply (the uncertain; the undelivered with a reply on record).
CREATE INDEX sends_uncertain ON sends(campaign_id, contact_id)
WHERE was_uncertain > 0;
CREATE INDEX sends_replied ON sends(campaign_id, state, bounce_class, last_code,
                                    last_status, last_text)
WHERE state <> 'sent' AND state <> 'sending' AND last_text IS NOT NULL;
