-- 004_events: what comes back through the links of the messages sent
-- (`campaign serve`, engine/serve.c), and the template a campaign froze.
--
-- template_src holds the campaign's template files as they were when the
-- campaign started (a JSON object, engine/tmpl.h): every later run and
-- the web view render from it, never from today's files.
--
-- events: one row per hit.  kind is open (the pixel), click, unsubscribe
-- (the one-click POST or the page's button) or view (the web view); url
-- is the link of a click; at_ms the time of the hit in milliseconds since
-- the epoch; machine = 1 marks a hit made by a machine (a mail-privacy
-- proxy, a link scanner: engine/machine.h) with machine_reason saying
-- why; ua_class is the user agent's class; ip stays NULL unless
-- [serve] store_ip = on.  A contact forgotten takes its events with it.
-- The CHECK is written with OR: SQLite 3.40 runs "IN (constants)" through
-- a temporary b-tree for every row inserted.  One index, contact first:
-- it serves the cascade when a contact is forgotten and the server's
-- look-ups (a contact's clicks in a campaign); each more index costs the
-- server's writer about 3 us per hit (scripts/bench/serve).
ALTER TABLE campaigns ADD COLUMN template_src TEXT;

CREATE TABLE events (
    id             INTEGER PRIMARY KEY,
    campaign_id    INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id     INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
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
CREATE INDEX events_contact ON events(contact_id, campaign_id, kind, at_ms);
