-- 012_ledger_counts: each campaign's ledger counted as it changes, so
-- that what a send prints at its end, `campaign report` and `campaigns`
-- read a few rows, never every recipient of a campaign (issue 17).
--
-- One row per campaign, state, bounce class ('' when none) and
-- was_uncertain (0, 1, 2), with the number of ledger rows so.  The
-- triggers below keep it in the same transaction as the change to sends:
-- an insert counts the new row, a delete uncounts the old one, an update
-- of what is counted moves the row from its old count to its new one.
-- A migration that rebuilds sends must rebuild these counts too (as this
-- one builds them from the ledger as it is).
CREATE TABLE ledger_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    state       TEXT NOT NULL,
    class       TEXT NOT NULL,
    uncertain   INTEGER NOT NULL,
    n           INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, state, class, uncertain)
) WITHOUT ROWID;

INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n)
SELECT campaign_id, state, COALESCE(bounce_class, ''), was_uncertain, count(*)
FROM sends GROUP BY 1, 2, 3, 4;

CREATE TRIGGER sends_count_insert AFTER INSERT ON sends BEGIN
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER sends_count_delete AFTER DELETE ON sends BEGIN
    UPDATE ledger_counts SET n = n - 1
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
END;

CREATE TRIGGER sends_count_update
AFTER UPDATE OF campaign_id, state, bounce_class, was_uncertain ON sends
WHEN old.campaign_id IS NOT new.campaign_id OR old.state IS NOT new.state
  OR old.bounce_class IS NOT new.bounce_class
  OR old.was_uncertain IS NOT new.was_uncertain
BEGIN
    UPDATE ledger_counts SET n = n - 1
    WHERE campaign_id = old.campaign_id AND state = old.state
      AND class = COALESCE(old.bounce_class, '')
      AND uncertain = old.was_uncertain;
    INSERT INTO ledger_counts(campaign_id, state, class, uncertain, n)
    VALUES (new.campaign_id, new.state, COALESCE(new.bounce_class, ''),
            new.was_uncertain, 1)
    ON CONFLICT(campaign_id, state, class, uncertain) DO UPDATE SET n = n + 1;
END;
