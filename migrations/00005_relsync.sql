-- relsync: engram's relations journal themselves.
--
-- The baseline of relsync's first release. It installs, in one transaction: the views that say
-- which relations belong in engram's cloud-sync journal and what their payload is, the triggers
-- that keep the journal complete, and a one-time backfill of the relations that lack a row.
-- Every object is named relsync_*; of engram's objects only the rows engram itself would write
-- (sync_mutations, sync_state) are written.
--
-- SQLite compiles every trigger that a statement can fire into that statement, views included,
-- each time engram prepares it. So the heavy part (the payload) sits in one place that every
-- writer reaches through a write-only view, and comments stay outside the statements: SQLite keeps
-- a statement's text in the schema that every engram connection parses when it opens.

-- +goose Up

-- Engram's tables and columns must be there; otherwise fail, naming what is missing, before
-- anything is written (a bad JSON path is the one error a plain SELECT can raise with a message
-- of our choosing). Go runs this section by its name before an install. (A section named
-- relsync:view is one that Verify also defines as a TEMP object to count on a database where
-- relsync is not installed.)
-- +goose StatementBegin
-- relsync:precheck
WITH need(t, c) AS (VALUES
  ('memory_relations', 'id'), ('memory_relations', 'sync_id'), ('memory_relations', 'source_id'),
  ('memory_relations', 'target_id'), ('memory_relations', 'relation'), ('memory_relations', 'reason'),
  ('memory_relations', 'evidence'), ('memory_relations', 'confidence'),
  ('memory_relations', 'judgment_status'), ('memory_relations', 'marked_by_actor'),
  ('memory_relations', 'marked_by_kind'), ('memory_relations', 'marked_by_model'),
  ('memory_relations', 'session_id'), ('memory_relations', 'created_at'),
  ('memory_relations', 'updated_at'),
  ('sync_mutations', 'seq'), ('sync_mutations', 'target_key'), ('sync_mutations', 'entity'),
  ('sync_mutations', 'entity_key'), ('sync_mutations', 'op'), ('sync_mutations', 'payload'),
  ('sync_mutations', 'source'), ('sync_mutations', 'acked_at'), ('sync_mutations', 'project'),
  ('sync_state', 'target_key'), ('sync_state', 'lifecycle'), ('sync_state', 'last_enqueued_seq'),
  ('sync_state', 'updated_at'), ('sync_enrolled_projects', 'project'),
  ('observations', 'id'), ('observations', 'sync_id'), ('observations', 'session_id'),
  ('observations', 'project'), ('observations', 'deleted_at'),
  ('sessions', 'id'), ('sessions', 'project')
),
missing(what) AS (
  SELECT DISTINCT CASE
    WHEN NOT EXISTS (SELECT 1 FROM pragma_table_info(need.t)) THEN 'table ' || need.t
    ELSE 'column ' || need.t || '.' || need.c END
  FROM need
  WHERE NOT EXISTS (SELECT 1 FROM pragma_table_info(need.t) AS col WHERE col.name = need.c)
  UNION ALL
  SELECT 'index idx_sync_mutations_lookup'
  WHERE NOT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = 'idx_sync_mutations_lookup')
)
SELECT json_extract('{}', 'relsync: not an engram database with a sync journal; missing ' ||
                          group_concat(what, ', '))
FROM missing
HAVING count(*) > 0;
-- +goose StatementEnd

-- Pre-release relsync (versions 1 to 4) installed objects under some of these names: they go, and
-- their version rows with them, so that this baseline is the only version a database records.
-- The tables that hold data stay: relsync_reorder, and relsync_remote until its keys move (below).
DROP TRIGGER IF EXISTS relsync_session_au;
DROP TRIGGER IF EXISTS relsync_observation_au;
DROP TRIGGER IF EXISTS relsync_enrolled_ai;
DROP TRIGGER IF EXISTS relsync_relation_au;
DROP TRIGGER IF EXISTS relsync_relation_ai;
DROP TRIGGER IF EXISTS relsync_journal_ai;
DROP TRIGGER IF EXISTS relsync_order_move_ai;
DROP TRIGGER IF EXISTS relsync_order_wait_ai;
DROP VIEW IF EXISTS relsync_journal_orphans;
DROP VIEW IF EXISTS relsync_unjournaled_columns;
DROP VIEW IF EXISTS relsync_object_state;
DROP VIEW IF EXISTS relsync_relation_missing;
DROP VIEW IF EXISTS relsync_coverage;
DROP VIEW IF EXISTS relsync_relation_coverage;
DROP VIEW IF EXISTS relsync_observation_unjournaled;
DROP VIEW IF EXISTS relsync_schema;
DROP VIEW IF EXISTS relsync_relation_journal;
DROP VIEW IF EXISTS relsync_go_float;
DROP VIEW IF EXISTS relsync_relation_eligible;
DROP VIEW IF EXISTS relsync_relation_scope;
DROP TABLE IF EXISTS relsync_objects;
DELETE FROM relsync_db_version WHERE version_id BETWEEN 1 AND 4;

-- Relations that a remote apply (cloud pull, import, deferred replay: a write carrying the origin's
-- older updated_at) wrote: the updated_at of the latest one, since a relation whose state came from
-- the cloud is not outdated in the cloud whatever its last local row says; and whether one arrived
-- while the relation had no local row (the cloud has it already, so Verify does not count it as
-- missing, nor the backfill journal it). Pre-release versions kept only the latter, as
-- relsync_remote: its keys carry over.
CREATE TABLE IF NOT EXISTS relsync_remote (entity_key TEXT PRIMARY KEY) WITHOUT ROWID;
-- +goose StatementBegin
-- relsync:view
CREATE TABLE IF NOT EXISTS relsync_remote_apply (
  entity_key TEXT PRIMARY KEY,
  updated_at TEXT,
  unjournaled INTEGER NOT NULL
) WITHOUT ROWID;
-- +goose StatementEnd
INSERT OR IGNORE INTO relsync_remote_apply (entity_key, updated_at, unjournaled) SELECT entity_key, NULL, 1 FROM relsync_remote;
DROP TABLE relsync_remote;

-- Relation rows relsync wrote before one of their observations had its own journal row: when
-- engram writes that row, the relation row moves behind it (relsync_order_ai).
CREATE TABLE IF NOT EXISTS relsync_reorder (
  observation TEXT NOT NULL,
  entity_key  TEXT NOT NULL,
  PRIMARY KEY (observation, entity_key)
) WITHOUT ROWID;

-- A relation's local journal row: the one home of that predicate. Its lookups use engram's
-- idx_sync_mutations_lookup (target_key, entity, entity_key, source).
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_local_row AS
SELECT seq, entity_key, acked_at, payload, project FROM sync_mutations
WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local';
-- +goose StatementEnd

-- The relations that belong in the journal (engram v1.17's rule): judged (not pending, not
-- orphaned), marked by an actor and a kind, both observations live, and the payload's project
-- enrolled. The payload's project is the source observation's, else its session's, compared with
-- sync_enrolled_projects as stored, never normalized, as engram compares it: engram normalizes
-- names when it saves them, so a raw name that differs (an imported `Alpha` while `alpha` is
-- enrolled) is one whose observations engram never journals either. Being an enrolled name, it is
-- also the journal row's project column. Observations are matched by sync_id, the first live one
-- by id, so that a duplicated sync_id never doubles a row; CROSS JOIN keeps relations driving the
-- loop, so a trigger looks one relation up by its id.
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_relation_eligible AS
SELECT r.id AS relation_id, r.sync_id AS entity_key, e.project
FROM memory_relations AS r
CROSS JOIN (SELECT o.sync_id, CASE WHEN CAST(o.project AS TEXT) <> '' THEN CAST(o.project AS TEXT)
  ELSE (SELECT CAST(p.project AS TEXT) FROM sessions AS p WHERE p.id = o.session_id) END AS project
  FROM observations AS o
  WHERE o.deleted_at IS NULL
    AND o.id = (SELECT min(d.id) FROM observations AS d WHERE d.sync_id = o.sync_id AND d.deleted_at IS NULL)) AS s
  ON s.sync_id = r.source_id
JOIN sync_enrolled_projects AS e ON e.project = s.project
WHERE CAST(r.judgment_status AS TEXT) NOT IN ('pending', 'orphaned', '')
  AND CAST(r.marked_by_actor AS TEXT) <> '' AND CAST(r.marked_by_kind AS TEXT) <> ''
  AND CAST(r.sync_id AS TEXT) <> '' AND CAST(r.relation AS TEXT) <> ''
  AND CAST(r.source_id AS TEXT) <> '' AND CAST(r.target_id AS TEXT) <> '' AND e.project <> ''
  AND EXISTS (SELECT 1 FROM observations AS t WHERE t.sync_id = r.target_id AND t.deleted_at IS NULL);
-- +goose StatementEnd

-- Each eligible relation and what its latest local journal row says of it: NULL when it has none;
-- 'current' when that row carries the relation as it is now, or the relation's state came from the
-- cloud (relsync_remote_apply), with the same project column either way; 'stale' when it changed
-- while not eligible (unenrolled, an observation soft-deleted) or a rename moved its project since.
-- "Carries": the payload holds the relation's updated_at, verdict and status as Go writes them.
-- Each is found as its key and JSON-quoted value (a key's quotes never occur unescaped inside a
-- JSON string), by instr, which reads no JSON: every local write stamps updated_at anew, and the
-- verdict and status tell apart changes made within one second. (A change of reason or confidence
-- alone within the same second as the row is not seen; a value Go escapes otherwise than SQLite,
-- `<>&` or invalid UTF-8, reads as stale, and costs one row more.)
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_relation_state AS
SELECT e.relation_id, e.entity_key, e.project,
  (SELECT CASE WHEN m.project IS e.project
      AND ((instr(m.payload, '"updated_at":' || json_quote(CAST(r.updated_at AS TEXT)) || '}') > 0
            AND instr(m.payload, '"relation":' || json_quote(CAST(r.relation AS TEXT)) || ',') > 0
            AND instr(m.payload, '"judgment_status":' || json_quote(CAST(r.judgment_status AS TEXT)) || ',') > 0)
        OR (SELECT updated_at FROM relsync_remote_apply AS rs WHERE rs.entity_key = e.entity_key) IS CAST(r.updated_at AS TEXT))
    THEN 'current' ELSE 'stale' END
   FROM relsync_local_row AS m WHERE m.entity_key = e.entity_key ORDER BY m.seq DESC LIMIT 1) AS journal
FROM relsync_relation_eligible AS e JOIN memory_relations AS r ON r.id = e.relation_id;
-- +goose StatementEnd

-- Eligible relations whose journal lacks a current row (none at all: the last clause of engram
-- v1.17's rule; or only a stale one): what the backfill and the catch-up triggers journal.
-- +goose StatementBegin
CREATE VIEW relsync_relation_unjournaled AS
SELECT relation_id, entity_key, project FROM relsync_relation_state WHERE journal IS NOT 'current';
-- +goose StatementEnd

-- How relsync journals a relation: INSERT INTO relsync_outbox (relation_id, project), for an
-- eligible relation (its project as relsync_relation_eligible gives it). The view holds nothing: its trigger builds the payload
-- and hands the row to relsync_outbox_row. Each is written once, and compiled once into an
-- engram statement however many of relsync's triggers that statement fires.
CREATE VIEW relsync_outbox (relation_id, project) AS SELECT NULL, NULL WHERE 0;

-- The payload as JSON text: the fields of engram's Go struct in its order, `?` fields left out when
-- NULL (sync_id, source_id, target_id, relation, reason?, evidence?, confidence?, judgment_status,
-- marked_by_actor, marked_by_kind, marked_by_model?, session_id?, project, created_at,
-- updated_at). json_quote escapes as Go does for quotes, backslashes and control characters; what
-- Go escapes beyond that, and text that is not valid UTF-8, relsync_outbox_row settles.
-- The confidence is written as Go's encoding/json writes a float64: the shortest digits that read back to the
-- same double (printf's %g at 15 digits, else 16, else 17, which for a normal double gives the
-- shortest once %g drops trailing zeros; a subnormal searches from 1; '!' gives exact digits up to
-- 17 and a '.0' that Go does not write), in fixed notation from 1e-6 up to 1e21 and exponent form outside
-- it, with Go's `e-7` for printf's `e-07`; where printf chose exponent form and Go writes fixed
-- notation, its digits d are placed around the point by exponent x. NULL when the column holds no
-- finite number: the field is then left out. g, x and d are read through json_each so that each
-- is computed once per row.
--
-- +goose StatementBegin
CREATE TRIGGER relsync_outbox_payload INSTEAD OF INSERT ON relsync_outbox
BEGIN
  INSERT INTO relsync_outbox_row (entity_key, project, payload)
  VALUES ((SELECT sync_id FROM memory_relations WHERE id = NEW.relation_id), NEW.project, (SELECT
  '{"sync_id":' || json_quote(CAST(r.sync_id AS TEXT)) ||
    ',"source_id":' || json_quote(CAST(r.source_id AS TEXT)) ||
    ',"target_id":' || json_quote(CAST(r.target_id AS TEXT)) ||
    ',"relation":' || json_quote(CAST(r.relation AS TEXT)) ||
    CASE WHEN r.reason IS NULL THEN '' ELSE ',"reason":' || json_quote(CAST(r.reason AS TEXT)) END ||
    CASE WHEN r.evidence IS NULL THEN '' ELSE ',"evidence":' || json_quote(CAST(r.evidence AS TEXT)) END ||
    ifnull(',"confidence":' || (SELECT CASE
        WHEN instr(g.value, 'e') = 0 THEN CASE WHEN g.value LIKE '%.0' THEN substr(g.value, 1, length(g.value) - 2) ELSE g.value END
        WHEN x.value NOT BETWEEN -6 AND 20 THEN replace(replace(g.value, '.0e', 'e'), 'e-0', 'e-')
        ELSE CASE WHEN g.value LIKE '-%' THEN '-' ELSE '' END || CASE
          WHEN x.value < 0 THEN '0.' || substr('00000', 1, -x.value - 1) || d.value
          WHEN length(d.value) <= x.value + 1 THEN d.value || substr('00000000000000000000', 1, x.value + 1 - length(d.value))
          ELSE substr(d.value, 1, x.value + 1) || '.' || substr(d.value, x.value + 2) END END
      FROM (SELECT CAST(r.confidence AS REAL) AS c
            WHERE typeof(r.confidence) IN ('real', 'integer') AND abs(CAST(r.confidence AS REAL)) <= 1.7976931348623157e308),
        json_each(json_array(printf('%!.*g', CASE
        WHEN abs(c) < 2.2250738585072014e-308 AND c <> 0 THEN (SELECT min(k.value) FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]') AS k
                                                              WHERE CAST(printf('%!.*g', k.value, c) AS REAL) = c)
        WHEN CAST(printf('%!.15g', c) AS REAL) = c THEN 15
                                                     WHEN CAST(printf('%!.16g', c) AS REAL) = c THEN 16 ELSE 17 END, c))) AS g,
           json_each(json_array(CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER))) AS x,
           json_each(json_array(replace(rtrim(ltrim(substr(g.value, 1, instr(g.value, 'e') - 1), '-'), '0'), '.', ''))) AS d), '') ||
    ',"judgment_status":' || json_quote(CAST(r.judgment_status AS TEXT)) ||
    ',"marked_by_actor":' || json_quote(CAST(r.marked_by_actor AS TEXT)) ||
    ',"marked_by_kind":' || json_quote(CAST(r.marked_by_kind AS TEXT)) ||
    CASE WHEN r.marked_by_model IS NULL THEN '' ELSE ',"marked_by_model":' || json_quote(CAST(r.marked_by_model AS TEXT)) END ||
    CASE WHEN r.session_id IS NULL THEN '' ELSE ',"session_id":' || json_quote(CAST(r.session_id AS TEXT)) END ||
    ',"project":' || json_quote(NEW.project) ||
    ',"created_at":' || json_quote(CAST(r.created_at AS TEXT)) ||
    ',"updated_at":' || json_quote(CAST(r.updated_at AS TEXT)) || '}'
    FROM memory_relations AS r WHERE r.id = NEW.relation_id));
END;
-- +goose StatementEnd

-- The one way relsync writes a journal row: INSERT INTO relsync_outbox_row (entity_key, project,
-- payload). The view holds nothing; its trigger writes the row as engram does.
CREATE VIEW relsync_outbox_row (entity_key, project, payload) AS SELECT NULL, NULL, NULL WHERE 0;

-- The row, as engram writes one (the sync_state rows 'cloud' and 'cloud:<project>' exist, the
-- row goes in, both are set pending at its seq), with the payload made what Go writes:
--   * text that is not valid UTF-8 gets U+FFFD for each invalid byte, as Go does; only a payload
--     with a byte beyond ASCII is walked (GLOB: any character outside U+0001..U+007F; json_quote
--     has escaped NUL, which GLOB would stop at). Each step of the walk reads the payload as a
--     BLOB at byte p and takes the n bytes that ltrim strips from a 64-byte window there: whole
--     characters that byte-equal an entry of a set of canonical encodings (U+FFFE and U+FFFF,
--     which SQLite's decoder folds to U+FFFD; c re-encoded; the window's second character
--     re-encoded; ASCII, common characters first since ltrim tries entries in order). c is the
--     character at p cut to the length its lead byte gives (a json_each "let": computed once per
--     step); a character SQLite re-encodes unchanged is valid UTF-8 and strips. When nothing
--     strips, c is not valid: one byte, n = -1, written X'FF', a byte valid UTF-8 never holds.
--     Stripping whole canonical encodings is what Go's decoder does with them too, and no step
--     reads more than 64 bytes, so the walk is linear in the payload's length;
--   * Go's escapes beyond json_quote's: & < > U+2028 U+2029, and the X'FF' marks as \ufffd.
--     They can only occur inside strings, so one pass over the payload does.
-- The relation's observations that have no journal row yet are noted in relsync_reorder.
-- +goose StatementBegin
CREATE TRIGGER relsync_outbox_row_write INSTEAD OF INSERT ON relsync_outbox_row
BEGIN
  INSERT INTO sync_state (target_key) VALUES ('cloud'), ('cloud:' || NEW.project) ON CONFLICT (target_key) DO NOTHING;
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
  VALUES ('cloud', 'relation', NEW.entity_key, 'upsert', replace(replace(replace(
    CASE WHEN NEW.payload NOT GLOB '*[^' || char(1) || '-' || char(127) || ']*' THEN NEW.payload ELSE (
      WITH RECURSIVE walk(p, n) AS (
        SELECT 1, 0
        UNION ALL
        SELECT p + abs(n), coalesce(nullif(length(substr(CAST(NEW.payload AS BLOB), p + abs(n), 64))
          - length(CAST(ltrim(CAST(substr(CAST(NEW.payload AS BLOB), p + abs(n), 64) AS TEXT),
              char(65534, 65535, unicode(c.value), unicode(substr(CAST(substr(CAST(NEW.payload AS BLOB), p + abs(n), 64) AS TEXT), 2, 1)))
              || ' etaoinsrhldcumfpgwybvkxjqz":,ETAOINSRHLDCUMFPGWYBVKXJQZ0123456789.-_/\{}[]()!?;''*+=#%@$^~|`<>&' || char(127)) AS BLOB)), 0), -1)
        FROM walk, json_each(json_array(CAST(substr(CAST(NEW.payload AS BLOB), p + abs(n),
          1 + (substr(CAST(NEW.payload AS BLOB), p + abs(n), 1) >= X'C0') + (substr(CAST(NEW.payload AS BLOB), p + abs(n), 1) >= X'E0')
            + (substr(CAST(NEW.payload AS BLOB), p + abs(n), 1) >= X'F0')) AS TEXT))) AS c
        WHERE p + abs(n) <= length(CAST(NEW.payload AS BLOB)))
      SELECT replace(replace(replace(group_concat(CASE WHEN n < 0 THEN X'FF' ELSE substr(CAST(NEW.payload AS BLOB), p, n) END, ''),
        X'FF', '\ufffd'), char(8232), '\u2028'), char(8233), '\u2029')
      FROM walk) END,
    '&', '\u0026'), '<', '\u003c'), '>', '\u003e'),
    'local', NEW.project);
  UPDATE sync_state SET lifecycle = 'pending', last_enqueued_seq = last_insert_rowid(), updated_at = datetime('now')
    WHERE target_key = 'cloud';
  UPDATE sync_state SET lifecycle = 'pending', last_enqueued_seq = last_insert_rowid(), updated_at = datetime('now')
    WHERE target_key = 'cloud:' || NEW.project AND target_key <> 'cloud:inbox';
  INSERT OR IGNORE INTO relsync_reorder (observation, entity_key)
    SELECT o.sync_id, NEW.entity_key FROM memory_relations AS r JOIN observations AS o ON o.sync_id = r.source_id
    WHERE r.sync_id = NEW.entity_key AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m WHERE m.target_key = 'cloud'
      AND m.entity = 'observation' AND m.entity_key = o.sync_id AND m.source = 'local');
  INSERT OR IGNORE INTO relsync_reorder (observation, entity_key)
    SELECT o.sync_id, NEW.entity_key FROM memory_relations AS r JOIN observations AS o ON o.sync_id = r.target_id
    WHERE r.sync_id = NEW.entity_key AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m WHERE m.target_key = 'cloud'
      AND m.entity = 'observation' AND m.entity_key = o.sync_id AND m.source = 'local');
END;
-- +goose StatementEnd

-- The backfill journals every eligible relation without a local row, in relation order, except
-- those that relsync saw arrive from the cloud (an upgrade from a pre-release, a repair). It runs
-- after the install, a range of relation ids per transaction, so that engram's other writers never
-- wait long for the lock: INSERT INTO relsync_backfill_range (size) VALUES (n) journals the
-- relations whose id is in [next_id, next_id + n) and moves next_id on, in one statement; a NULL
-- size takes every id left. next_id is NULL when no backfill is pending: this install, and a
-- repair (Go runs the restart section by its name), set it to 0. A step that a crash interrupts
-- rolls back whole, and the next one finds the relations journaled since (no row twice).
-- Migration 6 finishes the backfill for the goose CLI; Go's Backfill walks it in short steps first.
CREATE TABLE relsync_backfill (id INTEGER PRIMARY KEY CHECK (id = 1), next_id INTEGER);

-- +goose StatementBegin
-- relsync:backfill-restart
INSERT OR REPLACE INTO relsync_backfill (id, next_id) VALUES (1, 0);
-- +goose StatementEnd

CREATE VIEW relsync_backfill_range (size) AS SELECT NULL WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER relsync_backfill_range_run INSTEAD OF INSERT ON relsync_backfill_range
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
  SELECT relation_id, project FROM relsync_relation_unjournaled
  WHERE relation_id >= (SELECT next_id FROM relsync_backfill)
    AND relation_id < ifnull((SELECT next_id FROM relsync_backfill) + NEW.size, 9223372036854775807)
    AND (entity_key NOT IN (SELECT entity_key FROM relsync_remote_apply WHERE unjournaled)
         OR EXISTS (SELECT 1 FROM relsync_local_row AS m WHERE m.entity_key = relsync_relation_unjournaled.entity_key))
  ORDER BY relation_id;
  UPDATE relsync_backfill SET next_id = CASE WHEN NEW.size IS NULL
    OR NOT EXISTS (SELECT 1 FROM memory_relations WHERE id >= next_id + NEW.size) THEN NULL ELSE next_id + NEW.size END;
END;
-- +goose StatementEnd

-- A write to memory_relations that may change what the journal holds. Local writes stamp
-- updated_at with datetime('now'), which inside a trigger equals its statement's: they are
-- journaled. A stamp with fractional seconds inside the current second (the form engram's Go
-- formats elsewhere, `2026-10-01 12:00:00.123456789`) counts as local too, so that a path adopting
-- it cannot stop journaling silently. A remote apply (cloud pull, import, deferred replay) carries
-- the origin's older stamp and is never journaled, so the cloud's echo of our own rows cannot
-- loop; it is remembered in relsync_remote_apply.
CREATE VIEW relsync_relation_write (relation_id, entity_key, updated_at) AS SELECT NULL, NULL, NULL WHERE 0;

-- +goose StatementBegin
CREATE TRIGGER relsync_relation_write_journal INSTEAD OF INSERT ON relsync_relation_write
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_eligible
    WHERE relation_id = NEW.relation_id
      AND (NEW.updated_at = datetime('now') OR NEW.updated_at GLOB datetime('now') || '.[0-9]*');
  INSERT INTO relsync_remote_apply (entity_key, updated_at, unjournaled)
    SELECT NEW.entity_key, CAST(NEW.updated_at AS TEXT), NOT EXISTS (SELECT 1 FROM relsync_local_row WHERE entity_key = NEW.entity_key)
    WHERE NOT (NEW.updated_at = datetime('now') OR NEW.updated_at GLOB datetime('now') || '.[0-9]*')
    ON CONFLICT (entity_key) DO UPDATE SET updated_at = excluded.updated_at, unjournaled = unjournaled OR excluded.unjournaled;
END;
-- +goose StatementEnd

-- Inserts, and updates of a column the payload carries whose value changed (a re-applied echo
-- changes none); statements that set no payload column never compile relsync's program.
-- +goose StatementBegin
CREATE TRIGGER relsync_relation_ai AFTER INSERT ON memory_relations
WHEN NEW.judgment_status NOT IN ('pending', 'orphaned')
BEGIN
  INSERT OR ABORT INTO relsync_relation_write VALUES (NEW.id, NEW.sync_id, NEW.updated_at);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_relation_au AFTER UPDATE OF sync_id, source_id, target_id, relation, reason,
  evidence, confidence, judgment_status, marked_by_actor, marked_by_kind, marked_by_model, session_id,
  created_at, updated_at ON memory_relations
WHEN NEW.judgment_status NOT IN ('pending', 'orphaned')
  AND (OLD.sync_id, OLD.source_id, OLD.target_id, OLD.relation, OLD.reason, OLD.evidence, OLD.confidence,
       OLD.judgment_status, OLD.marked_by_actor, OLD.marked_by_kind, OLD.marked_by_model, OLD.session_id,
       OLD.created_at, OLD.updated_at)
   IS NOT (NEW.sync_id, NEW.source_id, NEW.target_id, NEW.relation, NEW.reason, NEW.evidence, NEW.confidence,
       NEW.judgment_status, NEW.marked_by_actor, NEW.marked_by_kind, NEW.marked_by_model, NEW.session_id,
       NEW.created_at, NEW.updated_at)
BEGIN
  INSERT OR ABORT INTO relsync_relation_write VALUES (NEW.id, NEW.sync_id, NEW.updated_at);
END;
-- +goose StatementEnd

-- Relations that become eligible without a write to them get their row then (engram v1.17's
-- rule): when their project is enrolled, and when a rename, merge or restore moves or revives
-- their observations or sessions. Not on an observation's sync_id: engram only fills a missing
-- one with a new random id (engram v3 does so in every open's migrate pass), which no relation
-- can name yet, and listing it would compile this program into that statement at every open.
-- +goose StatementBegin
CREATE TRIGGER relsync_enrolled_ai AFTER INSERT ON sync_enrolled_projects
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE project = NEW.project ORDER BY relation_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_observation_au AFTER UPDATE OF project, deleted_at, session_id ON observations
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE relation_id IN (SELECT id FROM memory_relations WHERE source_id = NEW.sync_id
                          UNION SELECT id FROM memory_relations WHERE target_id = NEW.sync_id)
    ORDER BY relation_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_session_au AFTER UPDATE OF project ON sessions
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE relation_id IN (SELECT r.id FROM observations AS o JOIN memory_relations AS r ON r.source_id = o.sync_id
                          WHERE o.session_id = NEW.id)
    ORDER BY relation_id;
END;
-- +goose StatementEnd

-- When engram journals a change that relsync already journaled in the same transaction
-- (JudgeRelation when enrolled; v1.17's JudgeBySemantic), relsync's unacked row gives way, so each
-- change keeps one row and engram keeps the row whose seq it read back. Payloads are compared
-- without `project` (v1.16.3 computes it otherwise) and with the confidence compared as a number
-- (for some doubles that need 17 digits SQLite's printf and Go pick other last digits).
-- +goose StatementBegin
CREATE TRIGGER relsync_journal_ai AFTER INSERT ON sync_mutations
WHEN NEW.entity = 'relation' AND NEW.target_key = 'cloud' AND NEW.source = 'local'
  AND EXISTS (SELECT 1 FROM relsync_local_row WHERE entity_key = NEW.entity_key AND seq < NEW.seq AND acked_at IS NULL)
BEGIN
  DELETE FROM sync_mutations
  WHERE seq = (SELECT max(p.seq) FROM relsync_local_row AS p WHERE p.entity_key = NEW.entity_key AND p.seq < NEW.seq)
    AND acked_at IS NULL AND json_valid(payload) AND json_valid(NEW.payload)
    AND json_remove(payload, '$.project', '$.confidence') = json_remove(NEW.payload, '$.project', '$.confidence')
    AND json_extract(payload, '$.confidence') IS json_extract(NEW.payload, '$.confidence');
END;
-- +goose StatementEnd

-- A receiver parks a relation whose observations it has not seen yet, so engram v1.17 journals
-- relations after their observations. When engram writes the row of an observation that a
-- waiting relation row names, the relation row, still unpushed, is copied behind it
-- (relsync_journal_ai then drops the original as a double).
-- +goose StatementBegin
CREATE TRIGGER relsync_order_ai AFTER INSERT ON sync_mutations
WHEN NEW.entity = 'observation' AND NEW.target_key = 'cloud' AND NEW.source = 'local'
  AND EXISTS (SELECT 1 FROM relsync_reorder WHERE observation = NEW.entity_key)
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', m.entity_key, 'upsert', m.payload, 'local', m.project
    FROM relsync_reorder AS w
    JOIN relsync_local_row AS m ON m.seq = (SELECT max(p.seq) FROM relsync_local_row AS p WHERE p.entity_key = w.entity_key)
    WHERE w.observation = NEW.entity_key AND m.acked_at IS NULL AND m.seq < NEW.seq
    ORDER BY m.seq;
  DELETE FROM relsync_reorder WHERE observation = NEW.entity_key;
END;
-- +goose StatementEnd

-- What Verify (Go) and scripts/verify.sql report: each eligible relation, what its latest local
-- row says of it (relsync_relation_state), and whether it arrived from the cloud without one (then
-- it is not missing). MATERIALIZED: each relation's state is read once, however often the
-- counts below use it (a view flattened into them would run the state's subquery per use).
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_relation_coverage AS
WITH s AS MATERIALIZED (SELECT project, entity_key, journal FROM relsync_relation_state)
SELECT s.project, s.entity_key, s.journal,
  s.journal IS NULL AND EXISTS (SELECT 1 FROM relsync_remote_apply AS rr WHERE rr.entity_key = s.entity_key AND rr.unjournaled) AS from_cloud
FROM s;
-- +goose StatementEnd

-- Per enrolled project: relations that belong in the journal, how many have a current row, how
-- many only a stale one, how many are missing, how many came from the cloud, and how many relation
-- rows wait to be pushed (+m.entity: the unacked index, not every relation row).
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_coverage AS
SELECT e.project, ifnull(c.eligible, 0) AS eligible, ifnull(c.journaled, 0) AS journaled,
  ifnull(c.stale, 0) AS stale, ifnull(c.missing, 0) AS missing, ifnull(c.from_cloud, 0) AS from_cloud,
  (SELECT count(*) FROM sync_mutations AS m WHERE m.target_key = 'cloud' AND m.acked_at IS NULL
     AND +m.entity = 'relation' AND m.source = 'local' AND m.project = e.project) AS unacked
FROM sync_enrolled_projects AS e
LEFT JOIN (SELECT project, count(*) AS eligible, sum(journal IS 'current') AS journaled,
  sum(journal IS 'stale') AS stale, sum(journal IS NULL AND NOT from_cloud) AS missing, sum(from_cloud) AS from_cloud
  FROM relsync_relation_coverage GROUP BY project) AS c ON c.project = e.project;
-- +goose StatementEnd

-- The missing relations, numbered per project so that a report can show the first few.
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_relation_missing AS
SELECT project, entity_key, row_number() OVER (PARTITION BY project ORDER BY entity_key) AS n
FROM relsync_relation_coverage WHERE journal IS NULL AND NOT from_cloud;
-- +goose StatementEnd

-- Columns of memory_relations the payload does not carry and relsync does not know to leave out
-- (a column engram added after this release), and local relation rows whose relation is gone.
-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_unjournaled_columns AS
SELECT name FROM pragma_table_info('memory_relations')
WHERE name NOT IN ('id', 'sync_id', 'source_id', 'target_id', 'relation', 'reason', 'evidence', 'confidence',
  'judgment_status', 'marked_by_actor', 'marked_by_kind', 'marked_by_model', 'session_id', 'superseded_at',
  'superseded_by_relation_id', 'created_at', 'updated_at');
-- +goose StatementEnd

-- +goose StatementBegin
-- relsync:view
CREATE VIEW relsync_journal_orphans AS
SELECT m.seq, m.entity_key FROM relsync_local_row AS m
WHERE NOT EXISTS (SELECT 1 FROM memory_relations AS r WHERE r.sync_id = m.entity_key);
-- +goose StatementEnd

-- What this release installed, as SQLite stored it: Up, Verify and scripts/verify.sql compare the
-- live schema with it to find relsync objects that were dropped or changed.
-- +goose StatementBegin
CREATE VIEW relsync_schema AS
SELECT name, type, sql FROM sqlite_master
WHERE name LIKE 'relsync\_%' ESCAPE '\' AND sql IS NOT NULL AND name NOT IN ('relsync_objects', 'relsync_db_version');
-- +goose StatementEnd

-- +goose StatementBegin
CREATE VIEW relsync_object_state AS
SELECT o.name, o.type, CASE WHEN s.name IS NULL THEN 'missing' WHEN s.sql IS NOT o.sql THEN 'changed' ELSE 'ok' END AS state
FROM relsync_objects AS o LEFT JOIN relsync_schema AS s ON s.name = o.name AND s.type = o.type
UNION ALL
SELECT s.name, s.type, 'unexpected' FROM relsync_schema AS s WHERE s.name NOT IN (SELECT name FROM relsync_objects);
-- +goose StatementEnd

CREATE TABLE relsync_objects (name TEXT PRIMARY KEY, type TEXT NOT NULL, sql TEXT NOT NULL) WITHOUT ROWID;

INSERT INTO relsync_objects (name, type, sql) SELECT name, type, sql FROM relsync_schema;

-- +goose Down
-- Removes every relsync object; journal rows and sync_state stay as they are (engram's data).
DROP TRIGGER IF EXISTS relsync_backfill_range_run;
DROP VIEW IF EXISTS relsync_backfill_range;
DROP TABLE IF EXISTS relsync_backfill;
DROP TRIGGER IF EXISTS relsync_order_ai;
DROP TRIGGER IF EXISTS relsync_journal_ai;
DROP TRIGGER IF EXISTS relsync_session_au;
DROP TRIGGER IF EXISTS relsync_observation_au;
DROP TRIGGER IF EXISTS relsync_enrolled_ai;
DROP TRIGGER IF EXISTS relsync_relation_au;
DROP TRIGGER IF EXISTS relsync_relation_ai;
DROP TRIGGER IF EXISTS relsync_relation_write_journal;
DROP TRIGGER IF EXISTS relsync_outbox_row_write;
DROP TRIGGER IF EXISTS relsync_outbox_payload;
DROP TABLE IF EXISTS relsync_objects;
DROP VIEW IF EXISTS relsync_object_state;
DROP VIEW IF EXISTS relsync_schema;
DROP VIEW IF EXISTS relsync_journal_orphans;
DROP VIEW IF EXISTS relsync_unjournaled_columns;
DROP VIEW IF EXISTS relsync_relation_missing;
DROP VIEW IF EXISTS relsync_coverage;
DROP VIEW IF EXISTS relsync_relation_coverage;
DROP VIEW IF EXISTS relsync_relation_write;
DROP VIEW IF EXISTS relsync_outbox_row;
DROP VIEW IF EXISTS relsync_outbox;
DROP VIEW IF EXISTS relsync_relation_unjournaled;
DROP VIEW IF EXISTS relsync_relation_state;
DROP VIEW IF EXISTS relsync_relation_eligible;
DROP VIEW IF EXISTS relsync_local_row;
DROP TABLE IF EXISTS relsync_reorder;
DROP TABLE IF EXISTS relsync_remote_apply;
