-- infowork database roles: an owner that runs migrations and a runtime role with only the
-- privileges the application needs. See docs/security.md "数据库角色与审计日志只追加".
--
-- PostgreSQL 12+ / KingbaseES V8R6 (use ksql instead of psql; the superuser is "system").
-- Run as a superuser, in the application's database, AFTER every `infowork migrate` (it is
-- idempotent; re-running it grants on tables that new migrations added):
--
--   createdb -O infowork_owner infowork            # once, after the first run created the role
--   psql -v ON_ERROR_STOP=1 -d infowork \
--        -v owner_password="'…'" -v app_password="'…'" -f deploy/postgres/roles.sql
--
-- Then run migrations with the owner's URL and the service with the runtime role's URL:
--   INFOWORK_DATABASE_URL=postgres://infowork_owner:…@db/infowork  infowork migrate
--   INFOWORK_DATABASE_URL=postgres://infowork_app:…@db/infowork    infowork serve

\set ON_ERROR_STOP on

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'infowork_owner') THEN
        CREATE ROLE infowork_owner LOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'infowork_app') THEN
        CREATE ROLE infowork_app LOGIN;
    END IF;
END
$$;

-- Neither role is a superuser; the runtime role cannot bypass row-level security (migration
-- 0004), create objects or roles, and does not own any table (owners are exempt from RLS and
-- could disable the audit trigger).
ALTER ROLE infowork_owner NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :owner_password;
ALTER ROLE infowork_app   NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD :app_password;

-- Only the owner creates objects.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE, CREATE ON SCHEMA public TO infowork_owner;
GRANT USAGE ON SCHEMA public TO infowork_app;

-- Every table the migrations made: ordinary data manipulation, then the exceptions below.
DO $$
DECLARE t record;
BEGIN
    FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = 'public' LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO infowork_owner', t.tablename);
        EXECUTE format('REVOKE ALL ON public.%I FROM infowork_app', t.tablename);
        IF t.tablename NOT IN ('audit_log', 'schema_migrations') THEN
            EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON public.%I TO infowork_app', t.tablename);
        END IF;
    END LOOP;
    FOR t IN SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public' LOOP
        EXECUTE format('ALTER SEQUENCE public.%I OWNER TO infowork_owner', t.sequence_name);
        EXECUTE format('GRANT USAGE, SELECT ON SEQUENCE public.%I TO infowork_app', t.sequence_name);
    END LOOP;
END
$$;

-- Records, accounts and units are never hard-deleted by the application (archived or disabled).
REVOKE DELETE ON submissions, users, units, categories, attachments, workflow_definitions, workflow_events FROM infowork_app;

-- The audit log: the application may append and read, nothing else. The trigger of migration
-- 0003 refuses UPDATE, DELETE and TRUNCATE even to the owner.
GRANT SELECT, INSERT ON audit_log TO infowork_app;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM infowork_app, PUBLIC;

-- The service checks the schema version at start-up; it reads schema_migrations only.
GRANT SELECT ON schema_migrations TO infowork_app;
