-- 011_report_cover: the indexes `campaign report` reads cover what it
-- asks, so that its aggregates walk index entries only, never a look-up
-- of each row.  events_campaign gains at_ms: each person's first open,
-- and the opens and clicks by hour and by day.  sends_state gains
-- bounce_class and was_uncertain: the ledger's counts by state, class and
-- uncertainty.  (sends_state keeps its first three columns, which the
-- queue's claims use.)
DROP INDEX events_campaign;
CREATE INDEX events_campaign ON events(campaign_id, kind, machine, contact_id, at_ms);
DROP INDEX sends_state;
CREATE INDEX sends_state ON sends(campaign_id, state, next_attempt_at, bounce_class, was_uncertain);
