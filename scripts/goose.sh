#!/usr/bin/env bash
# Runs relsync's migrations on an engram database with the stock goose CLI, at the version go.mod pins.
#
#   scripts/goose.sh [--no-backup] <engram.db> up|up-by-one|up-to V|down|down-to V|redo|reset|status|version
#
# Before goose opens the file it refuses a path that does not exist (goose would create an empty
# database there), a file that is not an SQLite database and a database without engram's tables
# (relsync's own precheck, through cmd/relsync). `status` and `version` write nothing: goose reads
# the file without writing (not even a checkpoint), and where relsync is not installed (goose would create its version table to
# say so) cmd/relsync answers instead. The commands that migrate write a consistent backup beside
# the database (VACUUM INTO) only when they are about to change something, and hold relsync's lock
# file (<db>.relsync-lock, the one relsync.Up takes) while goose runs. `up` lets goose install the
# triggers (a few milliseconds), then cmd/relsync journals the relations that lack their row in
# short transactions with a progress display (engram may keep running), repairs relsync objects
# that went missing, and applies the backfill's migration, which finds nothing left. `down` rolls
# back the newest migration, `down-to 0` (or `reset`) all of them: relsync's triggers, views and
# tables go, and the journal rows it wrote stay (they are engram's data).
#
# Environment: RELSYNC_GOOSE, a goose binary to run instead of `go run …goose@<go.mod's version>`; RELSYNC_CMD, a
# binary of this checkout's cmd/relsync, to skip building it; RELSYNC_LOCK_WAIT, seconds to wait
# for the lock (default 60).
set -euo pipefail

# The goose CLI is built from the goose module go.mod requires (the version relsync's tests pin),
# without the drivers relsync does not use. internal/testtools reads goose_tags from this line.
readonly goose_tags='no_postgres no_mysql no_clickhouse no_mssql no_vertica no_ydb no_libsql'

die() {
  printf 'goose.sh: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#  */usage: /' >&2
  exit 2
}

backup=1
if [[ ${1:-} == --no-backup ]]; then
  backup=0
  shift
fi
[[ $# -ge 2 ]] || usage
db=$1
shift
case $1 in
  up | up-by-one | up-to | down | down-to | redo | reset) migrates=1 ;;
  status | version) migrates=0 ;;
  *) die "unsupported goose command '$1' (use up, up-by-one, up-to, down, down-to, redo, reset, status or version)" ;;
esac

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
[[ -e $db ]] || die "refusing to run goose on $db: no such file (goose would create an empty database there)"
[[ -f $db ]] || die "refusing to run goose on $db: not a regular file"
db=$(cd -- "$(dirname -- "$db")" && pwd)/$(basename -- "$db")

relsync=${RELSYNC_CMD:-}
if [[ -z $relsync ]]; then
  tmp=$(mktemp -d)
  trap 'rm -rf -- "$tmp"' EXIT
  relsync=$tmp/relsync
  echo "goose.sh: building cmd/relsync (the first run compiles its modules: up to a minute)" >&2
  go -C "$repo" build -o "$relsync" ./cmd/relsync || die "cannot build cmd/relsync"
fi

"$relsync" check "$db" >/dev/null || die "refusing to run goose on $db"

# Where relsync stands: version, latest, the backfill's migration; exit 3 when up has nothing to do.
up_to_date=0
plan=$("$relsync" pending "$db") || { (($? == 3)) && up_to_date=1; } || die "cannot read relsync's state in $db"
read -r current latest backfill_version version_table uri <<<"$plan" # uri: the file's SQLite URI

if [[ -n ${RELSYNC_GOOSE:-} ]]; then
  goose=("$RELSYNC_GOOSE")
else
  goose_version=$(go -C "$repo" list -m -f '{{.Version}}' github.com/pressly/goose/v3) ||
    die "cannot read goose's version from go.mod"
  goose=(go run "-tags=$goose_tags" "github.com/pressly/goose/v3/cmd/goose@$goose_version")
  echo "goose.sh: running goose through go run (the first run builds goose $goose_version: about a minute)" >&2
fi
# GOOSE_DRIVER/GOOSE_DBSTRING from the environment would shift the arguments below.
run_goose() {
  local dsn=$1
  shift
  env -u GOOSE_DRIVER -u GOOSE_DBSTRING -u GOOSE_MIGRATION_DIR -u GOOSE_TABLE \
    "${goose[@]}" -env=none -dir "$repo/migrations" -table relsync_db_version sqlite3 "$dsn" "$@"
}
rw_dsn="$uri?mode=rw&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate"

if ((!migrates)); then
  if ((!version_table)); then
    # goose would create its version table (a write) just to report that nothing is applied.
    "$relsync" status "$db"
    exit 0
  fi
  # goose only reads here. With a WAL beside the file (engram has it open, or a crash left it), a
  # read-only connection: a read-write one that closes last would checkpoint the WAL into the file.
  # Without one, a query-only connection, which removes the -wal and -shm it opened when it closes.
  if [[ -e $db-wal ]]; then
    run_goose "$uri?mode=ro&_pragma=busy_timeout(5000)" "$@"
  else
    run_goose "$uri?mode=rw&_pragma=busy_timeout(5000)&_pragma=query_only(1)" "$@"
  fi
  exit 0
fi

[[ -w $db ]] || die "$db is not writable"
case $1 in
  up) changes=$((!up_to_date)) ;;
  up-by-one | up-to) changes=$((current < latest)) ;;
  *) changes=$((current > 0)) ;;
esac
if ((!changes)); then
  if [[ $1 == up ]]; then
    "$relsync" up --no-backup "$db"
  else
    echo "goose.sh: nothing to change in $db (relsync at version $current of $latest); no backup written"
  fi
  exit 0
fi
if ((backup)); then
  copy=$("$relsync" backup "$db") || die "backup failed; nothing was migrated (--no-backup skips it)"
  echo "Backup of $db written to $copy"
fi

locked() {
  if command -v flock >/dev/null 2>&1; then
    # relsync.Up in engram's processes takes the same lock: goose has no SQLite locker of its own.
    local fd status=0
    exec {fd}>>"$db.relsync-lock"
    flock -w "${RELSYNC_LOCK_WAIT:-60}" "$fd" ||
      die "another process holds $db.relsync-lock (a relsync install is running); try again"
    "$@" || status=$?
    exec {fd}>&-
    return "$status"
  fi
  echo "goose.sh: flock(1) not found: running without relsync's lock" >&2
  "$@"
}

if [[ $1 == up ]]; then
  # goose installs or upgrades the triggers, short of the backfill's migration; cmd/relsync then
  # journals what is missing in short transactions and applies the rest through the same files.
  if ((current < backfill_version - 1)); then
    locked run_goose "$rw_dsn" up-to $((backfill_version - 1))
  fi
  "$relsync" up --no-backup "$db"
  exit 0
fi

locked run_goose "$rw_dsn" "$@"

case $1 in
  down | down-to | redo | reset) echo "relsync's journal rows stay in sync_mutations: they are engram's data." ;;
esac
