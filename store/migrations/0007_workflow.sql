-- Configurable workflow (issue 5). PostgreSQL 12 compatible (KingbaseES V8R6).
--
-- A workflow definition is data (package workflow): states, transitions with the roles allowed,
-- guards and actions. Definitions are versioned and never changed in place: publishing a change
-- inserts a new (name, version) row and moves the active flag to it. Every submission keeps the
-- (workflow_name, workflow_version) it started with, so a new version never strands an item in a
-- state its definition no longer knows.

CREATE TABLE workflow_definitions (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    version    integer NOT NULL CHECK (version >= 1),
    definition jsonb NOT NULL,
    created_by text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    active     boolean NOT NULL DEFAULT false,
    UNIQUE (name, version)
);
-- At most one active version per workflow: the one new items start on.
CREATE UNIQUE INDEX workflow_definitions_active ON workflow_definitions (name) WHERE active;

-- Only the active flag may change; the definition itself is immutable.
CREATE FUNCTION workflow_definitions_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'workflow definitions are never deleted';
    END IF;
    IF NEW.name <> OLD.name OR NEW.version <> OLD.version OR NEW.definition <> OLD.definition
       OR NEW.created_by <> OLD.created_by OR NEW.created_at <> OLD.created_at THEN
        RAISE EXCEPTION 'workflow definitions are never changed in place: publish a new version';
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER workflow_definitions_immutable BEFORE UPDATE OR DELETE ON workflow_definitions
    FOR EACH ROW EXECUTE PROCEDURE workflow_definitions_immutable();

-- The default definition, version 1. It is the same document as workflow/default.json
-- (workflow.TestMigrationSeedsEmbeddedDefault checks they agree).
INSERT INTO workflow_definitions (name, version, definition, created_by, active) VALUES ('default', 1, $json$
{
  "name": "default",
  "title": "信息报送默认流程",
  "initial": "draft",
  "reasons": [
    {"code": "unclear_title", "name": "标题不清"},
    {"code": "facts_incomplete", "name": "要素不全"},
    {"code": "not_newsworthy", "name": "价值不高"},
    {"code": "duplicate", "name": "重复报送"},
    {"code": "late", "name": "时效已过"},
    {"code": "other", "name": "其他"}
  ],
  "states": [
    {"code": "draft", "name": "草稿"},
    {"code": "unit_approval", "name": "单位审签",
     "on_enter": [{"type": "notify", "to": "role:unit_approver"}, {"type": "assign", "role": "unit_approver"}]},
    {"code": "submitted", "name": "已报送",
     "on_enter": [{"type": "notify", "to": "role:editor"}, {"type": "assign", "role": "editor"}]},
    {"code": "in_review", "name": "编辑审核"},
    {"code": "adopted", "name": "采用", "terminal": true,
     "on_enter": [{"type": "notify", "to": "unit"}, {"type": "tag", "tag": "采用"}]},
    {"code": "merged", "name": "综合采用", "terminal": true,
     "on_enter": [{"type": "notify", "to": "unit"}, {"type": "tag", "tag": "综合采用"}]},
    {"code": "returned", "name": "退回",
     "on_enter": [{"type": "notify", "to": "unit"}, {"type": "assign", "role": "reporter"}]},
    {"code": "filed", "name": "存档备查", "terminal": true,
     "on_enter": [{"type": "notify", "to": "unit"}]}
  ],
  "transitions": [
    {"code": "submit", "from": "draft", "to": "unit_approval", "label": "提交审签", "roles": ["reporter", "unit_approver"]},
    {"code": "withdraw", "from": "unit_approval", "to": "draft", "label": "撤回修改", "roles": ["reporter"]},
    {"code": "approve", "from": "unit_approval", "to": "submitted", "label": "审签通过并报送", "roles": ["unit_approver"]},
    {"code": "reject", "from": "unit_approval", "to": "draft", "label": "退回修改（单位）", "roles": ["unit_approver"],
     "require": ["comment"]},
    {"code": "review", "from": "submitted", "to": "in_review", "label": "开始审核", "roles": ["editor"]},
    {"code": "return", "from": "submitted", "to": "returned", "label": "退回", "roles": ["editor"],
     "require": ["reason", "comment"]},
    {"code": "file", "from": "submitted", "to": "filed", "label": "存档备查", "roles": ["editor"]},
    {"code": "adopt", "from": "in_review", "to": "adopted", "label": "采用", "roles": ["editor"]},
    {"code": "merge", "from": "in_review", "to": "merged", "label": "综合采用", "roles": ["editor"]},
    {"code": "return", "from": "in_review", "to": "returned", "label": "退回", "roles": ["editor"],
     "require": ["reason", "comment"]},
    {"code": "file", "from": "in_review", "to": "filed", "label": "存档备查", "roles": ["editor"]},
    {"code": "resubmit", "from": "returned", "to": "unit_approval", "label": "修改后重新提交审签", "roles": ["reporter", "unit_approver"]}
  ]
}
$json$::jsonb, 'migration 0007', true);

-- Submissions: which definition they follow, the role the item is assigned to, and tags added by
-- workflow actions. Existing rows follow default version 1; their 'submitted' state exists there.
ALTER TABLE submissions ADD COLUMN workflow_name text NOT NULL DEFAULT 'default';
ALTER TABLE submissions ADD COLUMN assigned_role text;
ALTER TABLE submissions ADD COLUMN tags text[] NOT NULL DEFAULT '{}' CHECK (array_position(tags, NULL) IS NULL);
UPDATE submissions SET workflow_version = 1 WHERE workflow_version IS NULL;
CREATE INDEX submissions_state ON submissions (state, updated_at);

-- New rows start on the active version of their workflow unless the writer chose one.
CREATE FUNCTION submissions_workflow_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.workflow_version IS NULL THEN
        SELECT version INTO NEW.workflow_version FROM workflow_definitions WHERE name = NEW.workflow_name AND active;
        IF NEW.workflow_version IS NULL THEN
            RAISE EXCEPTION 'workflow % has no active version', NEW.workflow_name;
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER submissions_workflow_version BEFORE INSERT ON submissions
    FOR EACH ROW EXECUTE PROCEDURE submissions_workflow_version();

-- The history of every item: one row per transition, append-only.
CREATE TABLE workflow_events (
    id               bigserial PRIMARY KEY,
    submission_id    bigint NOT NULL REFERENCES submissions (id),
    workflow_name    text NOT NULL,
    workflow_version integer NOT NULL,
    from_state       text NOT NULL,
    to_state         text NOT NULL,
    transition       text NOT NULL,
    actor_id         bigint REFERENCES users (id),
    actor_name       text NOT NULL DEFAULT '',
    reason           text NOT NULL DEFAULT '', -- a code from the definition's reasons list
    comment          text NOT NULL DEFAULT '',
    at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workflow_events_submission ON workflow_events (submission_id, id);

-- Row-level security, second line (see 0004, 0005): an event is visible exactly when its item is.
ALTER TABLE workflow_events ENABLE ROW LEVEL SECURITY;
CREATE POLICY workflow_events_bypass ON workflow_events
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY workflow_events_select ON workflow_events FOR SELECT
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = workflow_events.submission_id));
CREATE POLICY workflow_events_insert ON workflow_events FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = workflow_events.submission_id));

-- In-app notifications written by the "notify" action: one row per recipient, who could read the
-- item when it was written. The message names the item and the state, never its text.
CREATE TABLE notifications (
    id            bigserial PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id),
    submission_id bigint REFERENCES submissions (id),
    event_id      bigint REFERENCES workflow_events (id),
    kind          text NOT NULL,
    message       text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    read_at       timestamptz
);
CREATE INDEX notifications_user_unread ON notifications (user_id, id DESC) WHERE read_at IS NULL;
