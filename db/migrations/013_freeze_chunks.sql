-- 013_freeze_chunks: a campaign's recipients frozen in chunks while it
-- sends, so that its first message goes out at once whatever the size of
-- its list (issue 17; engine/queue.h says how the run interleaves them).
--
-- The frozen set is the list's members at the moment the campaign
-- started, however long the freeze takes: each list has a generation,
-- gen, and each membership the list's generation when it was added.  The
-- transaction that starts a campaign records the list's generation in
-- freeze_gen and moves the list to the next one, so a member added later
-- (an import landing mid-freeze) has a greater gen and is never frozen.
-- freeze_after is where the freeze has got to in contact order: the
-- members with a greater contact id are still to freeze; NULL when the
-- freeze is complete (and for every campaign before this migration,
-- which froze in one statement).  recipients holds the members counted
-- in the starting transaction until the freeze completes, then the
-- ledger's rows.
ALTER TABLE lists ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memberships ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN freeze_gen INTEGER;
ALTER TABLE campaigns ADD COLUMN freeze_after INTEGER;
