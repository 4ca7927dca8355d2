-- Label categories (compartments) and row-level security on submissions. PostgreSQL 12 compatible.
--
-- A record's label is (classification, label_categories); a user's clearance is (clearance,
-- label_categories). Read is allowed only when the clearance dominates the label: level >= and
-- the user's categories contain every category of the record (see package access).

-- Registry of the categories that may be assigned. Names are checked against it when a label is
-- written (package label); reads do not depend on it.
CREATE TABLE label_categories (
    name        text PRIMARY KEY CHECK (char_length(name) BETWEEN 1 AND 20 AND strpos(name, ',') = 0
                                        AND strpos(name, '，') = 0 AND strpos(name, '、') = 0
                                        AND name = btrim(name)),
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- NULL elements would make "<@" false for everyone but break scanning; forbid them.
ALTER TABLE submissions ADD CONSTRAINT submissions_label_categories_no_null
    CHECK (array_position(label_categories, NULL) IS NULL);
ALTER TABLE users ADD CONSTRAINT users_label_categories_no_null
    CHECK (array_position(label_categories, NULL) IS NULL);

-- Row-level security: a second line behind access.Predicate. It is not FORCEd, so the table
-- owner (the role that runs migrations) is not subject to it; it applies to the application's
-- runtime role (infowork_app in docs/security.md), which must not own the tables. Each
-- transaction of that role sets, with set_config(..., true) (see access.SetLocal):
--   infowork.clearance   the subject's level (integer; -1 for none)
--   infowork.categories  the subject's label categories (text[] literal)
--   infowork.units       '*' for every unit, else the ids of the granted units (bigint[] literal)
--   infowork.principals  the subject's readers-list principals (text[] literal)
-- or infowork.bypass = 'on' for trusted internal work (indexer, demo loader; access.SetBypass).
-- Nothing set means nothing visible. NULLIF(…, '') because a custom setting that was set once in
-- a session reads as '' afterwards. The functions are plain SQL expressions without sub-selects so
-- the planner inlines them into each query.
CREATE FUNCTION infowork_rls_visible(classification smallint, label_categories text[], readers text[], unit_id bigint)
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT classification <= COALESCE(NULLIF(current_setting('infowork.clearance', true), '')::int, -1)
       AND label_categories <@ COALESCE(NULLIF(current_setting('infowork.categories', true), '')::text[], '{}'::text[])
       AND (cardinality(readers) = 0
            OR readers && COALESCE(NULLIF(current_setting('infowork.principals', true), '')::text[], '{}'::text[]))
       AND (COALESCE(current_setting('infowork.units', true), '') = '*'
            OR unit_id = ANY (COALESCE(NULLIF(NULLIF(current_setting('infowork.units', true), ''), '*')::bigint[], '{}'::bigint[])))
$$;

CREATE FUNCTION infowork_rls_bypass() RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT COALESCE(current_setting('infowork.bypass', true), '') = 'on'
$$;

ALTER TABLE submissions ENABLE ROW LEVEL SECURITY;

-- Permissive policies are OR-ed. No DELETE policy: records are never hard-deleted by the
-- application (archived_at instead); only the owner or a bypassing transaction may delete.
CREATE POLICY submissions_bypass ON submissions
    USING (infowork_rls_bypass()) WITH CHECK (infowork_rls_bypass());
CREATE POLICY submissions_select ON submissions FOR SELECT
    USING (infowork_rls_visible(classification, label_categories, readers, unit_id));
CREATE POLICY submissions_insert ON submissions FOR INSERT
    WITH CHECK (infowork_rls_visible(classification, label_categories, readers, unit_id));
CREATE POLICY submissions_update ON submissions FOR UPDATE
    USING (infowork_rls_visible(classification, label_categories, readers, unit_id))
    WITH CHECK (infowork_rls_visible(classification, label_categories, readers, unit_id));
