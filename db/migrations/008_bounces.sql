-- 008_bounces: what comes back by mail (engine/ingest.c): bounces,
-- complaints, auto-replies and mailed unsubscribes, in the one events
-- table that `campaign serve` writes too.
--
-- events gains the kinds bounce (class hard, soft or blocked), delayed
-- (a DSN's "Action: delayed": a warning, not a bounce), complaint (class:
-- the ARF feedback type) and auto_reply; an unsubscribe by mail is kind
-- unsubscribe with class 'mail'.  status, code and detail hold the
-- enhanced status, the reply code and the diagnostic.  SQLite cannot
-- alter a CHECK: the table is rebuilt, its rows and ids kept.
--
-- inbound: one row per message read, keyed by the SHA-256 of its
-- identity (its Message-ID, else its body), so the same message ingested
-- twice - a pipe and a fetch, a retried delivery - counts once.
--
-- campaigns.breaker says why the circuit breaker paused a campaign (NULL
-- when it did not); breaker_sent, breaker_hard and breaker_complaints are
-- the counts at the last resume, from which the rates are measured again.
CREATE TABLE events_new (
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

INSERT INTO events_new(id, campaign_id, contact_id, kind, url, at_ms,
                       machine, machine_reason, ua_class, ip)
SELECT id, campaign_id, contact_id, kind, url, at_ms, machine,
       machine_reason, ua_class, ip
FROM events;

DROP TABLE events;
ALTER TABLE events_new RENAME TO events;
CREATE INDEX events_contact ON events(contact_id, campaign_id, kind, at_ms);

CREATE TABLE inbound (
    key         BLOB PRIMARY KEY,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    campaign_id INTEGER,
    contact_id  INTEGER
) WITHOUT ROWID;

ALTER TABLE campaigns ADD COLUMN breaker TEXT;
ALTER TABLE campaigns ADD COLUMN breaker_sent INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN breaker_hard INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN breaker_complaints INTEGER NOT NULL DEFAULT 0;
