-- 009_schedule: when campaigns go (engine/schedule.h, cmd/cmd_cron.c).
--
-- campaigns.scheduled_at: the instant `send --at` set (status
-- 'scheduled' until `run-due` starts it; kept afterwards, for the
-- record).  campaigns.sender_domain: the domain of the campaign's From,
-- whose daily cap and warm-up ([limits] daily_cap, warmup) the campaign's
-- messages count against.
--
-- daily_sent: the messages handed to a relay per sending domain and
-- local calendar day (days since 1970-01-01 in [limits] timezone), which
-- the daily cap and the warm-up allow.
ALTER TABLE campaigns ADD COLUMN scheduled_at INTEGER;
ALTER TABLE campaigns ADD COLUMN sender_domain TEXT;
CREATE TABLE daily_sent (
    domain  TEXT NOT NULL,
    day     INTEGER NOT NULL,
    sent    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (domain, day)
) WITHOUT ROWID;
