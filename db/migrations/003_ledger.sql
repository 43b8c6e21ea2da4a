-- 003_ledger: the per-recipient send ledger (RELIABILITY.md, The ledger).
--
-- Every recipient of a campaign is in exactly one state:
--   queued     frozen into the campaign, not tried yet
--   sending    claimed by a running send: durable before MAIL FROM
--   sent       the relay answered 250 to the final dot
--   deferred   4xx; tried again at next_attempt_at
--   bounced    5xx (bounce_class hard, soft or blocked)
--   failed     the message could not be built (missing field, ...)
--   skipped    suppressed after the freeze
--   expired    4xx persisting past the maximum age
--   uncertain  the link died after the dot, before the reply: retried once
--              with the same Message-ID, and listed by the report
-- A contact forgotten by `contacts forget` takes its rows with it.
ALTER TABLE campaigns ADD COLUMN data TEXT;
ALTER TABLE campaigns ADD COLUMN frozen_at INTEGER;
ALTER TABLE campaigns ADD COLUMN control TEXT;
ALTER TABLE campaigns ADD COLUMN recipients INTEGER NOT NULL DEFAULT 0;

CREATE TABLE sends (
    campaign_id     INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    contact_id      INTEGER NOT NULL REFERENCES contacts(id) ON DELETE CASCADE,
    state           TEXT NOT NULL DEFAULT 'queued'
                    CHECK (state IN ('queued', 'sending', 'sent', 'deferred',
                                     'bounced', 'failed', 'skipped',
                                     'expired', 'uncertain')),
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
CREATE INDEX sends_state ON sends(campaign_id, state, next_attempt_at);
