-- 002_campaigns: a campaign is a name (its identity: running the same
-- send again resumes it), a template, a list and the data it was
-- started with.  status: draft (rendered by a dry run, never sent),
-- later issues add the sending states.
CREATE TABLE campaigns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    template    TEXT NOT NULL,
    list_id     INTEGER REFERENCES lists(id) ON DELETE SET NULL,
    status      TEXT NOT NULL DEFAULT 'draft',
    created_at  INTEGER NOT NULL,
    started_at  INTEGER,
    finished_at INTEGER
);
