-- kept_counts.sql - the counts the triggers of 012_ledger_counts and
-- 014_report_groups keep, each against a full count of the tables they
-- follow: one row per kept table with the number of rows that differ
-- (0 when they agree).  The events counted are those up to meta
-- 'events_folded' (store_events_fold counts the later ones in batches),
-- of the campaigns still there.  Read by tests/e2e/send_lib.bash after every test
-- that tears its servers down, and by tests/unit/test_report_views.c.
SELECT 'ledger_counts', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, state, class, uncertain, n, opened, clicked, unsubscribed, complained FROM ledger_counts WHERE n != 0
   EXCEPT SELECT campaign_id, state, COALESCE(bounce_class, ''), was_uncertain, count(*), sum(opened), sum(clicked), sum(unsubscribed), sum(complained) FROM sends GROUP BY 1, 2, 3, 4)
  UNION ALL
  SELECT * FROM (SELECT campaign_id, state, COALESCE(bounce_class, ''), was_uncertain, count(*), sum(opened), sum(clicked), sum(unsubscribed), sum(complained) FROM sends GROUP BY 1, 2, 3, 4
   EXCEPT SELECT campaign_id, state, class, uncertain, n, opened, clicked, unsubscribed, complained FROM ledger_counts WHERE n != 0))
UNION ALL
SELECT 'report_groups', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, domain, state, class, coded, retried, uncertain, people, n FROM report_groups WHERE n != 0
   EXCEPT SELECT campaign_id, domain, CASE WHEN state = 'sending' THEN 'queued' ELSE state END, COALESCE(bounce_class, ''), (state = 'failed' OR state = 'cancelled') AND COALESCE(last_code, 0) > 0, attempts > 1, was_uncertain > 0, opened + 2 * clicked + 4 * unsubscribed + 8 * complained, count(*) FROM sends GROUP BY 1, 2, 3, 4, 5, 6, 7, 8)
  UNION ALL
  SELECT * FROM (SELECT campaign_id, domain, CASE WHEN state = 'sending' THEN 'queued' ELSE state END, COALESCE(bounce_class, ''), (state = 'failed' OR state = 'cancelled') AND COALESCE(last_code, 0) > 0, attempts > 1, was_uncertain > 0, opened + 2 * clicked + 4 * unsubscribed + 8 * complained, count(*) FROM sends GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
   EXCEPT SELECT campaign_id, domain, state, class, coded, retried, uncertain, people, n FROM report_groups WHERE n != 0))
UNION ALL
SELECT 'sends_people', count(*) FROM sends s WHERE s.opened IS NOT EXISTS (SELECT 1 FROM events e WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.campaign_id = s.campaign_id AND e.contact_id = s.contact_id AND e.kind = 'open' AND e.machine = 0)
  OR s.clicked IS NOT EXISTS (SELECT 1 FROM events e WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.campaign_id = s.campaign_id AND e.contact_id = s.contact_id AND e.kind = 'click' AND e.machine = 0)
  OR s.unsubscribed IS NOT EXISTS (SELECT 1 FROM events e WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.campaign_id = s.campaign_id AND e.contact_id = s.contact_id AND e.kind = 'unsubscribe')
  OR s.complained IS NOT EXISTS (SELECT 1 FROM events e WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.campaign_id = s.campaign_id AND e.contact_id = s.contact_id AND e.kind = 'complaint' AND e.machine = 0)
UNION ALL
SELECT 'domain_events', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, domain, opens, clicks FROM domain_events WHERE opens != 0 OR clicks != 0 EXCEPT SELECT e.campaign_id, s.domain, sum(e.kind = 'open'), sum(e.kind = 'click') FROM events e JOIN sends s ON s.campaign_id = e.campaign_id AND s.contact_id = e.contact_id WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.machine = 0 AND (e.kind = 'open' OR e.kind = 'click') GROUP BY 1, 2)
  UNION ALL
  SELECT * FROM (SELECT e.campaign_id, s.domain, sum(e.kind = 'open'), sum(e.kind = 'click') FROM events e JOIN sends s ON s.campaign_id = e.campaign_id AND s.contact_id = e.contact_id WHERE e.id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND e.campaign_id IN (SELECT id FROM campaigns) AND e.machine = 0 AND (e.kind = 'open' OR e.kind = 'click') GROUP BY 1, 2 EXCEPT SELECT campaign_id, domain, opens, clicks FROM domain_events WHERE opens != 0 OR clicks != 0))
UNION ALL
SELECT 'sends_domain', count(*) FROM sends s LEFT JOIN contacts c ON c.id = s.contact_id WHERE s.domain IS NOT COALESCE(substr(c.email, instr(c.email, '@') + 1), '')
UNION ALL
SELECT 'event_counts', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, kind, machine, n, people FROM event_counts WHERE n != 0 EXCEPT SELECT campaign_id, kind, machine, count(*), count(DISTINCT contact_id) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) GROUP BY 1, 2, 3)
  UNION ALL
  SELECT * FROM (SELECT campaign_id, kind, machine, count(*), count(DISTINCT contact_id) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) GROUP BY 1, 2, 3 EXCEPT SELECT campaign_id, kind, machine, n, people FROM event_counts WHERE n != 0))
UNION ALL
SELECT 'event_hours', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, hour, click, machine, n FROM event_hours WHERE n != 0 EXCEPT SELECT campaign_id, at_ms / 3600000, kind = 'click', machine, count(*) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) AND (kind = 'open' OR kind = 'click') GROUP BY 1, 2, 3, 4)
  UNION ALL
  SELECT * FROM (SELECT campaign_id, at_ms / 3600000, kind = 'click', machine, count(*) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) AND (kind = 'open' OR kind = 'click') GROUP BY 1, 2, 3, 4 EXCEPT SELECT campaign_id, hour, click, machine, n FROM event_hours WHERE n != 0))
UNION ALL
SELECT 'event_links', count(*) FROM (
  SELECT * FROM (SELECT campaign_id, url, n, people FROM event_links WHERE n != 0 EXCEPT SELECT campaign_id, COALESCE(url, ''), count(*), count(DISTINCT contact_id) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) AND kind = 'click' AND machine = 0 GROUP BY 1, 2)
  UNION ALL
  SELECT * FROM (SELECT campaign_id, COALESCE(url, ''), count(*), count(DISTINCT contact_id) FROM events WHERE id <= (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'events_folded') AND campaign_id IN (SELECT id FROM campaigns) AND kind = 'click' AND machine = 0 GROUP BY 1, 2 EXCEPT SELECT campaign_id, url, n, people FROM event_links WHERE n != 0));
