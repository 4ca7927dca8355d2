#!/usr/bin/env bash
# Backup drill: base backup + WAL archiving + point-in-time restore into an empty directory,
# checked by per-table row counts and checksums. Runs on a throw-away cluster on 127.0.0.1;
# touches nothing else. `make backup-drill` runs it; so does `go test ./ha -run BackupDrill`.
#
#   deploy/postgres/backup-drill.sh            # temp dir, removed afterwards
#   KEEP=1 PORT=55499 deploy/postgres/backup-drill.sh
#
# Steps (the same as the production procedure in deploy/postgres/README.md "Backups"):
#   1. initdb a cluster with wal_level=replica, archive_mode=on and an archive_command that
#      copies each WAL segment into $WORK/archive (never overwriting).
#   2. load data (pgbench -i plus an events table), take a base backup (pg_basebackup -X none:
#      the restore must get its WAL from the archive, as in a real disaster).
#   3. write more, record the target time T and the count and md5 of every table at T, write
#      more after T (inserts, updates, deletes), switch and archive the last WAL segment.
#   4. stop the primary, copy the base backup into an empty directory, set restore_command,
#      recovery_target_time = T, recovery_target_action = promote, touch recovery.signal,
#      start it and wait until it is promoted.
#   5. compare counts and checksums with those recorded at T (and check that the writes after
#      T are absent, so the target mattered). Print the timings.
# When run as root, the PostgreSQL programs run as the "postgres" user (initdb refuses root).
set -euo pipefail

BIN=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$BIN/initdb" ] || BIN=$(dirname "$(command -v pg_ctl || echo /nonexistent/pg_ctl)")
[ -x "$BIN/initdb" ] || { echo "backup-drill: PostgreSQL server binaries not found (set PG_BINDIR)" >&2; exit 2; }
PSQL=$BIN/psql
[ -x "$PSQL" ] || PSQL=psql
PGBENCH=$BIN/pgbench
[ -x "$PGBENCH" ] || PGBENCH=pgbench

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
pick_port() {
	local p
	for p in $(seq "${1:-55490}" "$((${1:-55490} + 50))"); do
		port_busy "$p" || { echo "$p"; return; }
	done
	echo "backup-drill: no free port near ${1:-55490}" >&2
	exit 2
}
PORT=${PORT:-$(pick_port 55490)}
RPORT=${RESTORE_PORT:-$(pick_port $((PORT + 1)))}
[ "$RPORT" != "$PORT" ] || RPORT=$(pick_port $((PORT + 2)))

WORK=$(mktemp -d "${TMPDIR:-/tmp}/infowork-backup-drill.XXXXXX")
chmod 755 "$WORK"
AS=()
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --user-group --no-create-home --home-dir /var/lib/postgresql --shell /bin/sh postgres
	chown postgres: "$WORK"
	AS=(runuser -u postgres --)
fi
as_pg() { "${AS[@]}" "$@"; }
ARCHIVE=$WORK/archive PRIMARY=$WORK/primary BASE=$WORK/base RESTORE=$WORK/restore
as_pg mkdir -p "$ARCHIVE"

cleanup() {
	as_pg "$BIN/pg_ctl" stop -D "$PRIMARY" -m immediate >/dev/null 2>&1 || true
	as_pg "$BIN/pg_ctl" stop -D "$RESTORE" -m immediate >/dev/null 2>&1 || true
	if [ -n "${KEEP:-}" ]; then echo "backup-drill: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
q() { "$PSQL" -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U infowork -d infowork -c "$2"; }

# checksums PORT: one line per table: name count md5(rows in a fixed order)
checksums() {
	q "$1" "SELECT string_agg(format('%s %s %s', tablename, n, h), E'\n' ORDER BY tablename) FROM (
		SELECT tablename,
		       (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I', tablename), false, true, '')))[1]::text AS n,
		       (xpath('/row/h/text()', query_to_xml(format(
		           'SELECT md5(coalesce(string_agg(t::text, E''\n'' ORDER BY t::text), '''')) AS h FROM %I t', tablename), false, true, '')))[1]::text AS h
		FROM pg_tables WHERE schemaname = 'public') s"
}

T0=$(now)
echo "backup-drill: work dir $WORK, primary on 127.0.0.1:$PORT, restore on 127.0.0.1:$RPORT, binaries $BIN"
as_pg "$BIN/initdb" -D "$PRIMARY" --auth=trust --username=infowork --encoding=UTF8 --locale=C >/dev/null
cat >>"$PRIMARY/postgresql.conf" <<EOF

# backup drill
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = ''
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $ARCHIVE/%f && cp %p $ARCHIVE/%f'
fsync = on
EOF
as_pg "$BIN/pg_ctl" start -D "$PRIMARY" -l "$WORK/primary.log" -w -s
"$BIN/createdb" -h 127.0.0.1 -p "$PORT" -U infowork infowork 2>/dev/null || "${BIN%/bin}/bin/createdb" -h 127.0.0.1 -p "$PORT" -U infowork infowork

# 2. data, then the base backup.
"$PGBENCH" -h 127.0.0.1 -p "$PORT" -U infowork -i -s 2 -q infowork >/dev/null 2>&1
q "$PORT" "CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, body text, at timestamptz NOT NULL DEFAULT clock_timestamp());
	INSERT INTO events (kind, body) SELECT 'before-backup', md5(g::text) FROM generate_series(1, 5000) g;"
T1=$(now)
as_pg "$BIN/pg_basebackup" -h 127.0.0.1 -p "$PORT" -U infowork -D "$BASE" -X none -c fast
T2=$(now)
BASE_SIZE=$(du -sh "$BASE" | cut -f1)

# 3. writes after the backup, the target time, writes after the target.
"$PGBENCH" -h 127.0.0.1 -p "$PORT" -U infowork -n -c 4 -t 250 infowork >/dev/null 2>&1
q "$PORT" "INSERT INTO events (kind, body) SELECT 'after-backup', md5(g::text) FROM generate_series(1, 2000) g;
	DELETE FROM events WHERE id % 10 = 0; UPDATE events SET body = 'changed' WHERE id % 7 = 0;"
sleep 0.2
TARGET=$(q "$PORT" "SELECT clock_timestamp()")
sleep 1
EXPECTED=$(checksums "$PORT")
"$PGBENCH" -h 127.0.0.1 -p "$PORT" -U infowork -n -c 4 -t 250 infowork >/dev/null 2>&1
q "$PORT" "INSERT INTO events (kind, body) SELECT 'after-target', md5(g::text) FROM generate_series(1, 1000) g;
	DELETE FROM events WHERE id % 3 = 0; UPDATE pgbench_branches SET bbalance = -1;"
FINAL=$(checksums "$PORT")
LAST=$(q "$PORT" "SELECT pg_walfile_name(pg_switch_wal())")
for _ in $(seq 1 300); do
	[ -f "$ARCHIVE/$LAST" ] && break
	sleep 0.1
done
[ -f "$ARCHIVE/$LAST" ] || { echo "backup-drill: FAIL: WAL segment $LAST was not archived" >&2; exit 1; }
ARCHIVED=$(find "$ARCHIVE" -type f | wc -l)

# 4. disaster: the primary is gone; restore into an empty directory.
as_pg "$BIN/pg_ctl" stop -D "$PRIMARY" -m immediate -w -s
T3=$(now)
as_pg mkdir -m 700 "$RESTORE"
as_pg cp -a "$BASE/." "$RESTORE/"
cat >>"$RESTORE/postgresql.conf" <<EOF

# point-in-time restore (backup drill)
port = $RPORT
archive_mode = off
restore_command = 'cp $ARCHIVE/%f %p'
recovery_target_time = '$TARGET'
recovery_target_action = 'promote'
EOF
as_pg touch "$RESTORE/recovery.signal"
as_pg "$BIN/pg_ctl" start -D "$RESTORE" -l "$WORK/restore.log" -w -t 300 -s
for _ in $(seq 1 600); do
	[ "$(q "$RPORT" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ] && break
	sleep 0.1
done
[ "$(q "$RPORT" "SELECT pg_is_in_recovery()")" = f ] || { echo "backup-drill: FAIL: restored cluster did not finish recovery" >&2; tail -20 "$WORK/restore.log" >&2; exit 1; }
T4=$(now)

# 5. compare.
GOT=$(checksums "$RPORT")
echo "backup-drill: target time $TARGET; $ARCHIVED WAL files archived; base backup $BASE_SIZE"
echo "backup-drill: table rows md5 (at the target time, as restored):"
echo "$GOT" | sed 's/^/    /'
if [ "$GOT" != "$EXPECTED" ]; then
	echo "backup-drill: FAIL: restored tables differ from the target time" >&2
	diff <(echo "$EXPECTED") <(echo "$GOT") >&2 || true
	tail -20 "$WORK/restore.log" >&2
	exit 1
fi
if [ "$GOT" = "$FINAL" ]; then
	echo "backup-drill: FAIL: the writes after the target time are present; the target was not applied" >&2
	exit 1
fi
echo "backup-drill: timings: setup+load $(secs "$T0" "$T1")s, base backup $(secs "$T1" "$T2")s, restore to a point in time (copy + WAL replay + promote) $(secs "$T3" "$T4")s, total $(secs "$T0" "$(now)")s"
echo "backup-drill: OK: every table's count and checksum equal those at the target time; writes after it are absent"
