#!/usr/bin/env bash
# relsync in two minutes, with nothing but Go installed: an engram database with issue #496's gap,
# migrated from the terminal with the stock goose CLI, checked, and then used by engram v1.16.3.
# Exits non-zero if any step fails. The database is left in a temp directory to look at.
# RELSYNC_SQLITE3 names the sqlite3 shell (default: sqlite3 on PATH; without one, step 4 reads the
# same views through Go).
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/relsync-demo.XXXXXX")
db=$work/engram.db
relsync=$work/bin/relsync
engram=$work/bin/relsync-demo # plays engram v1.16.3 (relsync's replica of it)

fail() {
  printf '\ndemo failed: %s\n' "$*" >&2
  exit 1
}
step() { printf '\n%s\n' "$*"; }

# indent runs a command with its output indented and returns the command's status.
indent() {
  set +o pipefail
  "$@" 2>&1 | sed 's/^/  /'
  local status=${PIPESTATUS[0]}
  set -o pipefail
  return "$status"
}

echo "Building relsync's command and the demo's engram (the first run downloads and compiles their Go modules: up to a minute)..."
start=$SECONDS
go -C "$repo" build -o "$relsync" ./cmd/relsync || fail "cannot build cmd/relsync"
go -C "$repo" build -o "$engram" ./cmd/relsync-demo || fail "cannot build cmd/relsync-demo"
echo "  built in $((SECONDS - start)) s"
echo

echo "Engram v1.16.3 sends a relation to the cloud only if it wrote a journal row for it,"
echo "and three of its paths never do (issue #496). relsync makes the database write them."

step "1. An engram v1.16.3 database ($db), written by relsync's replica of engram v1.16.3"
echo "   (internal/engram: its exact schema and its own write statements), not by engram's binary:"
indent "$engram" db "$db" || fail "building the demo database"

step "2. What the cloud will never get (relsync verify: the Go API):"
status=0
report=$("$relsync" verify "$db" 2>&1) || status=$?
printf '%s\n' "$report" | sed 's/^/  /'
[[ $status -eq 1 && $report == *"NOT OK"* ]] || fail "relsync verify should have found missing rows"

step "3. Migrate from the terminal with the goose CLI (scripts/goose.sh engram.db up): it backs the"
echo "   file up, goose installs the triggers, then relsync journals the missing rows in short"
echo "   transactions. The first run builds goose (the version go.mod pins) with go run first (about a minute; Go says"
echo "   what it downloads):"
indent bash "$repo/scripts/goose.sh" "$db" up || fail "goose up"

sqlite3=${RELSYNC_SQLITE3:-sqlite3}
if command -v "$sqlite3" >/dev/null 2>&1; then
  step "4. Check with the sqlite3 shell (sqlite3 -readonly engram.db < scripts/verify.sql):"
  indent "$sqlite3" -readonly "$db" <"$repo/scripts/verify.sql" || fail "verify.sql found a problem"
else
  step "4. Check (no sqlite3 shell here, so the same views through Go: relsync verify):"
  indent "$relsync" verify "$db" || fail "verify found a problem"
fi

step "5. Engram v1.16.3 judges a new relation; the trigger writes the row its Go code forgets:"
indent "$engram" judge "$db" || fail "the new relation has no journal row"

step "Done. Every relation that belongs in the cloud has its journal row. Database: $db"
