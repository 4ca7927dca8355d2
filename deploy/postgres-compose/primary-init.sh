#!/bin/sh
# Runs once, from /docker-entrypoint-initdb.d, when the primary's data directory is created
# (official postgres image). It creates the replication and monitoring roles and the slot, lets the standby connect
# for replication, and only then turns on synchronous replication: the entrypoint's temporary
# server runs this script, and a synchronous_standby_names set on the command line would make
# every commit of the initialisation wait for a standby that cannot exist yet.
set -eu
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
: "${MONITOR_PASSWORD:?set MONITOR_PASSWORD}"
STANDBY_NAME="${STANDBY_NAME:-pg_standby}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -v repl_password="$REPLICATION_PASSWORD" -v monitor_password="$MONITOR_PASSWORD" \
     -v slot="$STANDBY_NAME" <<'SQL'
CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD :'repl_password';
-- postgres_exporter (pg-exporter-primary, pg-exporter-standby): read-only statistics.
CREATE ROLE monitor WITH LOGIN PASSWORD :'monitor_password' IN ROLE pg_monitor;
SELECT pg_create_physical_replication_slot(:'slot');
SQL

# "all" in the database column does not match replication connections.
echo "host replication replicator all scram-sha-256" >> "$PGDATA/pg_hba.conf"

# Written to postgresql.auto.conf; read by the real server the entrypoint starts next.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
     -c "ALTER SYSTEM SET synchronous_standby_names = '$STANDBY_NAME'"
