-- Statistics, scoring ledger, saved searches, subscriptions, exports (issue 7). PostgreSQL 12
-- compatible (KingbaseES V8R6). See docs/statistics.md.

-- Scoring rules (考核办法) are data, one rule set per year, versioned and never changed in place:
-- an administrator's edit inserts the next version and moves the active flag to it.
CREATE TABLE scoring_rule_sets (
    id         bigserial PRIMARY KEY,
    year       integer NOT NULL CHECK (year BETWEEN 2000 AND 2100),
    version    integer NOT NULL CHECK (version >= 1),
    rules      jsonb NOT NULL,
    note       text NOT NULL DEFAULT '',
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    active     boolean NOT NULL DEFAULT false,
    UNIQUE (year, version)
);
CREATE UNIQUE INDEX scoring_rule_sets_active ON scoring_rule_sets (year) WHERE active;

CREATE FUNCTION scoring_rule_sets_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'scoring rule sets are never deleted';
    END IF;
    IF NEW.year <> OLD.year OR NEW.version <> OLD.version OR NEW.rules <> OLD.rules
       OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'scoring rule sets are never changed in place: save a new version';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER scoring_rule_sets_immutable BEFORE UPDATE OR DELETE ON scoring_rule_sets
    FOR EACH ROW EXECUTE PROCEDURE scoring_rule_sets_immutable();

-- Scoring events: the facts (an adoption at a level, a leader's endorsement, a late or missed
-- solicitation, a month's quota), independent of any rule. source is the natural key of the fact
-- in the system that produced it (e.g. 'workflow_event:42'), so recording is idempotent. A fact
-- the source later corrects (a missed solicitation answered late) is voided, never deleted, and
-- its year rescored.
CREATE TABLE scoring_events (
    id            bigserial PRIMARY KEY,
    kind          text NOT NULL CHECK (kind IN ('adoption', 'endorsement', 'solicitation_late',
                                                'solicitation_missed', 'quota')),
    source        text NOT NULL,
    unit_id       bigint NOT NULL REFERENCES units (id),
    submission_id bigint REFERENCES submissions (id),
    occurred_at   timestamptz NOT NULL,
    attrs         jsonb NOT NULL DEFAULT '{}',
    recorded_by   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    voided_at     timestamptz
);
CREATE UNIQUE INDEX scoring_events_source ON scoring_events (source) WHERE voided_at IS NULL;
CREATE INDEX scoring_events_unit ON scoring_events (unit_id, occurred_at);
CREATE INDEX scoring_events_time ON scoring_events (occurred_at, id);

-- The ledger: one row per scored event and rule version. Rows are never updated except to mark
-- them superseded when a rule change recomputes the year; current totals are the sum of the rows
-- not superseded, and the superseded ones stay as history.
CREATE TABLE scoring_ledger (
    id            bigserial PRIMARY KEY,
    event_id      bigint NOT NULL REFERENCES scoring_events (id),
    unit_id       bigint NOT NULL REFERENCES units (id),
    rule_set_id   bigint NOT NULL REFERENCES scoring_rule_sets (id),
    occurred_at   timestamptz NOT NULL,
    rule          text NOT NULL,
    points        numeric(10, 2) NOT NULL,
    explanation   text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    superseded_at timestamptz
);
CREATE INDEX scoring_ledger_current ON scoring_ledger (unit_id, occurred_at) WHERE superseded_at IS NULL;
CREATE INDEX scoring_ledger_event ON scoring_ledger (event_id);

CREATE FUNCTION scoring_ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'scoring ledger rows are never deleted';
    END IF;
    IF OLD.superseded_at IS NOT NULL OR NEW.superseded_at IS NULL
       OR (NEW.event_id, NEW.unit_id, NEW.rule_set_id, NEW.occurred_at, NEW.rule, NEW.points, NEW.explanation, NEW.created_at)
          IS DISTINCT FROM (OLD.event_id, OLD.unit_id, OLD.rule_set_id, OLD.occurred_at, OLD.rule, OLD.points, OLD.explanation, OLD.created_at) THEN
        RAISE EXCEPTION 'scoring ledger rows are append-only: only superseded_at may be set, once';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER scoring_ledger_append_only BEFORE UPDATE OR DELETE ON scoring_ledger
    FOR EACH ROW EXECUTE PROCEDURE scoring_ledger_append_only();

-- League tables (通报): computed for a period, frozen when published. A published table keeps its
-- rows as they were (snapshot with its SHA-256), whatever later rule changes do to the ledger.
CREATE TABLE league_tables (
    id           bigserial PRIMARY KEY,
    period_kind  text NOT NULL CHECK (period_kind IN ('month', 'quarter', 'year')),
    period       text NOT NULL, -- 2026-03, 2026-Q1, 2026
    title        text NOT NULL,
    rule_set_id  bigint NOT NULL REFERENCES scoring_rule_sets (id),
    rows         jsonb NOT NULL,
    sha256       text NOT NULL,
    published_by text NOT NULL,
    published_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (period_kind, period)
);
CREATE FUNCTION league_tables_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'published league tables are frozen';
END;
$$;
CREATE TRIGGER league_tables_frozen BEFORE UPDATE OR DELETE ON league_tables
    FOR EACH ROW EXECUTE PROCEDURE league_tables_frozen();

-- Saved searches: a search URL query (the same parameters as /search), private to its owner or
-- shared with every user (each still sees only what their own clearance allows).
CREATE TABLE saved_searches (
    id          bigserial PRIMARY KEY,
    owner_id    bigint NOT NULL REFERENCES users (id),
    name        text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 60),
    query       text NOT NULL CHECK (char_length(query) <= 2000),
    shared      boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz
);
CREATE INDEX saved_searches_owner ON saved_searches (owner_id) WHERE archived_at IS NULL;

-- Subscriptions: a user is notified when a newly indexed record matches a saved search. Checked
-- by the indexer as batches commit (package savedsearch), never by re-running queries on a timer.
CREATE TABLE subscriptions (
    id              bigserial PRIMARY KEY,
    saved_search_id bigint NOT NULL REFERENCES saved_searches (id),
    user_id         bigint NOT NULL REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    cancelled_at    timestamptz
);
CREATE UNIQUE INDEX subscriptions_active ON subscriptions (saved_search_id, user_id) WHERE cancelled_at IS NULL;

-- One row per (subscription, record): a record re-indexed after an edit notifies only once.
CREATE TABLE subscription_hits (
    subscription_id bigint NOT NULL REFERENCES subscriptions (id),
    submission_id   bigint NOT NULL REFERENCES submissions (id),
    notified_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (subscription_id, submission_id)
);

-- Export jobs: search results or statistics written to CSV or XLSX in the background. progress
-- counts the rows written; label is the highest classification contained.
CREATE TABLE export_jobs (
    id          bigserial PRIMARY KEY,
    user_id     bigint NOT NULL REFERENCES users (id),
    kind        text NOT NULL CHECK (kind IN ('search', 'statistics')),
    format      text NOT NULL CHECK (format IN ('csv', 'xlsx')),
    params      text NOT NULL DEFAULT '',
    state       text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    total       bigint NOT NULL DEFAULT 0,
    progress    bigint NOT NULL DEFAULT 0,
    label       smallint,
    file_path   text NOT NULL DEFAULT '',
    file_size   bigint NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz
);
CREATE INDEX export_jobs_user ON export_jobs (user_id, id DESC);
