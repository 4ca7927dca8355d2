-- The audit log is append-only, in the database itself. PostgreSQL 12 compatible (KingbaseES V8R6).
--
-- A statement-level trigger refuses UPDATE, DELETE and TRUNCATE of audit_log for every role,
-- including the table owner and the application's own role, so no code path (and no SQL
-- injection) can rewrite history. Statement level, so even a statement that matches no row
-- fails. A superuser or the owner can still disable the trigger (ALTER TABLE … DISABLE TRIGGER,
-- or session_replication_role = replica); that is the DBA scenario, and the hash chain
-- (`infowork audit verify`) catches any row changed or removed that way.
--
-- Retention: no code path deletes audit rows. They are kept indefinitely, and at least 180 days
-- in any case (《网络安全法》第二十一条; 等保 8.1.5.4 e). Archiving older rows elsewhere is an
-- operator's decision made with the trigger disabled and the chain verified before and after
-- (docs/security.md).

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit rows are never changed or deleted; see docs/security.md';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE PROCEDURE audit_log_append_only();

-- No role gets these privileges through PUBLIC; deploy/postgres/roles.sql grants the runtime
-- role INSERT and SELECT only.
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;
