-- 010_report: what `campaign report` reads per campaign (engine/report.h,
-- db/store_report.c).  events_contact leads with the contact, for the
-- questions about one person; the report asks about one campaign: the
-- people who opened, clicked, complained or unsubscribed, people's apart
-- from machines'.  With this index each of those counts walks only that
-- campaign's events of that kind, in contact order.
CREATE INDEX events_campaign ON events(campaign_id, kind, machine, contact_id);
