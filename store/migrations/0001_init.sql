-- infowork initial schema. PostgreSQL 12 compatible (KingbaseES V8R6).
-- Levels: 0 public 公开, 1 internal 内部, 2 secret 秘密, 3 confidential 机密.

CREATE TABLE units (
    id            bigserial PRIMARY KEY,
    code          text NOT NULL UNIQUE CHECK (code ~ '^[A-Za-z0-9_.-]{1,32}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind          text NOT NULL CHECK (kind IN ('office', 'district', 'bureau', 'direct')),
    parent_id     bigint REFERENCES units (id),
    district      text NOT NULL DEFAULT '',
    contact_name  text NOT NULL DEFAULT '',
    contact_phone text NOT NULL DEFAULT '',
    active_from   date NOT NULL DEFAULT CURRENT_DATE,
    active_to     date,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX units_parent ON units (parent_id);

-- Category tree (类别), up to three levels; codes are stable, names editable.
CREATE TABLE categories (
    id         bigserial PRIMARY KEY,
    code       text NOT NULL UNIQUE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    parent_id  bigint REFERENCES categories (id),
    level      smallint NOT NULL CHECK (level BETWEEN 1 AND 3),
    sort_order integer NOT NULL DEFAULT 0,
    active     boolean NOT NULL DEFAULT true
);
CREATE INDEX categories_parent ON categories (parent_id);

CREATE TABLE users (
    id                   bigserial PRIMARY KEY,
    username             text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{2,64}$'),
    display_name         text NOT NULL DEFAULT '',
    phone                text NOT NULL DEFAULT '',
    password_hash        text NOT NULL,
    unit_id              bigint REFERENCES units (id),
    roles                text[] NOT NULL CHECK (cardinality(roles) >= 1),
    clearance            smallint NOT NULL DEFAULT 0 CHECK (clearance BETWEEN 0 AND 3),
    label_categories     text[] NOT NULL DEFAULT '{}',
    must_change_password boolean NOT NULL DEFAULT false,
    password_changed_at  timestamptz NOT NULL DEFAULT now(),
    failed_logins        integer NOT NULL DEFAULT 0,
    locked_until         timestamptz,
    last_login_at        timestamptz,
    totp_secret          text,
    disabled_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- Server-side sessions: browsers hold the token in a cookie, programs as a bearer token.
-- Only the SHA-256 of the token is stored, so a database read does not yield usable tokens.
CREATE TABLE sessions (
    token_hash   bytea PRIMARY KEY,
    user_id      bigint NOT NULL REFERENCES users (id),
    kind         text NOT NULL CHECK (kind IN ('web', 'api')),
    csrf_token   text NOT NULL,
    client_ip    text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);
CREATE INDEX sessions_user ON sessions (user_id) WHERE revoked_at IS NULL;

-- 报送信息: a report submitted by a unit. Never hard-deleted (archived_at instead).
CREATE TABLE submissions (
    id               bigserial PRIMARY KEY,
    unit_id          bigint NOT NULL REFERENCES units (id),
    author_id        bigint REFERENCES users (id),
    writer_name      text NOT NULL DEFAULT '',
    writer_phone     text NOT NULL DEFAULT '',
    title            text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body_html        text NOT NULL,
    body_text        text NOT NULL,
    category_id      bigint REFERENCES categories (id),
    district         text NOT NULL DEFAULT '',
    urgency          text NOT NULL DEFAULT 'normal' CHECK (urgency IN ('normal', 'urgent', 'very_urgent')),
    classification   smallint NOT NULL DEFAULT 0 CHECK (classification BETWEEN 0 AND 3),
    label_categories text[] NOT NULL DEFAULT '{}',
    -- Notes-style readers list: empty means no extra restriction; otherwise principals
    -- such as 'user:alice', 'unit:B001', 'role:editor'.
    readers          text[] NOT NULL DEFAULT '{}',
    state            text NOT NULL DEFAULT 'submitted',
    workflow_version integer,
    source           text NOT NULL DEFAULT 'web' CHECK (source IN ('web', 'api', 'demo', 'notes', 'import')),
    source_ref       text,
    idempotency_key  text,
    reported_at      timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    version          bigint NOT NULL DEFAULT 1 CHECK (version >= 1),
    archived_at      timestamptz
);
CREATE INDEX submissions_unit_reported ON submissions (unit_id, reported_at DESC, id DESC);
CREATE INDEX submissions_reported ON submissions (reported_at DESC, id DESC);
CREATE UNIQUE INDEX submissions_idempotency ON submissions (author_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE UNIQUE INDEX submissions_source_ref ON submissions (source, source_ref) WHERE source_ref IS NOT NULL;

-- Transactional outbox: a row is inserted in the same transaction as every change to something
-- searchable. It carries ids, never payloads; the indexer re-reads the current row. Rows are
-- claimed with FOR UPDATE SKIP LOCKED and deleted when the engine has the change (mark-and-sweep,
-- never a high-water mark, so a transaction that commits late is never skipped).
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    entity          text NOT NULL,
    entity_id       bigint NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_error      text,
    dead_at         timestamptz
);
CREATE INDEX outbox_ready ON outbox (next_attempt_at, id) WHERE dead_at IS NULL;
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE dead_at IS NOT NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('infowork_outbox', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE PROCEDURE outbox_notify();

-- Audit log: append-only, each row chained to the previous by hash (see package audit).
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    user_id    bigint,
    username   text NOT NULL DEFAULT '',
    client_ip  text NOT NULL DEFAULT '',
    action     text NOT NULL,
    object     text NOT NULL DEFAULT '',
    label      smallint,
    outcome    text NOT NULL CHECK (outcome IN ('success', 'failure', 'denied')),
    detail     text NOT NULL DEFAULT '',
    prev_hash  bytea NOT NULL,
    hash       bytea NOT NULL
);
