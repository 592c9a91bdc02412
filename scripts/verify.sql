-- relsync, checked from the sqlite3 shell (3.40 and later):
--
--   sqlite3 -readonly engram.db < scripts/verify.sql
--
-- (-readonly: a mistyped path is an error, not a new empty file.) Prints which relsync objects are
-- installed and whether they are as relsync installed them, and per enrolled project how many
-- relations belong in the cloud-sync journal and how many lack their row. It reads relsync's views
-- (relsync_coverage and friends, migrations/00005_relsync.sql), the ones relsync.Verify reads. It
-- writes nothing to the database: the connection is query-only (after two TEMP views and two TEMP
-- tables, which live in this connection only) and does not checkpoint the WAL on close.
-- Counting is a pass over every relation: it runs once, into a TEMP table, and the list of
-- missing sync_ids (a second pass) only when some are missing.
-- The last line on stdout is `OK: …` (exit 0) or `NOT OK: …` (exit 1) with the command that fixes
-- what it found; on NOT OK the shell adds one line on stderr (the error that makes it exit 1).
.output /dev/null
.dbconfig no_ckpt_on_close on
.output
.bail on
.headers off
.mode list

-- Exit 1 after the last line: the sqlite3 shell's exit status follows an error (.bail on), and a
-- TEMP trigger's RAISE is the error whose message we choose.
CREATE TEMP TABLE relsync_verify_exit (gap);
CREATE TEMP TRIGGER relsync_verify_exit_1 AFTER INSERT ON relsync_verify_exit
BEGIN SELECT RAISE(FAIL, 'verify.sql: exit 1 (the last line above says why)'); END;

SELECT 'NOT OK: relsync is not installed in this database (no view relsync_object_state). '
  || 'Fix: go run ./cmd/relsync up <db> installs it (from relsync''s checkout); go run ./cmd/relsync verify <db> counts what it would backfill'
WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'relsync_object_state')
   OR NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'relsync_db_version');
INSERT INTO temp.relsync_verify_exit SELECT 1
WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'view' AND name = 'relsync_object_state')
   OR NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'relsync_db_version');

-- goose appends a row per apply and per rollback: a version's last row says where it stands.
-- TestVersionLastRowDecides (tests/tools) keeps this rule in step with Go's readState (state.go).
-- latest is the newest migration of this checkout: keep it equal to the last file in migrations/.
CREATE TEMP VIEW relsync_verify_version AS
SELECT ifnull(max(v.version_id), 0) AS installed, 6 AS latest
FROM main.relsync_db_version AS v
WHERE v.version_id > 0 AND v.is_applied
  AND v.id = (SELECT max(w.id) FROM main.relsync_db_version AS w WHERE w.version_id = v.version_id);

SELECT 'relsync version ' || installed || ' installed'
       || CASE WHEN installed = latest THEN '' ELSE ' (this checkout has version ' || latest || ')' END
FROM temp.relsync_verify_version;
-- Before the baseline's backfill step, relsync's views count by an older rule (and lack columns):
-- say so and stop.
SELECT 'NOT OK: relsync is at version ' || installed || ', this checkout has ' || latest
       || '. Fix: go run ./cmd/relsync up <db> (from relsync''s checkout; it backs the file up first)'
FROM temp.relsync_verify_version WHERE installed < latest - 1;
INSERT INTO temp.relsync_verify_exit SELECT 1 FROM temp.relsync_verify_version WHERE installed < latest - 1;
SELECT count(*) || ' objects as relsync installed them' FROM relsync_object_state WHERE state = 'ok';
.headers on
.mode column
SELECT name AS object, type, state FROM relsync_object_state WHERE state <> 'ok' ORDER BY name;

CREATE TEMP TABLE relsync_verify_coverage AS SELECT * FROM main.relsync_coverage;
-- What is wrong, each with the command that fixes it (fix 1: relsync up, 2: relsync repair, 3: none).
CREATE TEMP VIEW relsync_verify_problem AS
SELECT CASE WHEN installed = latest - 1 THEN 'the backfill has not finished (relsync at version ' || installed || ' of ' || latest || ')'
            ELSE 'relsync is at version ' || installed || ', this checkout has ' || latest END AS problem, 1 AS fix
FROM temp.relsync_verify_version WHERE installed <> latest
UNION ALL
SELECT count(*) || ' relsync object(s) missing, changed or unexpected', 2
FROM relsync_object_state WHERE state <> 'ok' HAVING count(*) > 0
UNION ALL
SELECT sum(missing) || ' relation(s) without their journal row', 2 FROM temp.relsync_verify_coverage
HAVING sum(missing) > 0
UNION ALL
SELECT sum(stale) || ' relation(s) whose latest journal row is outdated', 2 FROM temp.relsync_verify_coverage
HAVING sum(stale) > 0
UNION ALL
SELECT count(*) || ' memory_relations column(s) the payload does not carry', 3
FROM relsync_unjournaled_columns HAVING count(*) > 0;
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
SELECT 'NOT OK: ' || group_concat(problem, '; ') || '. Fix: ' || CASE min(fix)
  WHEN 1 THEN 'go run ./cmd/relsync up <db> (from relsync''s checkout; it backs the file up first)'
  WHEN 2 THEN 'go run ./cmd/relsync repair <db> (from relsync''s checkout; it backs the file up first)'
  ELSE 'none in this relsync: a newer release must carry those columns' END
FROM temp.relsync_verify_problem HAVING count(*) > 0;
SELECT 'OK: relsync is installed as it should be, and every relation that belongs in the journal has its row'
WHERE NOT EXISTS (SELECT 1 FROM temp.relsync_verify_problem);
PRAGMA query_only = OFF;
INSERT INTO temp.relsync_verify_exit SELECT 1 WHERE EXISTS (SELECT 1 FROM temp.relsync_verify_problem);
