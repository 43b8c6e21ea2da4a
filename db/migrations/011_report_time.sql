-- 011_report_time: events_campaign gains at_ms, so that what `campaign
-- report` reads of one campaign's opens and clicks - the first open of
-- each person, the opens and clicks by hour and by day - is answered from
-- the index alone, without a look-up of each event's row.
DROP INDEX events_campaign;
CREATE INDEX events_campaign ON events(campaign_id, kind, machine, contact_id, at_ms);
