-- Drafts (稿件), merging with provenance (合稿), immutable revisions, solicitations (约稿) and the
-- reporting guide's key points (报送要点), near-duplicate fingerprints (issue 5).
-- PostgreSQL 12 compatible (KingbaseES V8R6).

-- A draft is the city office's own text, made from one or more reports. It carries the highest
-- classification and the union of the label categories of its sources, so nobody reads through a
-- draft what they could not read in its sources. Never hard-deleted: withdrawn = archived_at set,
-- history kept.
CREATE TABLE drafts (
    id               bigserial PRIMARY KEY,
    title            text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    body_html        text NOT NULL,
    body_text        text NOT NULL,
    state            text NOT NULL DEFAULT 'editing' CHECK (state IN ('editing', 'adopted', 'withdrawn')),
    classification   smallint NOT NULL DEFAULT 0 CHECK (classification BETWEEN 0 AND 3),
    label_categories text[] NOT NULL DEFAULT '{}' CHECK (array_position(label_categories, NULL) IS NULL),
    revision         integer NOT NULL DEFAULT 1 CHECK (revision >= 1), -- the current revision
    version          bigint NOT NULL DEFAULT 1 CHECK (version >= 1),   -- optimistic concurrency
    created_by       bigint REFERENCES users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    adopted_at       timestamptz,
    archived_at      timestamptz,
    CHECK ((state = 'withdrawn') = (archived_at IS NOT NULL))
);
CREATE INDEX drafts_updated ON drafts (updated_at DESC, id DESC);

-- Revisions are immutable: every save (and every restore) appends one.
CREATE TABLE draft_revisions (
    draft_id      bigint NOT NULL REFERENCES drafts (id),
    revision      integer NOT NULL CHECK (revision >= 1),
    title         text NOT NULL,
    body_html     text NOT NULL,
    body_text     text NOT NULL,
    author_id     bigint REFERENCES users (id),
    author_name   text NOT NULL DEFAULT '',
    note          text NOT NULL DEFAULT '' CHECK (char_length(note) <= 500),
    restored_from integer, -- the revision this one restores, if it is a restore
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, revision)
);

-- The reports a draft was made from, in the order the editor chose.
CREATE TABLE draft_sources (
    draft_id      bigint NOT NULL REFERENCES drafts (id),
    submission_id bigint NOT NULL REFERENCES submissions (id),
    position      integer NOT NULL,
    added_by      bigint REFERENCES users (id),
    added_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, submission_id)
);
CREATE INDEX draft_sources_submission ON draft_sources (submission_id);

-- Provenance: the spans of a revision's text taken from each source, as rune offsets
-- [dst_start, dst_end) in the revision's body_text and [src_start, src_end) in the source's.
CREATE TABLE draft_spans (
    draft_id      bigint NOT NULL,
    revision      integer NOT NULL,
    submission_id bigint NOT NULL REFERENCES submissions (id),
    dst_start     integer NOT NULL CHECK (dst_start >= 0),
    dst_end       integer NOT NULL,
    src_start     integer NOT NULL CHECK (src_start >= 0),
    src_end       integer NOT NULL,
    CHECK (dst_end > dst_start AND src_end > src_start),
    FOREIGN KEY (draft_id, revision) REFERENCES draft_revisions (draft_id, revision)
);
CREATE INDEX draft_spans_revision ON draft_spans (draft_id, revision);

-- Credit given when the draft was adopted: one row per contributing report, with the workflow
-- event (adopt 采用 or merge 综合采用) that recorded it on the report.
CREATE TABLE draft_credits (
    draft_id      bigint NOT NULL REFERENCES drafts (id),
    submission_id bigint NOT NULL REFERENCES submissions (id),
    unit_id       bigint NOT NULL REFERENCES units (id),
    kind          text NOT NULL CHECK (kind IN ('adopted', 'merged')),
    span_runes    integer NOT NULL CHECK (span_runes >= 0), -- how much of the adopted text came from it
    event_id      bigint REFERENCES workflow_events (id),
    credited_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (draft_id, submission_id)
);
CREATE UNIQUE INDEX draft_credits_submission ON draft_credits (submission_id); -- a report is credited once

CREATE FUNCTION draft_history_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'draft revisions, spans and credits are never changed or deleted';
END $$;
CREATE TRIGGER draft_revisions_immutable BEFORE UPDATE OR DELETE ON draft_revisions
    FOR EACH ROW EXECUTE PROCEDURE draft_history_immutable();
CREATE TRIGGER draft_spans_immutable BEFORE UPDATE OR DELETE ON draft_spans
    FOR EACH ROW EXECUTE PROCEDURE draft_history_immutable();
CREATE TRIGGER draft_credits_immutable BEFORE UPDATE OR DELETE ON draft_credits
    FOR EACH ROW EXECUTE PROCEDURE draft_history_immutable();

-- Row-level security, second line: drafts are office work, visible to office roles (units = '*')
-- whose clearance and label categories dominate the draft's label.
CREATE FUNCTION infowork_rls_office_visible(classification smallint, label_categories text[]) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('infowork.units', true), '') = '*'
       AND classification <= COALESCE(NULLIF(current_setting('infowork.clearance', true), '')::int, -1)
       AND label_categories <@ COALESCE(NULLIF(current_setting('infowork.categories', true), '')::text[], '{}'::text[])
$$;
ALTER TABLE drafts ENABLE ROW LEVEL SECURITY;
CREATE POLICY drafts_bypass ON drafts USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY drafts_select ON drafts FOR SELECT USING (infowork_rls_office_visible(classification, label_categories));
CREATE POLICY drafts_insert ON drafts FOR INSERT WITH CHECK (infowork_rls_office_visible(classification, label_categories));
CREATE POLICY drafts_update ON drafts FOR UPDATE USING (infowork_rls_office_visible(classification, label_categories))
    WITH CHECK (infowork_rls_office_visible(classification, label_categories));

-- Solicitations (约稿: topic, target units, deadline) and the reporting guide's key points
-- (报送要点: open to every unit, usually without a deadline). Never hard-deleted.
CREATE TABLE solicitations (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('solicitation', 'key_point')),
    topic       text NOT NULL CHECK (char_length(topic) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CHECK (char_length(description) <= 4000),
    deadline    timestamptz,
    created_by  bigint REFERENCES users (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz,
    CHECK (kind = 'key_point' OR deadline IS NOT NULL)
);

-- One row per target unit of a solicitation: pending until answered; on_time or late when a
-- report answers it; missing once the deadline passed without an answer (a late answer after
-- that turns it into late). Scoring reads these rows.
CREATE TABLE solicitation_targets (
    solicitation_id bigint NOT NULL REFERENCES solicitations (id),
    unit_id         bigint NOT NULL REFERENCES units (id),
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'on_time', 'late', 'missing')),
    submission_id   bigint REFERENCES submissions (id), -- the first answer
    answered_at     timestamptz,
    recorded_at     timestamptz NOT NULL DEFAULT now(), -- when status last changed
    PRIMARY KEY (solicitation_id, unit_id)
);
CREATE INDEX solicitation_targets_unit ON solicitation_targets (unit_id, status);

-- The solicitation or key point a report answers (at most one).
ALTER TABLE submissions ADD COLUMN solicitation_id bigint REFERENCES solicitations (id);
CREATE INDEX submissions_solicitation ON submissions (solicitation_id) WHERE solicitation_id IS NOT NULL;

-- Near-duplicate fingerprints (package dedup): a bottom-k MinHash sketch of the character
-- shingles of the normalized title and body, stored so that candidates are compared without
-- re-reading and re-shingling their text.
CREATE TABLE submission_fingerprints (
    submission_id bigint PRIMARY KEY REFERENCES submissions (id),
    text_md5      text NOT NULL, -- md5(title || newline || body_text) the sketch was computed from
    sketch        bigint[] NOT NULL,
    shingles      integer NOT NULL CHECK (shingles >= 0), -- distinct shingles in the text
    computed_at   timestamptz NOT NULL DEFAULT now()
);
