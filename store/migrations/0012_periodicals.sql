-- Periodicals (刊物), issues (期), sign-off (签发), outputs, distribution, archive and leader
-- endorsements (领导批示) with follow-up tasks (issue 6). PostgreSQL 12 compatible (KingbaseES V8R6).
-- Nothing here is ever hard-deleted: items leave an issue by removed_at, issues end as 'void' or
-- 'archived', signed revisions are write-once (trigger below).

CREATE TABLE periodicals (
    id             bigserial PRIMARY KEY,
    code           text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
    name           text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 50),
    -- 'regular' or 'special' (专刊); a special issue series may name the regular one it belongs to.
    kind           text NOT NULL DEFAULT 'regular' CHECK (kind IN ('regular', 'special')),
    parent_id      bigint REFERENCES periodicals (id),
    -- Adopting level used in scoring (see package periodical: Levels).
    level          text NOT NULL DEFAULT 'city' CHECK (level IN ('office', 'city', 'province', 'central')),
    sections       text[] NOT NULL DEFAULT '{}' CHECK (array_position(sections, NULL) IS NULL),
    frequency      text NOT NULL DEFAULT 'irregular' CHECK (frequency IN ('daily', 'weekly', 'monthly', 'irregular')),
    classification smallint NOT NULL DEFAULT 1 CHECK (classification BETWEEN 0 AND 3),
    -- Masthead (版头): the issuing organ under the red title; 版记: the footer note (印发 line).
    masthead_org   text NOT NULL DEFAULT '',
    footer_note    text NOT NULL DEFAULT '',
    distribution   text[] NOT NULL DEFAULT '{}' CHECK (array_position(distribution, NULL) IS NULL),
    -- The designated signer (签发人): items he or she may not read cannot be compiled.
    signer_id      bigint REFERENCES users (id),
    -- Running total (总第N期) across years; bumped under the row lock when an issue is created.
    last_total     integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    archived_at    timestamptz
);

-- Year numbers (2026年第N期), one row per periodical and year, bumped with INSERT … ON CONFLICT.
CREATE TABLE periodical_year_counters (
    periodical_id bigint NOT NULL REFERENCES periodicals (id),
    year          integer NOT NULL CHECK (year BETWEEN 1900 AND 9999),
    last_number   integer NOT NULL,
    PRIMARY KEY (periodical_id, year)
);

CREATE TABLE periodical_issues (
    id             bigserial PRIMARY KEY,
    periodical_id  bigint NOT NULL REFERENCES periodicals (id),
    year           integer NOT NULL,
    year_number    integer NOT NULL CHECK (year_number >= 1),
    total_number   integer NOT NULL CHECK (total_number >= 1),
    title          text NOT NULL DEFAULT '',
    issue_date     date NOT NULL,
    classification smallint NOT NULL CHECK (classification BETWEEN 0 AND 3),
    -- draft → signed → sent → archived; signed/sent → correcting → signed (new revision); draft → void.
    state          text NOT NULL DEFAULT 'draft' CHECK (state IN ('draft', 'signed', 'sent', 'archived', 'correcting', 'void')),
    revision       integer NOT NULL DEFAULT 1,
    -- This issue's order of sections (栏目), when the editor changed it; else the periodical's.
    section_order  text[] NOT NULL DEFAULT '{}' CHECK (array_position(section_order, NULL) IS NULL),
    unit_id        bigint REFERENCES units (id),
    created_by     bigint REFERENCES users (id),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    signed_at      timestamptz,
    sent_at        timestamptz,
    archived_at    timestamptz,
    version        bigint NOT NULL DEFAULT 1,
    CONSTRAINT periodical_issues_year_number UNIQUE (periodical_id, year, year_number),
    CONSTRAINT periodical_issues_total_number UNIQUE (periodical_id, total_number)
);
CREATE INDEX periodical_issues_list ON periodical_issues (periodical_id, year DESC, year_number DESC);

-- Items of an issue: a record found by search, named by (kind, id) so that a draft (稿件) can be
-- an item as well as a submission.
CREATE TABLE periodical_issue_items (
    id          bigserial PRIMARY KEY,
    issue_id    bigint NOT NULL REFERENCES periodical_issues (id),
    item_kind   text NOT NULL CHECK (item_kind IN ('submission', 'draft')),
    item_id     bigint NOT NULL,
    section     text NOT NULL DEFAULT '',
    position    integer NOT NULL,
    editor_note text NOT NULL DEFAULT '' CHECK (char_length(editor_note) <= 2000),
    added_by    bigint REFERENCES users (id),
    added_at    timestamptz NOT NULL DEFAULT now(),
    removed_at  timestamptz,
    removed_by  bigint REFERENCES users (id)
);
CREATE UNIQUE INDEX periodical_issue_items_once ON periodical_issue_items (issue_id, item_kind, item_id) WHERE removed_at IS NULL;
CREATE INDEX periodical_issue_items_ref ON periodical_issue_items (item_kind, item_id);

-- Signed revisions: the frozen snapshot (canonical JSON) with its SHA-256, and the outputs
-- rendered once at sign-off with theirs. Write-once.
CREATE TABLE periodical_issue_revisions (
    id            bigserial PRIMARY KEY,
    issue_id      bigint NOT NULL REFERENCES periodical_issues (id),
    revision      integer NOT NULL,
    reason        text NOT NULL DEFAULT '',
    snapshot      text NOT NULL,
    content_hash  text NOT NULL,
    signed_by     bigint NOT NULL REFERENCES users (id),
    signed_at     timestamptz NOT NULL DEFAULT now(),
    html          bytea NOT NULL,
    html_sha256   text NOT NULL,
    pdf           bytea NOT NULL,
    pdf_sha256    text NOT NULL,
    docx          bytea NOT NULL,
    docx_sha256   text NOT NULL,
    CONSTRAINT periodical_issue_revisions_once UNIQUE (issue_id, revision)
);

CREATE FUNCTION periodical_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'periodical: % rows are immutable', TG_TABLE_NAME USING ERRCODE = 'check_violation';
END;
$$;
CREATE TRIGGER periodical_issue_revisions_immutable BEFORE UPDATE OR DELETE ON periodical_issue_revisions
    FOR EACH ROW EXECUTE PROCEDURE periodical_immutable();

-- Corrections requested on a signed issue (the reason opens the next revision).
CREATE TABLE periodical_issue_corrections (
    id         bigserial PRIMARY KEY,
    issue_id   bigint NOT NULL REFERENCES periodical_issues (id),
    revision   integer NOT NULL,
    reason     text NOT NULL CHECK (char_length(reason) BETWEEN 1 AND 1000),
    created_by bigint REFERENCES users (id),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Sending to each recipient of the distribution list.
CREATE TABLE periodical_distributions (
    id         bigserial PRIMARY KEY,
    issue_id   bigint NOT NULL REFERENCES periodical_issues (id),
    revision   integer NOT NULL,
    recipient  text NOT NULL CHECK (char_length(recipient) BETWEEN 1 AND 100),
    channel    text NOT NULL DEFAULT 'print' CHECK (channel IN ('print', 'electronic', 'confidential_line')),
    sent_by    bigint REFERENCES users (id),
    sent_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT periodical_distributions_once UNIQUE (issue_id, revision, recipient)
);

-- The compile basket (组刊篮) follows the editor across pages and replicas: server side.
CREATE TABLE periodical_baskets (
    user_id   bigint NOT NULL REFERENCES users (id),
    item_kind text NOT NULL CHECK (item_kind IN ('submission', 'draft')),
    item_id   bigint NOT NULL,
    added_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (user_id, item_kind, item_id)
);

-- Leader endorsements (领导批示) on an item of an issue.
CREATE TABLE endorsements (
    id            bigserial PRIMARY KEY,
    issue_item_id bigint NOT NULL REFERENCES periodical_issue_items (id),
    item_kind     text NOT NULL,
    item_id       bigint NOT NULL,
    leader_name   text NOT NULL CHECK (char_length(leader_name) BETWEEN 1 AND 50),
    leader_level  text NOT NULL CHECK (leader_level IN ('central', 'province', 'city', 'city_office', 'county')),
    text          text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 5000),
    endorsed_on   date NOT NULL,
    scan_name     text NOT NULL DEFAULT '',
    scan_type     text NOT NULL DEFAULT '',
    scan          bytea,
    scan_sha256   text NOT NULL DEFAULT '',
    state         text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'closed')),
    review        text NOT NULL DEFAULT '',
    created_by    bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    closed_by     bigint REFERENCES users (id),
    closed_at     timestamptz
);
CREATE INDEX endorsements_item ON endorsements (item_kind, item_id);

-- Follow-up tasks (督办) for the responsible units: feedback, then a closing review.
CREATE TABLE endorsement_tasks (
    id             bigserial PRIMARY KEY,
    endorsement_id bigint NOT NULL REFERENCES endorsements (id),
    unit_id        bigint NOT NULL REFERENCES units (id),
    deadline       date NOT NULL,
    state          text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'answered', 'closed')),
    feedback       text NOT NULL DEFAULT '',
    feedback_by    bigint REFERENCES users (id),
    feedback_at    timestamptz,
    review         text NOT NULL DEFAULT '',
    reviewed_by    bigint REFERENCES users (id),
    reviewed_at    timestamptz,
    CONSTRAINT endorsement_tasks_once UNIQUE (endorsement_id, unit_id)
);
CREATE INDEX endorsement_tasks_unit ON endorsement_tasks (unit_id, state);
