-- Documents: versions, text extraction, previews (issue 11). PostgreSQL 12 compatible (KingbaseES V8R6).
--
-- An attachment is a document with versions: attachments keeps the current version (blob,
-- name, version number); attachment_versions keeps every version ever uploaded, the current one
-- included, and is never updated or deleted. Text is extracted once per content (blob) by a
-- background worker: the extractions row is the job (queued in the transaction that stores the
-- upload, like the outbox row, and claimed with a lease) and holds the result or the reason the
-- file could not be read.

CREATE TABLE attachment_versions (
    attachment_id bigint NOT NULL REFERENCES attachments (id),
    version       bigint NOT NULL CHECK (version >= 1),
    blob_sha256   text NOT NULL REFERENCES blobs (sha256),
    filename      text NOT NULL CHECK (char_length(filename) BETWEEN 1 AND 100),
    uploader_id   bigint REFERENCES users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (attachment_id, version)
);
CREATE INDEX attachment_versions_blob ON attachment_versions (blob_sha256);

INSERT INTO attachment_versions (attachment_id, version, blob_sha256, filename, uploader_id, created_at)
SELECT id, version, blob_sha256, filename, uploader_id, created_at FROM attachments;

-- Versions are visible exactly when their attachment is (which is visible when its submission is).
ALTER TABLE attachment_versions ENABLE ROW LEVEL SECURITY;
CREATE POLICY attachment_versions_bypass ON attachment_versions
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY attachment_versions_select ON attachment_versions FOR SELECT
    USING (EXISTS (SELECT 1 FROM attachments a WHERE a.id = attachment_versions.attachment_id));
CREATE POLICY attachment_versions_insert ON attachment_versions FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM attachments a WHERE a.id = attachment_versions.attachment_id));
CREATE FUNCTION attachment_versions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'attachment_versions is append-only';
END $$;
CREATE TRIGGER attachment_versions_immutable BEFORE UPDATE OR DELETE ON attachment_versions
    FOR EACH ROW EXECUTE PROCEDURE attachment_versions_immutable();

-- state: pending (queued) → running (leased by a worker until lease_until) → done | unreadable
-- (the file is at fault: encrypted, damaged, a zip bomb; reason says why) | failed (a limit was
-- hit: time, memory, or the worker died attempts times; reason says which). An operator may
-- queue a failed row again (state back to pending).
CREATE TABLE extractions (
    blob_sha256  text PRIMARY KEY REFERENCES blobs (sha256),
    state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'unreadable', 'failed')),
    attempts     integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    lease_until  timestamptz,
    method       text CHECK (method IN ('text', 'ocr')),
    encoding     text,
    pages        integer CHECK (pages >= 0),
    ocr_pages    integer CHECK (ocr_pages >= 0),
    truncated    boolean NOT NULL DEFAULT false,
    body         text,   -- extracted plain text
    preview_html text,   -- sanitized preview markup of office and text documents
    reason       text,   -- zh-CN reason of unreadable and failed
    duration_ms  integer CHECK (duration_ms >= 0),
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    CHECK ((state IN ('unreadable', 'failed')) = (reason IS NOT NULL))
);
CREATE INDEX extractions_queue ON extractions (created_at) WHERE state IN ('pending', 'running');

-- The text of a classified document is as classified as the document: a row is visible when an
-- attachment (or an older version) holding its blob is visible.
ALTER TABLE extractions ENABLE ROW LEVEL SECURITY;
CREATE POLICY extractions_bypass ON extractions
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY extractions_select ON extractions FOR SELECT
    USING (EXISTS (SELECT 1 FROM attachment_versions v WHERE v.blob_sha256 = extractions.blob_sha256));
CREATE POLICY extractions_insert ON extractions FOR INSERT
    WITH CHECK (true);

-- Existing uploads are queued.
INSERT INTO extractions (blob_sha256) SELECT sha256 FROM blobs;

CREATE FUNCTION extractions_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('infowork_extract', '');
    RETURN NULL;
END $$;
CREATE TRIGGER extractions_notify AFTER INSERT OR UPDATE OF state ON extractions
    FOR EACH STATEMENT EXECUTE PROCEDURE extractions_notify();
