-- Zero-downtime reindex (infowork reindex, docs/search.md "Reindex and reconciliation").
--
-- search_indexes records the indices of an index set (alias = the name searches go to, e.g.
-- 'submissions' or '<prefix>submissions'; for the embedded engine 'embedded:<index dir>').
-- At most one index per alias is 'building': while it exists, the indexer writes every change to
-- it as well as to the serving index (dual write), reading this table in each batch after it has
-- loaded the rows, so a change committed after the building row is visible cannot miss it.
CREATE TABLE search_indexes (
    alias      text NOT NULL,
    name       text NOT NULL,
    state      text NOT NULL CHECK (state IN ('building', 'live', 'retired')),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (alias, name)
);
CREATE UNIQUE INDEX search_indexes_one_building ON search_indexes (alias) WHERE state = 'building';

-- One row per reindex run; an unfinished run ('copying') is resumed from last_id by the next
-- `infowork reindex`. started_at is T0, the database clock when the building index was
-- registered: the catch-up passes re-read rows with updated_at >= T0 - margin.
CREATE TABLE reindex_runs (
    id          bigserial PRIMARY KEY,
    alias       text NOT NULL,
    index_name  text NOT NULL,
    state       text NOT NULL DEFAULT 'copying' CHECK (state IN ('copying', 'done', 'aborted')),
    started_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_id     bigint NOT NULL DEFAULT 0,
    copied      bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz,
    detail      text NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX reindex_runs_one_active ON reindex_runs (alias) WHERE state = 'copying';

-- Catch-up passes select recently changed rows.
CREATE INDEX submissions_updated_at ON submissions (updated_at);
