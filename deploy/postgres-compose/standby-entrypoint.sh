#!/bin/sh
# Entry point of the hot standby (official postgres image). On first start it clones the primary
# with pg_basebackup and configures streaming replication under the application_name that the
# primary's synchronous_standby_names lists; afterwards it starts PostgreSQL as a hot standby.
set -eu
: "${REPLICATION_PASSWORD:?set REPLICATION_PASSWORD}"
PRIMARY_HOST="${PRIMARY_HOST:-pg-primary}"
STANDBY_NAME="${STANDBY_NAME:-pg_standby}"
PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  echo "standby: cloning $PRIMARY_HOST into $PGDATA"
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 0700 "$PGDATA"
  until pg_isready -h "$PRIMARY_HOST" -p 5432 -q; do
    echo "standby: waiting for $PRIMARY_HOST"; sleep 2
  done
  export PGPASSWORD="$REPLICATION_PASSWORD"
  gosu postgres pg_basebackup -h "$PRIMARY_HOST" -p 5432 -U replicator -D "$PGDATA" \
    -X stream -S "$STANDBY_NAME" --checkpoint=fast --progress
  unset PGPASSWORD
  # The clone carries the primary's synchronous_standby_names; a promoted standby has no
  # standby of its own, so it must not wait for one.
  sed -i '/^synchronous_standby_names/d' "$PGDATA/postgresql.auto.conf"
  cat >> "$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$PRIMARY_HOST port=5432 user=replicator password=$REPLICATION_PASSWORD application_name=$STANDBY_NAME'
primary_slot_name = '$STANDBY_NAME'
CONF
  gosu postgres touch "$PGDATA/standby.signal"
  chown -R postgres:postgres "$PGDATA"
fi
# The image's entrypoint sees an initialised directory, skips initdb and runs the server as postgres.
exec docker-entrypoint.sh "$@"
