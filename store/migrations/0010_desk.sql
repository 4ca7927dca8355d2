-- Editors' desk and the second version of the default workflow (issue 5). PostgreSQL 12
-- compatible (KingbaseES V8R6).

-- Desk columns of an item: the person it is assigned to (besides the role the workflow assigns),
-- its due date, and a soft lock (holder and expiry; an expired lock is no lock). None of them is
-- the item's content, so changing them bumps neither version nor the search index.
ALTER TABLE submissions ADD COLUMN assignee_id bigint REFERENCES users (id);
ALTER TABLE submissions ADD COLUMN assigned_at timestamptz;
ALTER TABLE submissions ADD COLUMN due_at timestamptz;
ALTER TABLE submissions ADD COLUMN lock_holder_id bigint REFERENCES users (id);
ALTER TABLE submissions ADD COLUMN lock_expires_at timestamptz;
-- When the item entered its current state (set by every transition): the desk's age badges and
-- default due times read it without walking the history.
ALTER TABLE submissions ADD COLUMN state_entered_at timestamptz NOT NULL DEFAULT now();
UPDATE submissions s SET state_entered_at = COALESCE((SELECT max(e.at) FROM workflow_events e WHERE e.submission_id = s.id), s.created_at);
ALTER TABLE submissions ADD CONSTRAINT submissions_lock_pair
    CHECK ((lock_holder_id IS NULL) = (lock_expires_at IS NULL));
CREATE INDEX submissions_assignee ON submissions (assignee_id) WHERE assignee_id IS NOT NULL;
CREATE INDEX submissions_due ON submissions (due_at) WHERE due_at IS NOT NULL;

-- Comments on an item (editors' notes and @mentions), append-only: never edited or deleted.
CREATE TABLE submission_comments (
    id            bigserial PRIMARY KEY,
    submission_id bigint NOT NULL REFERENCES submissions (id),
    author_id     bigint REFERENCES users (id),
    author_name   text NOT NULL DEFAULT '',
    body          text NOT NULL CHECK (length(body) BETWEEN 1 AND 4000),
    mentions      text[] NOT NULL DEFAULT '{}', -- usernames mentioned and notified
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX submission_comments_submission ON submission_comments (submission_id, id);
CREATE FUNCTION submission_comments_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'comments are never changed or deleted';
END;
$$;
CREATE TRIGGER submission_comments_append_only BEFORE UPDATE OR DELETE ON submission_comments
    FOR EACH ROW EXECUTE PROCEDURE submission_comments_append_only();
-- Row-level security, second line: a comment is visible exactly when its item is.
ALTER TABLE submission_comments ENABLE ROW LEVEL SECURITY;
CREATE POLICY submission_comments_bypass ON submission_comments
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY submission_comments_select ON submission_comments FOR SELECT
    USING (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_comments.submission_id));
CREATE POLICY submission_comments_insert ON submission_comments FOR INSERT
    WITH CHECK (EXISTS (SELECT 1 FROM submissions s WHERE s.id = submission_comments.submission_id));

-- Delivery of notifications beyond the app (e-mail, webhook, SMS gateway): where each user wants
-- them, and per notification whether a sender delivered it.
CREATE TABLE notification_channels (
    user_id    bigint NOT NULL REFERENCES users (id),
    kind       text NOT NULL CHECK (kind IN ('email', 'webhook', 'sms')),
    address    text NOT NULL CHECK (length(address) BETWEEN 3 AND 500),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, kind)
);
ALTER TABLE notifications ADD COLUMN comment_id bigint REFERENCES submission_comments (id);
ALTER TABLE notifications ADD COLUMN sent_at timestamptz;
ALTER TABLE notifications ADD COLUMN send_attempts integer NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN send_after timestamptz NOT NULL DEFAULT now();
ALTER TABLE notifications ADD COLUMN send_error text NOT NULL DEFAULT '';
CREATE INDEX notifications_unsent ON notifications (send_after) WHERE sent_at IS NULL;
-- Notifications that existed before delivery was possible are not sent now.
UPDATE notifications SET sent_at = created_at;

-- Items follow their definition's start states: a report inserted as 'draft' starts in the
-- definition's initial state, one inserted as 'submitted' (no draft flag: imports, the demo
-- loader, integrations) in its "direct" state (the initial state when none is named). Any
-- other explicit state (a migration of old records) is kept. The start state's assign action
-- sets the role the item waits for.
CREATE OR REPLACE FUNCTION submissions_workflow_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    def jsonb;
BEGIN
    IF NEW.workflow_version IS NULL THEN
        SELECT version, definition INTO NEW.workflow_version, def FROM workflow_definitions WHERE name = NEW.workflow_name AND active;
        IF NEW.workflow_version IS NULL THEN
            RAISE EXCEPTION 'workflow % has no active version', NEW.workflow_name;
        END IF;
    ELSE
        SELECT definition INTO def FROM workflow_definitions WHERE name = NEW.workflow_name AND version = NEW.workflow_version;
    END IF;
    IF def IS NOT NULL THEN
        IF NEW.state = 'draft' THEN
            NEW.state := def->>'initial';
        ELSIF NEW.state = 'submitted' THEN
            NEW.state := COALESCE(NULLIF(def->>'direct', ''), def->>'initial');
        END IF;
        -- The start state's "assign" action applies from the start (its notifications do not:
        -- an import of thousands of old reports must not flood the editors' inboxes).
        IF NEW.assigned_role IS NULL THEN
            SELECT a->>'role' INTO NEW.assigned_role
            FROM jsonb_array_elements(def->'states') st, jsonb_array_elements(COALESCE(st->'on_enter', '[]'::jsonb)) a
            WHERE st->>'code' = NEW.state AND a->>'type' = 'assign'
            LIMIT 1;
        END IF;
    END IF;
    RETURN NEW;
END;
$$;

-- The default definition, version 2 (workflow/default.json; workflow.TestMigrationSeedsEmbeddedDefault
-- checks they agree): guards on the writer's name and phone before a report leaves its unit, a
-- withdrawn state that archives the item with its history, and the named direct start state.
-- Items on version 1 keep it.
UPDATE workflow_definitions SET active = false WHERE name = 'default' AND active;
INSERT INTO workflow_definitions (name, version, definition, created_by, active) VALUES ('default', 2, $json$
{
  "name": "default",
  "title": "信息报送默认流程",
  "initial": "draft",
  "direct": "submitted",
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
     "on_enter": [{"type": "notify", "to": "unit"}, {"type": "tag", "tag": "存档备查"}]},
    {"code": "withdrawn", "name": "已撤销", "terminal": true,
     "on_enter": [{"type": "archive"}]}
  ],
  "transitions": [
    {"code": "submit", "from": "draft", "to": "unit_approval", "label": "提交审签", "roles": ["reporter", "unit_approver"],
     "guards": [{"field": "writer_name", "check": "required"}, {"field": "writer_phone", "check": "required"},
                {"field": "writer_phone", "check": "phone"}]},
    {"code": "discard", "from": "draft", "to": "withdrawn", "label": "撤销（存档）", "roles": ["reporter", "unit_approver"]},
    {"code": "withdraw", "from": "unit_approval", "to": "draft", "label": "撤回修改", "roles": ["reporter"]},
    {"code": "approve", "from": "unit_approval", "to": "submitted", "label": "审签通过并报送", "roles": ["unit_approver"],
     "guards": [{"field": "writer_name", "check": "required"}, {"field": "writer_phone", "check": "required"},
                {"field": "writer_phone", "check": "phone"}]},
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
    {"code": "resubmit", "from": "returned", "to": "unit_approval", "label": "修改后重新提交审签", "roles": ["reporter", "unit_approver"],
     "guards": [{"field": "writer_name", "check": "required"}, {"field": "writer_phone", "check": "required"},
                {"field": "writer_phone", "check": "phone"}]},
    {"code": "discard", "from": "returned", "to": "withdrawn", "label": "撤销（存档）", "roles": ["reporter", "unit_approver"],
     "require": ["comment"]}
  ]
}
$json$::jsonb, 'migration 0010', true);
