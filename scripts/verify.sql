-- relsync, checked from the sqlite3 shell (3.40 and later):
--
--   sqlite3 engram.db < scripts/verify.sql
--
-- Prints which relsync objects are installed and whether they are as relsync installed them, and
-- per enrolled project how many relations belong in the cloud-sync journal and how many lack their
-- row. It reads relsync's views (relsync_coverage and friends, migrations/00005_relsync.sql), the ones relsync.Verify
-- reads. It writes nothing to the database: the connection is query-only (after a TEMP view and a
-- TEMP table, which live in this connection only) and does not checkpoint the WAL on close.
-- Counting is a pass over every relation: it runs once, into the TEMP table, and the list of
-- missing sync_ids (a second pass) only when some are missing.
-- It exits 1 when relsync is not installed or behind this checkout, when an object of it is
-- missing or changed, or when a relation lacks its journal row; the last line says why.
.output /dev/null
.dbconfig no_ckpt_on_close on
.output
.bail on
.headers off
.mode list

-- A bad JSON path is the one error a plain SELECT can raise with a message of our choosing.
SELECT json_extract('{}', 'relsync is not installed in this database (no view relsync_object_state). '
  || 'scripts/goose.sh <db> up installs it; go run ./cmd/relsync verify <db> counts what it would backfill')
WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'relsync_object_state')
   OR NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'relsync_db_version');

-- goose appends a row per apply and per rollback: a version's last row says where it stands.
-- latest is the newest migration of this checkout: keep it equal to the last file in migrations/.
CREATE TEMP VIEW relsync_verify_version AS
SELECT ifnull(max(v.version_id), 0) AS installed, 5 AS latest
FROM main.relsync_db_version AS v
WHERE v.version_id > 0 AND v.is_applied
  AND v.id = (SELECT max(w.id) FROM main.relsync_db_version AS w WHERE w.version_id = v.version_id);

SELECT 'relsync version ' || installed || ' installed'
       || CASE WHEN installed = latest THEN '' ELSE ' (this checkout has version ' || latest || ')' END
FROM temp.relsync_verify_version;
-- Behind this checkout, relsync's views count by an older rule (and lack columns): say so and stop.
SELECT json_extract('{}', 'NOT OK: relsync is at version ' || installed || ', this checkout has ' || latest
                          || ' (run scripts/goose.sh <db> up)')
FROM temp.relsync_verify_version WHERE installed <> latest;
SELECT count(*) || ' objects as relsync installed them' FROM relsync_object_state WHERE state = 'ok';
.headers on
.mode column
SELECT name AS object, type, state FROM relsync_object_state WHERE state <> 'ok' ORDER BY name;

CREATE TEMP TABLE relsync_verify_coverage AS SELECT * FROM main.relsync_coverage;
PRAGMA query_only = ON;

.print
.print Relations that belong in the journal, per enrolled project
SELECT project, eligible, journaled, stale, missing, from_cloud, unacked FROM temp.relsync_verify_coverage ORDER BY project;

.headers off
.mode list
SELECT char(10) || 'Missing journal rows (up to 20 sync_ids per project):'
WHERE EXISTS (SELECT 1 FROM temp.relsync_verify_coverage WHERE missing > 0);
.headers on
.mode column
SELECT project, entity_key AS sync_id FROM relsync_relation_missing
WHERE EXISTS (SELECT 1 FROM temp.relsync_verify_coverage WHERE missing > 0)  -- no pass when none are
  AND n <= 20 AND project IN (SELECT project FROM temp.relsync_verify_coverage WHERE missing > 0)
ORDER BY project, n;

.headers off
.mode list
SELECT char(10) || 'memory_relations columns the payload does not carry: ' || group_concat(name, ', ')
FROM relsync_unjournaled_columns HAVING count(*) > 0;
SELECT char(10) || 'Journal rows whose relation is gone: ' || count(*)
FROM relsync_journal_orphans HAVING count(*) > 0;

.print
SELECT json_extract('{}', 'NOT OK: ' || group_concat(problem, '; '))
FROM (
  SELECT count(*) || ' relsync object(s) missing, changed or unexpected' AS problem
  FROM relsync_object_state WHERE state <> 'ok' HAVING count(*) > 0
  UNION ALL
  SELECT sum(missing) || ' relation(s) without their journal row' FROM temp.relsync_verify_coverage
  HAVING sum(missing) > 0
  UNION ALL
  SELECT sum(stale) || ' relation(s) whose latest journal row is outdated' FROM temp.relsync_verify_coverage
  HAVING sum(stale) > 0
  UNION ALL
  SELECT count(*) || ' memory_relations column(s) the payload does not carry'
  FROM relsync_unjournaled_columns HAVING count(*) > 0
)
HAVING count(*) > 0;
SELECT 'OK: relsync is installed as it should be, and every relation that belongs in the journal has its row';
