-- table relsync_backfill
CREATE TABLE relsync_backfill (id INTEGER PRIMARY KEY CHECK (id = 1), next_id INTEGER);

-- table relsync_db_version
CREATE TABLE relsync_db_version (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		version_id INTEGER NOT NULL,
		is_applied INTEGER NOT NULL,
		tstamp TIMESTAMP DEFAULT (datetime('now'))
	);

-- table relsync_objects
CREATE TABLE relsync_objects (name TEXT PRIMARY KEY, type TEXT NOT NULL, sql TEXT NOT NULL) WITHOUT ROWID;

-- table relsync_remote_apply
CREATE TABLE relsync_remote_apply (
  entity_key TEXT PRIMARY KEY,
  updated_at TEXT,
  unjournaled INTEGER NOT NULL
) WITHOUT ROWID;

-- table relsync_reorder
CREATE TABLE relsync_reorder (
  observation TEXT NOT NULL,
  entity_key  TEXT NOT NULL,
  PRIMARY KEY (observation, entity_key)
) WITHOUT ROWID;

-- trigger relsync_backfill_range_run
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

-- trigger relsync_enrolled_ai
CREATE TRIGGER relsync_enrolled_ai AFTER INSERT ON sync_enrolled_projects
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE project = NEW.project ORDER BY relation_id;
END;

-- trigger relsync_journal_ai
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

-- trigger relsync_observation_au
CREATE TRIGGER relsync_observation_au AFTER UPDATE OF project, deleted_at, session_id ON observations
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE relation_id IN (SELECT id FROM memory_relations WHERE source_id = NEW.sync_id
                          UNION SELECT id FROM memory_relations WHERE target_id = NEW.sync_id)
    ORDER BY relation_id;
END;

-- trigger relsync_order_ai
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

-- trigger relsync_outbox_payload
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

-- trigger relsync_outbox_row_write
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

-- trigger relsync_relation_ai
CREATE TRIGGER relsync_relation_ai AFTER INSERT ON memory_relations
WHEN NEW.judgment_status NOT IN ('pending', 'orphaned')
BEGIN
  INSERT OR ABORT INTO relsync_relation_write VALUES (NEW.id, NEW.sync_id, NEW.updated_at);
END;

-- trigger relsync_relation_au
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

-- trigger relsync_relation_write_journal
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

-- trigger relsync_session_au
CREATE TRIGGER relsync_session_au AFTER UPDATE OF project ON sessions
BEGIN
  INSERT INTO relsync_outbox (relation_id, project)
    SELECT relation_id, project FROM relsync_relation_unjournaled
    WHERE relation_id IN (SELECT r.id FROM observations AS o JOIN memory_relations AS r ON r.source_id = o.sync_id
                          WHERE o.session_id = NEW.id)
    ORDER BY relation_id;
END;

-- view relsync_backfill_range
CREATE VIEW relsync_backfill_range (size) AS SELECT NULL WHERE 0;

-- view relsync_coverage
CREATE VIEW relsync_coverage AS
SELECT e.project, ifnull(c.eligible, 0) AS eligible, ifnull(c.journaled, 0) AS journaled,
  ifnull(c.stale, 0) AS stale, ifnull(c.missing, 0) AS missing, ifnull(c.from_cloud, 0) AS from_cloud,
  (SELECT count(*) FROM sync_mutations AS m WHERE m.target_key = 'cloud' AND m.acked_at IS NULL
     AND +m.entity = 'relation' AND m.source = 'local' AND m.project = e.project) AS unacked
FROM sync_enrolled_projects AS e
LEFT JOIN (SELECT project, count(*) AS eligible, sum(journal IS 'current') AS journaled,
  sum(journal IS 'stale') AS stale, sum(journal IS NULL AND NOT from_cloud) AS missing, sum(from_cloud) AS from_cloud
  FROM relsync_relation_coverage GROUP BY project) AS c ON c.project = e.project;

-- view relsync_journal_orphans
CREATE VIEW relsync_journal_orphans AS
SELECT m.seq, m.entity_key FROM relsync_local_row AS m
WHERE NOT EXISTS (SELECT 1 FROM memory_relations AS r WHERE r.sync_id = m.entity_key);

-- view relsync_local_row
CREATE VIEW relsync_local_row AS
SELECT seq, entity_key, acked_at, payload, project FROM sync_mutations
WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local';

-- view relsync_object_state
CREATE VIEW relsync_object_state AS
SELECT o.name, o.type, CASE WHEN s.name IS NULL THEN 'missing' WHEN s.sql IS NOT o.sql THEN 'changed' ELSE 'ok' END AS state
FROM relsync_objects AS o LEFT JOIN relsync_schema AS s ON s.name = o.name AND s.type = o.type
UNION ALL
SELECT s.name, s.type, 'unexpected' FROM relsync_schema AS s WHERE s.name NOT IN (SELECT name FROM relsync_objects);

-- view relsync_outbox
CREATE VIEW relsync_outbox (relation_id, project) AS SELECT NULL, NULL WHERE 0;

-- view relsync_outbox_row
CREATE VIEW relsync_outbox_row (entity_key, project, payload) AS SELECT NULL, NULL, NULL WHERE 0;

-- view relsync_relation_coverage
CREATE VIEW relsync_relation_coverage AS
WITH s AS MATERIALIZED (SELECT project, entity_key, journal FROM relsync_relation_state)
SELECT s.project, s.entity_key, s.journal,
  s.journal IS NULL AND EXISTS (SELECT 1 FROM relsync_remote_apply AS rr WHERE rr.entity_key = s.entity_key AND rr.unjournaled) AS from_cloud
FROM s;

-- view relsync_relation_eligible
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

-- view relsync_relation_missing
CREATE VIEW relsync_relation_missing AS
SELECT project, entity_key, row_number() OVER (PARTITION BY project ORDER BY entity_key) AS n
FROM relsync_relation_coverage WHERE journal IS NULL AND NOT from_cloud;

-- view relsync_relation_state
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

-- view relsync_relation_unjournaled
CREATE VIEW relsync_relation_unjournaled AS
SELECT relation_id, entity_key, project FROM relsync_relation_state WHERE journal IS NOT 'current';

-- view relsync_relation_write
CREATE VIEW relsync_relation_write (relation_id, entity_key, updated_at) AS SELECT NULL, NULL, NULL WHERE 0;

-- view relsync_schema
CREATE VIEW relsync_schema AS
SELECT name, type, sql FROM sqlite_master
WHERE name LIKE 'relsync\_%' ESCAPE '\' AND sql IS NOT NULL AND name NOT IN ('relsync_objects', 'relsync_db_version');

-- view relsync_unjournaled_columns
CREATE VIEW relsync_unjournaled_columns AS
SELECT name FROM pragma_table_info('memory_relations')
WHERE name NOT IN ('id', 'sync_id', 'source_id', 'target_id', 'relation', 'reason', 'evidence', 'confidence',
  'judgment_status', 'marked_by_actor', 'marked_by_kind', 'marked_by_model', 'session_id', 'superseded_at',
  'superseded_by_relation_id', 'created_at', 'updated_at');

