-- relsync 1: engram's relations journal themselves.
--
-- Installs, in one transaction: the views that say which relations belong in the journal and what
-- their payload is (the only home of that logic), a one-time backfill of the relations that lack a
-- journal row, and the triggers that keep it so. Every object is named relsync_*; engram's own
-- objects are only read, except the rows engram itself would write (sync_mutations, sync_state).

-- +goose Up

-- relsync:precheck. Engram's tables and columns must be there; otherwise fail, naming what is
-- missing, before anything is written (a bad JSON path is the one error SQLite lets a plain
-- SELECT raise with a message of our choosing).
-- +goose StatementBegin
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

-- The project a relation's payload names (ENGRAM.md §5, the v1.17 rule) and its normalized form
-- (§4): the source observation's project, else its session's. Observations are matched by sync_id,
-- first live one by id, so a duplicated sync_id never doubles a journal row.
-- +goose StatementBegin
CREATE VIEW relsync_relation_scope AS
SELECT r.id AS relation_id,
       src.payload_project,
       replace(replace(replace(replace(replace(replace(replace(replace(
         lower(trim(src.payload_project, ' ' || char(9, 10, 11, 12, 13))),
         '--', '-'), '--', '-'), '--', '-'), '--', '-'),
         '__', '_'), '__', '_'), '__', '_'), '__', '_') AS project
FROM memory_relations AS r
CROSS JOIN (  -- CROSS: relations drive the loop (one row per relation, found by its id or by a full pass)
  SELECT o.sync_id,
         CASE WHEN CAST(o.project AS TEXT) <> '' THEN CAST(o.project AS TEXT)
              ELSE ifnull((SELECT CAST(s.project AS TEXT) FROM sessions AS s WHERE s.id = o.session_id), '')
         END AS payload_project
  FROM observations AS o
  WHERE o.deleted_at IS NULL
    AND o.id = (SELECT min(d.id) FROM observations AS d WHERE d.sync_id = o.sync_id AND d.deleted_at IS NULL)
) AS src ON src.sync_id = r.source_id;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE VIEW relsync_relation_eligible AS
SELECT r.id AS relation_id, r.sync_id AS entity_key, e.project, sc.payload_project
FROM memory_relations AS r
JOIN relsync_relation_scope AS sc ON sc.relation_id = r.id
JOIN sync_enrolled_projects AS e ON e.project = sc.project
WHERE CAST(r.judgment_status AS TEXT) NOT IN ('pending', 'orphaned', '')
  AND CAST(r.marked_by_actor AS TEXT) <> '' AND CAST(r.marked_by_kind AS TEXT) <> ''
  AND CAST(r.sync_id AS TEXT) <> '' AND CAST(r.relation AS TEXT) <> ''
  AND CAST(r.source_id AS TEXT) <> '' AND CAST(r.target_id AS TEXT) <> ''
  AND e.project <> ''
  AND EXISTS (SELECT 1 FROM observations AS t WHERE t.sync_id = r.target_id AND t.deleted_at IS NULL);
-- +goose StatementEnd

-- A confidence as Go's encoding/json writes a float64: the shortest digits that read back to the
-- same value, fixed notation from 1e-6 to 1e21, else exponent form without a leading zero in a
-- negative exponent. NULL when the column holds no finite number (the field is then left out).
-- +goose StatementBegin
CREATE VIEW relsync_go_float AS
SELECT id AS relation_id,
  -- One scalar subquery whose CTEs hold each intermediate value as a column: a view that derived
  -- them as expressions would be flattened into copies of the whole computation, compiled into
  -- every statement that fires a trigger.
  (WITH RECURSIVE
     -- The first precision whose digits read back to the same double. printf's '!' flag gives
     -- exact digits up to 17, and a '.0' that Go does not write.
     digits(k, p) AS (
       SELECT 1, printf('%!.1g', c)
       UNION ALL
       SELECT k + 1, printf('%!.*g', k + 1, c) FROM digits WHERE CAST(p AS REAL) <> c AND k < 17),
     shortest(s) AS (
       SELECT CASE WHEN p LIKE '%.0' THEN substr(p, 1, length(p) - 2) ELSE replace(p, '.0e', 'e') END
       FROM digits ORDER BY k DESC LIMIT 1),
     parts(s, x, d, sgn) AS MATERIALIZED (
       SELECT s, CAST(substr(s, instr(s, 'e') + 1) AS INTEGER),
              replace(ltrim(substr(s, 1, instr(s, 'e') - 1), '-'), '.', ''),
              CASE WHEN s LIKE '-%' THEN '-' ELSE '' END
       FROM shortest)
   SELECT CASE WHEN instr(s, 'e') = 0 THEN s
               WHEN x BETWEEN -6 AND -5 THEN sgn || '0.' || substr('00000', 1, -x - 1) || d
               WHEN x BETWEEN 15 AND 20 THEN sgn || CASE WHEN length(d) <= x + 1
                      THEN d || substr('000000000000000000000', 1, x + 1 - length(d))
                      ELSE substr(d, 1, x + 1) || '.' || substr(d, x + 2) END
               ELSE replace(s, 'e-0', 'e-') END
   FROM parts) AS number
FROM (SELECT id, CAST(confidence AS REAL) AS c FROM memory_relations
      WHERE typeof(confidence) IN ('real', 'integer')
        AND abs(CAST(confidence AS REAL)) <= 1.7976931348623157e308);
-- +goose StatementEnd

-- The journal row each eligible relation gets: its payload exactly as engram's Go code writes it
-- (§5: encoding/json of a struct, fields in this order, `?` fields left out when NULL). json_quote
-- matches Go on quotes, backslashes and control characters; the outer replaces add the escapes Go
-- writes beyond those.
-- +goose StatementBegin
CREATE VIEW relsync_relation_journal AS
SELECT el.relation_id, el.entity_key, el.project,
  -- Go's escapes beyond json_quote's: <, >, &, U+2028, U+2029, and each byte that is not part of
  -- valid UTF-8 as \ufffd. ASCII payloads take the GLOB fast path.
  (SELECT replace(replace(replace(replace(replace(
  CASE WHEN y GLOB CAST(X'2A5B5E012D7F5D2A' AS TEXT) THEN (
   WITH RECURSIVE d(p,w,x) AS NOT MATERIALIZED (
    SELECT 1, substr(CAST(y AS BLOB),1,2048), NULL
    UNION ALL SELECT p, w, CASE
       WHEN w<X'80' THEN replace(w,ltrim(w,X'206574616F696E7372686C6463756D667067777962766B786A717A222C3A4554414F494E5352484C4443554D465047575942564B584A515A303132333435363738392E2D5F272F2829213F3B5B5D7B7D5C2A2B3D232540245E7E7C607F263C3E'),'')
       WHEN hex(substr(w,1,24)) GLOB 'E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?E[1-9A-CEF][89AB]?[89AB]?*' THEN substr(w,1,24)
       WHEN hex(substr(w,1,4)) GLOB CAST(substr(X'5A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A2A3F3F5B41425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B38395D3F5B383941425D3F2A2A2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A2A2A3F3F5B3941425D3F5B383941425D3F5B383941425D3F2A2A2A3F3F5B383941425D3F5B383941425D3F5B383941425D3F2A2A3F3F5B383941425D3F5B383941425D3F5B383941425D3F2A2A3F3F5B383941425D3F5B383941425D3F5B383941425D3F2A2A3F3F383F5B383941425D3F5B383941425D3F2A2A2A2A2A2A2A',instr(X'C2C3C4C5C6C7C8C9CACBCCCDCECFD0D1D2D3D4D5D6D7D8D9DADBDCDDDEDFE0E1E2E3E4E5E6E7E8E9EAEBECEDEEEFF0F1F2F3F4',substr(w,1,1))*25+1,25) AS TEXT)
        THEN substr(w,1,2+(w>=X'E0')+(w>=X'F0'))
       ELSE replace(hex(zeroblob(max(1,length(w)-length(CAST(ltrim(w,X'808182838485868788898A8B8C8D8E8F909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7A8A9AAABACADAEAFB0B1B2B3B4B5B6B7B8B9BABBBCBDBEBFC0C1F5F6F7F8F9FAFBFCFDFEFF') AS BLOB))))),'00',X'FF') END FROM d WHERE x IS NULL
    UNION ALL SELECT p+length(x), CASE WHEN length(w)-length(x)<4 THEN substr(CAST(y AS BLOB),p+length(x),2048) ELSE substr(w,length(x)+1) END, NULL FROM d WHERE length(w)>length(x) OR length(w)>=4 AND x NOTNULL)
   SELECT replace(group_concat(x,''),X'FF','\ufffd') FROM d
  ) ELSE y END,
  '&','\u0026'),'<','\u003c'),'>','\u003e'),X'E280A8','\u2028'),X'E280A9','\u2029')
  FROM (SELECT
  '{"sync_id":' || json_quote(CAST(r.sync_id AS TEXT)) ||
  ',"source_id":' || json_quote(CAST(r.source_id AS TEXT)) ||
  ',"target_id":' || json_quote(CAST(r.target_id AS TEXT)) ||
  ',"relation":' || json_quote(CAST(r.relation AS TEXT)) ||
  CASE WHEN r.reason IS NULL THEN '' ELSE ',"reason":' || json_quote(CAST(r.reason AS TEXT)) END ||
  CASE WHEN r.evidence IS NULL THEN '' ELSE ',"evidence":' || json_quote(CAST(r.evidence AS TEXT)) END ||
  ifnull(',"confidence":' || (SELECT f.number FROM relsync_go_float AS f WHERE f.relation_id = r.id), '') ||
  ',"judgment_status":' || json_quote(CAST(r.judgment_status AS TEXT)) ||
  ',"marked_by_actor":' || json_quote(CAST(r.marked_by_actor AS TEXT)) ||
  ',"marked_by_kind":' || json_quote(CAST(r.marked_by_kind AS TEXT)) ||
  CASE WHEN r.marked_by_model IS NULL THEN '' ELSE ',"marked_by_model":' || json_quote(CAST(r.marked_by_model AS TEXT)) END ||
  CASE WHEN r.session_id IS NULL THEN '' ELSE ',"session_id":' || json_quote(CAST(r.session_id AS TEXT)) END ||
  ',"project":' || json_quote(el.payload_project) ||
  ',"created_at":' || json_quote(CAST(r.created_at AS TEXT)) ||
  ',"updated_at":' || json_quote(CAST(r.updated_at AS TEXT)) || '}' AS y)) AS payload
FROM relsync_relation_eligible AS el
JOIN memory_relations AS r ON r.id = el.relation_id;
-- +goose StatementEnd

-- Relations that arrived from the cloud (a write carrying the origin's older updated_at) and have
-- no local row: the cloud has them already, so Verify does not count them as missing.
CREATE TABLE relsync_remote (entity_key TEXT PRIMARY KEY) WITHOUT ROWID;

-- One-time backfill (§6 over all enrolled projects), in this transaction so that nothing slips
-- between it and the triggers below. The mark tells the rows it wrote from older ones.
CREATE TEMP TABLE relsync_backfill_mark AS SELECT ifnull(max(seq), 0) AS seq FROM main.sync_mutations;

-- +goose StatementBegin
INSERT INTO sync_state (target_key)
SELECT 'cloud'
WHERE NOT EXISTS (SELECT 1 FROM sync_state WHERE target_key = 'cloud')
  AND EXISTS (SELECT 1 FROM relsync_relation_journal AS j
              WHERE NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                                WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                                  AND m.entity_key = j.entity_key AND m.source = 'local'));
-- +goose StatementEnd

-- +goose StatementBegin
INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
FROM relsync_relation_journal AS j
WHERE NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                  WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                    AND m.entity_key = j.entity_key AND m.source = 'local')
ORDER BY j.relation_id;
-- +goose StatementEnd

-- +goose StatementBegin
UPDATE sync_state
SET lifecycle = 'pending', last_enqueued_seq = added.seq, updated_at = datetime('now')
FROM (SELECT max(seq) AS seq FROM sync_mutations
      WHERE seq > (SELECT seq FROM temp.relsync_backfill_mark)) AS added
WHERE sync_state.target_key = 'cloud' AND added.seq IS NOT NULL;
-- +goose StatementEnd

-- +goose StatementBegin
INSERT INTO sync_state (target_key)
SELECT DISTINCT 'cloud:' || project FROM sync_mutations NOT INDEXED  -- the rowid range, not a pass over the project index
WHERE seq > (SELECT seq FROM temp.relsync_backfill_mark) AND project <> ''
  AND 'cloud:' || project NOT IN (SELECT target_key FROM sync_state);
-- +goose StatementEnd

-- +goose StatementBegin
UPDATE sync_state
SET lifecycle = 'pending', last_enqueued_seq = added.seq, updated_at = datetime('now')
FROM (SELECT 'cloud:' || project AS target_key, max(seq) AS seq FROM sync_mutations NOT INDEXED
      WHERE seq > (SELECT seq FROM temp.relsync_backfill_mark) AND project <> ''
      GROUP BY project) AS added
WHERE sync_state.target_key = added.target_key;
-- +goose StatementEnd

DROP TABLE temp.relsync_backfill_mark;

-- Every relation row that enters the journal, relsync's or engram's own, leaves sync_state as §4
-- says (engram repeats the same values for its rows). And when engram journals a change that
-- relsync's trigger already journaled in the same state (JudgeRelation when enrolled; v1.17's
-- JudgeBySemantic), relsync's unacked row gives way, so each change keeps exactly one row and
-- engram keeps the row whose seq it read back. Payloads are compared without `project`, which
-- v1.16.3 computes differently, and with the confidence compared as a number: for some doubles
-- that need 17 digits, SQLite's printf and Go pick different last digits for the same value.
-- +goose StatementBegin
CREATE TRIGGER relsync_journal_ai AFTER INSERT ON sync_mutations
WHEN NEW.entity = 'relation' AND NEW.target_key = 'cloud' AND NEW.source = 'local'
BEGIN
  DELETE FROM sync_mutations
  WHERE seq = (SELECT p.seq FROM sync_mutations AS p
               WHERE p.target_key = 'cloud' AND p.entity = 'relation'
                 AND p.entity_key = NEW.entity_key AND p.source = 'local' AND p.seq < NEW.seq
               ORDER BY p.seq DESC LIMIT 1)
    AND acked_at IS NULL
    AND json_valid(payload) AND json_valid(NEW.payload)
    AND json_remove(payload, '$.project', '$.confidence') = json_remove(NEW.payload, '$.project', '$.confidence')
    AND json_extract(payload, '$.confidence') IS json_extract(NEW.payload, '$.confidence');
  INSERT INTO sync_state (target_key)
    SELECT 'cloud' WHERE NOT EXISTS (SELECT 1 FROM sync_state WHERE target_key = 'cloud');
  UPDATE sync_state SET lifecycle = 'pending', last_enqueued_seq = NEW.seq, updated_at = datetime('now')
    WHERE target_key = 'cloud';
  INSERT INTO sync_state (target_key)
    SELECT 'cloud:' || NEW.project
    WHERE NEW.project <> '' AND NOT EXISTS (SELECT 1 FROM sync_state WHERE target_key = 'cloud:' || NEW.project);
  UPDATE sync_state SET lifecycle = 'pending', last_enqueued_seq = NEW.seq, updated_at = datetime('now')
    WHERE NEW.project <> '' AND target_key = 'cloud:' || NEW.project;
END;
-- +goose StatementEnd

-- Local writes journal the relation's new state. A local write stamps updated_at with
-- datetime('now'), which inside a trigger equals its statement's; a remote apply (cloud pull,
-- import, deferred replay) carries the origin's older stamp and is never journaled, so the cloud's
-- echo of our own rows cannot loop (§8).
-- +goose StatementBegin
CREATE TRIGGER relsync_relation_ai AFTER INSERT ON memory_relations
WHEN NEW.judgment_status NOT IN ('pending', 'orphaned')
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
    FROM relsync_relation_journal AS j
    WHERE j.relation_id = NEW.id AND NEW.updated_at = datetime('now');
  INSERT INTO relsync_remote (entity_key)
    SELECT NEW.sync_id
    WHERE NEW.updated_at IS NOT datetime('now')
      AND NOT EXISTS (SELECT 1 FROM relsync_remote WHERE entity_key = NEW.sync_id)
      AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                      WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                        AND m.entity_key = NEW.sync_id AND m.source = 'local');
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_relation_au AFTER UPDATE ON memory_relations
WHEN NEW.judgment_status NOT IN ('pending', 'orphaned')
  AND (OLD.sync_id IS NOT NEW.sync_id OR OLD.source_id IS NOT NEW.source_id
    OR OLD.target_id IS NOT NEW.target_id OR OLD.relation IS NOT NEW.relation
    OR OLD.reason IS NOT NEW.reason OR OLD.evidence IS NOT NEW.evidence
    OR OLD.confidence IS NOT NEW.confidence OR OLD.judgment_status IS NOT NEW.judgment_status
    OR OLD.marked_by_actor IS NOT NEW.marked_by_actor OR OLD.marked_by_kind IS NOT NEW.marked_by_kind
    OR OLD.marked_by_model IS NOT NEW.marked_by_model OR OLD.session_id IS NOT NEW.session_id
    OR OLD.created_at IS NOT NEW.created_at OR OLD.updated_at IS NOT NEW.updated_at)
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
    FROM relsync_relation_journal AS j
    WHERE j.relation_id = NEW.id AND NEW.updated_at = datetime('now');
  INSERT INTO relsync_remote (entity_key)
    SELECT NEW.sync_id
    WHERE NEW.updated_at IS NOT datetime('now')
      AND NOT EXISTS (SELECT 1 FROM relsync_remote WHERE entity_key = NEW.sync_id)
      AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                      WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                        AND m.entity_key = NEW.sync_id AND m.source = 'local');
END;
-- +goose StatementEnd

-- Relations that become eligible without a write to them get their row then (§6, engram v1.17's
-- rule): when their project is enrolled, and when a rename, merge or restore moves or revives
-- their observations.
-- +goose StatementBegin
CREATE TRIGGER relsync_enrolled_ai AFTER INSERT ON sync_enrolled_projects
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
    FROM relsync_relation_journal AS j
    WHERE j.project = NEW.project
      AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                      WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                        AND m.entity_key = j.entity_key AND m.source = 'local')
    ORDER BY j.relation_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_observation_au AFTER UPDATE OF project, deleted_at, sync_id, session_id ON observations
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
    FROM relsync_relation_journal AS j
    WHERE j.relation_id IN (SELECT id FROM memory_relations WHERE source_id = NEW.sync_id
                            UNION SELECT id FROM memory_relations WHERE target_id = NEW.sync_id)
      AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                      WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                        AND m.entity_key = j.entity_key AND m.source = 'local')
    ORDER BY j.relation_id;
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_session_au AFTER UPDATE OF project ON sessions
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT 'cloud', 'relation', j.entity_key, 'upsert', j.payload, 'local', j.project
    FROM relsync_relation_journal AS j
    WHERE j.relation_id IN (SELECT r.id FROM observations AS o
                            JOIN memory_relations AS r ON r.source_id = o.sync_id
                            WHERE o.session_id = NEW.id)
      AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                      WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                        AND m.entity_key = j.entity_key AND m.source = 'local')
    ORDER BY j.relation_id;
END;
-- +goose StatementEnd

-- What this release installed, as SQLite stored it: Verify and scripts/verify.sql compare the
-- live schema with it to find relsync objects that were dropped or changed. Each migration ends
-- by recording its objects from relsync_schema.
-- +goose StatementBegin
CREATE VIEW relsync_schema AS
SELECT name, type, sql FROM sqlite_master
WHERE name LIKE 'relsync\_%' ESCAPE '\' AND sql IS NOT NULL
  AND name NOT IN ('relsync_objects', 'relsync_db_version');
-- +goose StatementEnd

CREATE TABLE relsync_objects (name TEXT PRIMARY KEY, type TEXT NOT NULL, sql TEXT NOT NULL) WITHOUT ROWID;

INSERT OR REPLACE INTO relsync_objects (name, type, sql) SELECT name, type, sql FROM relsync_schema;

-- +goose Down
-- Removes every relsync object; journal rows and sync_state stay as they are.
DROP TRIGGER IF EXISTS relsync_session_au;
DROP TRIGGER IF EXISTS relsync_observation_au;
DROP TRIGGER IF EXISTS relsync_enrolled_ai;
DROP TRIGGER IF EXISTS relsync_relation_au;
DROP TRIGGER IF EXISTS relsync_relation_ai;
DROP TRIGGER IF EXISTS relsync_journal_ai;
DROP TABLE IF EXISTS relsync_objects;
DROP VIEW IF EXISTS relsync_schema;
DROP TABLE IF EXISTS relsync_remote;
DROP VIEW IF EXISTS relsync_relation_journal;
DROP VIEW IF EXISTS relsync_go_float;
DROP VIEW IF EXISTS relsync_relation_eligible;
DROP VIEW IF EXISTS relsync_relation_scope;
