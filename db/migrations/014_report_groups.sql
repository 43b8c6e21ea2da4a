-- 014_report_groups: what `campaign report NAME` groups and counts, kept
-- as the ledger and the events change, so that a report reads a few rows
-- per receiving domain, hour and link, never every recipient or every
-- event of a campaign (issue 17).
--
-- sends gains what the report used to join in row by row:
--   domain      the recipient's domain as it was at the freeze (the text
--               after the '@': a quoted local part cannot hold one,
--               engine/email.c), '' once the person is forgotten
--   opened, clicked    1 when the person has an open, a click (a
--                      person's, not a machine's: machine = 0)
--   unsubscribed       1 when an unsubscribe event (by link or by mail,
--                      a person's or unverified: machine 0 or 1)
--   complained         1 when a complaint (verified, machine = 0)
-- of the events counted so far.
--
-- The events are not counted as they are recorded: no trigger fires on
-- an insert into events (at tens of thousands of opens a second,
-- `campaign serve`'s writer has no microsecond to spare).  The events
-- after meta 'events_folded' are counted in batches by store_events_fold
-- (db/store_events.c), which `campaign report` runs first, and the mark
-- moves up to the last one counted.  An event counted (id at or below the
-- mark: ids never go back, as events are never deleted but with their
-- campaign) that is changed or deleted later (a machine's hit found out,
-- a campaign deleted) moves the counts by the triggers below; one not
-- counted yet is counted as it is then.  An event of a contact with no
-- ledger row in its campaign counts in event_counts, event_hours and
-- event_links only, as the report always counted it.  An event whose
-- contact_id changes is taken to move with its ledger row to a contact
-- id new to the campaign (a person forgotten: both go to a fresh
-- tombstone id, and the row keeps its flags).

-- ledger_counts (012) gains the people among each count's rows: those
-- opened, clicked, unsubscribed, complained.  The rates' people among the
-- delivered are its state 'sent' row(s).
--
-- report_groups: the ledger counted per campaign, domain and what
-- engine/report.c's one() reads of a row - the state ('sending' counted
-- as 'queued', as the report does, so that a claim changes nothing here),
-- the bounce class, whether a failed or cancelled row had a reply
-- (coded), whether it was attempted more than once (retried), whether it
-- was ever uncertain, and its flags (people: 1 opened, 2 clicked, 4
-- unsubscribed, 8 complained) - with the number of rows so.
-- domain_events: people's opens and clicks per campaign and domain (the
-- domain of the ledger row they belong to).  engine/report.c folds both
-- into the providers and domains of the report.
--
-- event_counts: each campaign's events by kind and machine, with the
-- people (distinct contacts) among them, for the report's event figures;
-- event_hours and event_links (below) its timeline and links.
--
-- Rows whose n falls to 0 stay (as ledger_counts'); readers skip them.  A
-- migration that rebuilds sends or events must rebuild these too (as
-- this one builds them from the tables as they are).
ALTER TABLE sends ADD COLUMN domain TEXT NOT NULL DEFAULT '';
ALTER TABLE sends ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sends ADD COLUMN clicked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sends ADD COLUMN unsubscribed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sends ADD COLUMN complained INTEGER NOT NULL DEFAULT 0;

UPDATE sends SET domain = COALESCE((SELECT substr(c.email, instr(c.email, '@') + 1)
                                    FROM contacts c WHERE c.id = sends.contact_id), '');

UPDATE sends SET opened = x.opened, clicked = x.clicked,
                 unsubscribed = x.unsubscribed, complained = x.complained
FROM (SELECT campaign_id, contact_id,
             max(kind = 'open' AND machine = 0) AS opened,
             max(kind = 'click' AND machine = 0) AS clicked,
             max(kind = 'unsubscribe') AS unsubscribed,
             max(kind = 'complaint' AND machine = 0) AS complained
      FROM events GROUP BY 1, 2) AS x
WHERE sends.campaign_id = x.campaign_id AND sends.contact_id = x.contact_id;

-- the events counted so far (all of them, here): every count below is of
-- the events up to this id.  Later ones are counted in batches by
-- store_events_fold (db/store_events.c), never one by one as they are
-- recorded; so the triggers on events below change the counts only for
-- an event already counted (old.id <= it), and read only those.
INSERT INTO meta(key, value)
VALUES ('events_folded', (SELECT COALESCE(max(id), 0) FROM events));

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

-- ledger_counts with its people, rebuilt from the ledger as it is
ALTER TABLE ledger_counts ADD COLUMN opened INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_counts ADD COLUMN clicked INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_counts ADD COLUMN unsubscribed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger_counts ADD COLUMN complained INTEGER NOT NULL DEFAULT 0;
DELETE FROM ledger_counts;
INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n, opened,
                          clicked, unsubscribed, complained)
SELECT campaign_id, state, COALESCE(bounce_class, ''), was_uncertain,
       count(*), sum(opened), sum(clicked), sum(unsubscribed), sum(complained)
FROM sends GROUP BY 1, 2, 3, 4;

DROP TRIGGER sends_count_insert;
DROP TRIGGER sends_count_delete;
DROP TRIGGER sends_count_update;

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

INSERT INTO report_groups(campaign_id, domain, state, class, coded, retried,
                          uncertain, people, n)
SELECT campaign_id, domain,
       CASE WHEN state = 'sending' THEN 'queued' ELSE state END,
       COALESCE(bounce_class, ''),
       (state = 'failed' OR state = 'cancelled') AND COALESCE(last_code, 0) > 0,
       attempts > 1, was_uncertain > 0,
       opened + 2 * clicked + 4 * unsubscribed + 8 * complained, count(*)
FROM sends GROUP BY 1, 2, 3, 4, 5, 6, 7, 8;

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

INSERT INTO domain_events(campaign_id, domain, opens, clicks)
SELECT e.campaign_id, s.domain, sum(e.kind = 'open'), sum(e.kind = 'click')
FROM events e JOIN sends s
  ON s.campaign_id = e.campaign_id AND s.contact_id = e.contact_id
WHERE e.machine = 0 AND (e.kind = 'open' OR e.kind = 'click')
GROUP BY 1, 2;

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

INSERT INTO event_counts(campaign_id, kind, machine, n, people)
SELECT campaign_id, kind, machine, count(*), count(DISTINCT contact_id)
FROM events GROUP BY 1, 2, 3;

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

-- the ledger rows `report NAME` lists one by one or by reply: the
-- uncertain ones, and those not delivered with a reply on record (its
-- condition is db/store_int.h STORE_SENDS_REPLIED's).  Partial: a
-- delivered row, the most of a campaign, is in neither.
CREATE INDEX sends_uncertain ON sends(campaign_id, contact_id)
WHERE was_uncertain > 0;
CREATE INDEX sends_replied ON sends(campaign_id, state, bounce_class, last_code,
                                    last_status, last_text)
WHERE state <> 'sent' AND state <> 'sending' AND last_text IS NOT NULL;

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

INSERT INTO event_hours(campaign_id, hour, click, machine, n)
SELECT campaign_id, at_ms / 3600000, kind = 'click', machine, count(*)
FROM events WHERE kind = 'open' OR kind = 'click' GROUP BY 1, 2, 3, 4;

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

INSERT INTO event_links(campaign_id, url, n, people)
SELECT campaign_id, COALESCE(url, ''), count(*), count(DISTINCT contact_id)
FROM events WHERE kind = 'click' AND machine = 0 GROUP BY 1, 2;

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
