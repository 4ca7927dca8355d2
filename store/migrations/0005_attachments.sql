-- Attachments (附件): files stored once by content hash, attached to submissions with a caption.
-- PostgreSQL 12 compatible (KingbaseES V8R6).
--
-- The bytes live outside the database, under the data directory, named by their SHA-256
-- ($INFOWORK_DATA_DIR/blobs/ab/cd/<sha256>; package attachment). A blob row is written once
-- however often the same content is uploaded (deduplication); each upload is an attachments row.
-- The client's file name is kept for display only (sanitized) and never used as a path.

CREATE TABLE blobs (
    sha256       text PRIMARY KEY CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size         bigint NOT NULL CHECK (size > 0),
    -- detected from the content, never the client's claim; the allow-list is attachment.Kinds
    -- (kept in one place, so no CHECK repeats it here)
    content_type text NOT NULL CHECK (content_type <> ''),
    width        integer CHECK (width > 0),
    height       integer CHECK (height > 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- An attachment has no label of its own: it inherits its submission's (classification, label
-- categories, unit, readers). Reads join submissions under access.Predicate, and row-level
-- security below makes an attachment visible exactly when its submission is.
CREATE TABLE attachments (
    id            bigserial PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES submissions (id),
    blob_sha256   text NOT NULL REFERENCES blobs (sha256),
    filename      text NOT NULL CHECK (char_length(filename) BETWEEN 1 AND 100),
    caption       text NOT NULL CHECK (char_length(caption) BETWEEN 1 AND 200 AND caption = btrim(caption)),
    uploader_id   bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    archived_at   timestamptz, -- never hard-deleted
    version       bigint NOT NULL DEFAULT 1 CHECK (version >= 1)
);
CREATE INDEX attachments_submission ON attachments (submission_id, id) WHERE archived_at IS NULL;
CREATE INDEX attachments_blob ON attachments (blob_sha256);

-- Row-level security, second line (see 0004): the sub-select on submissions is itself filtered
-- by the submissions policies for the application's role, so an attachment is visible, insertable
-- and updatable exactly when its submission is visible. No DELETE policy: never hard-deleted.
ALTER TABLE attachments ENABLE ROW LEVEL SECURITY;
CREATE POLICY attachments_bypass ON attachments
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY attachments_select ON attachments FOR SELECT
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = attachments.submission_id));
CREATE POLICY attachments_insert ON attachments FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = attachments.submission_id));
CREATE POLICY attachments_update ON attachments FOR UPDATE
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = attachments.submission_id))
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = attachments.submission_id));
