-- Lotus Notes migration (issue 8, package notes). PostgreSQL 12 compatible (KingbaseES V8R6).
--
-- Every imported Notes document keeps its identity (UNID), its version (the sequence number of
-- its OID), every item exactly as exported (items, jsonb: name, type, flags, values in order) and
-- the SHA-256 of its original DXL, whose bytes live in the content-addressed blob store like any
-- attachment. The mapped infowork record is a submissions row (source 'notes', source_ref = UNID),
-- so search, access control (readers, RLS) and the outbox treat it like any other record.

CREATE TABLE notes_documents (
    unid               text PRIMARY KEY CHECK (unid ~ '^[0-9A-F]{32}$'),
    -- the export had no noteinfo: identity is the SHA-256 of the document's DXL (first 32 hex)
    unid_synthetic     boolean NOT NULL DEFAULT false,
    replica_id         text NOT NULL DEFAULT '',
    database_path      text NOT NULL DEFAULT '',
    form               text NOT NULL DEFAULT '',
    note_class         text NOT NULL DEFAULT 'document',
    sequence           bigint NOT NULL CHECK (sequence >= 0),
    -- $Modified / noteinfo modified of the version stored; orders DAS updates, which carry no
    -- sequence number.
    modified           text NOT NULL DEFAULT '',
    parent_unid        text,         -- response documents ($REF)
    conflict           boolean NOT NULL DEFAULT false, -- replication/save conflict ($Conflict)
    review_needed      boolean NOT NULL DEFAULT false,
    items              jsonb NOT NULL,   -- canonical item set (see notes.Document)
    noteinfo           jsonb NOT NULL,   -- noteinfo, updatedby, revisions, document attributes
    dxl_sha256         text CHECK (dxl_sha256 ~ '^[0-9a-f]{64}$'), -- original DXL (blob store)
    canonical_hash     text NOT NULL CHECK (canonical_hash ~ '^[0-9a-f]{64}$'),
    source             text NOT NULL DEFAULT 'dxl' CHECK (source IN ('dxl', 'das')),
    acl_from           text,         -- notes_databases key of the ACL the readers came from
    -- SHA-256 of the mapped record (fields and readers): a changed mapping or ACL re-derives it
    record_hash        text NOT NULL DEFAULT '',
    submission_id      bigint NOT NULL REFERENCES submissions (id),
    -- the submissions.version this import wrote: a different version means infowork changed the
    -- record since, and a later Notes change is reported as a conflict instead of overwriting it
    submission_version bigint NOT NULL,
    imported_at        timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    deleted_at         timestamptz   -- deleted in Notes (reconciliation); never hard-deleted here
);
CREATE UNIQUE INDEX notes_documents_submission ON notes_documents (submission_id);
CREATE INDEX notes_documents_parent ON notes_documents (parent_unid) WHERE parent_unid IS NOT NULL;
CREATE INDEX notes_documents_review ON notes_documents (unid) WHERE review_needed;

-- Databases seen in exports: their ACL governs documents that arrive later without one
-- (single-note files, drop-folder increments, DAS).
CREATE TABLE notes_databases (
    replica_id text PRIMARY KEY,
    path       text NOT NULL DEFAULT '',
    title      text NOT NULL DEFAULT '',
    acl        jsonb,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Files of a document: $FILE attachments and pictures embedded in rich text, byte-exact in the
-- blob store. attachment_id links the attachments row that shows them on the record (NULL for
-- empty files, which the blob store does not hold).
CREATE TABLE notes_files (
    unid          text NOT NULL REFERENCES notes_documents (unid),
    ordinal       integer NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('file', 'picture')),
    name          text NOT NULL,
    sha256        text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size          bigint NOT NULL CHECK (size >= 0),
    attachment_id bigint REFERENCES attachments (id),
    PRIMARY KEY (unid, ordinal)
);

-- Changes made on both sides during the cut-over, and updates refused for another reason; an
-- operator resolves them (never overwritten silently).
CREATE TABLE notes_conflicts (
    id             bigserial PRIMARY KEY,
    unid           text NOT NULL,
    kind           text NOT NULL CHECK (kind IN ('both_changed', 'same_sequence_differs', 'deleted_changed')),
    notes_sequence bigint NOT NULL,
    stored_sequence bigint NOT NULL,
    detail         text NOT NULL DEFAULT '',
    detected_at    timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz
);
CREATE UNIQUE INDEX notes_conflicts_open ON notes_conflicts (unid, kind, notes_sequence);

-- Checkpoints of live sync: the server time the previous answer returned (never the local
-- clock) and when the UNID sets were last reconciled.
CREATE TABLE notes_sync_state (
    source          text PRIMARY KEY,
    since           text NOT NULL DEFAULT '',
    last_success_at timestamptz,
    last_reconcile_at timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);

-- Verification reports of import runs and reconciliations (kept for the audit trail).
CREATE TABLE notes_runs (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('import', 'sync', 'verify')),
    started_at  timestamptz NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now(),
    passed      boolean NOT NULL,
    report      jsonb NOT NULL
);
