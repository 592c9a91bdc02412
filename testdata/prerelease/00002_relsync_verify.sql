-- relsync 2: what Verify (Go) and scripts/verify.sql report, as views: the one home of the counts.

-- +goose Up

-- Each eligible relation, and whether the journal has its local row. A relation that arrived from
-- the cloud without one is not missing: the cloud has it.
-- +goose StatementBegin
CREATE VIEW relsync_relation_coverage AS
SELECT el.project, el.entity_key,
       EXISTS (SELECT 1 FROM sync_mutations AS m
               WHERE m.target_key = 'cloud' AND m.entity = 'relation'
                 AND m.entity_key = el.entity_key AND m.source = 'local') AS journaled,
       EXISTS (SELECT 1 FROM relsync_remote AS rr WHERE rr.entity_key = el.entity_key) AS from_cloud
FROM relsync_relation_eligible AS el;
-- +goose StatementEnd

-- Per enrolled project: relations that belong in the journal, how many have their row, how many
-- are missing, how many came from the cloud, and how many relation rows wait to be pushed.
-- +goose StatementBegin
CREATE VIEW relsync_coverage AS
SELECT e.project,
       ifnull(c.eligible, 0) AS eligible,
       ifnull(c.journaled, 0) AS journaled,
       ifnull(c.missing, 0) AS missing,
       ifnull(c.from_cloud, 0) AS from_cloud,
       (SELECT count(*) FROM sync_mutations AS m
        WHERE m.target_key = 'cloud' AND m.acked_at IS NULL AND +m.entity = 'relation'
          AND m.source = 'local' AND m.project = e.project) AS unacked  -- +: the unacked index, not all relation rows
FROM sync_enrolled_projects AS e
LEFT JOIN (SELECT project, count(*) AS eligible, sum(journaled) AS journaled,
                  sum(NOT journaled AND NOT from_cloud) AS missing,
                  sum(NOT journaled AND from_cloud) AS from_cloud
           FROM relsync_relation_coverage GROUP BY project) AS c ON c.project = e.project;
-- +goose StatementEnd

-- The missing relations, numbered per project so that a report can show the first few.
-- +goose StatementBegin
CREATE VIEW relsync_relation_missing AS
SELECT project, entity_key, row_number() OVER (PARTITION BY project ORDER BY entity_key) AS n
FROM relsync_relation_coverage
WHERE NOT journaled AND NOT from_cloud;
-- +goose StatementEnd

-- relsync objects as installed, against what relsync recorded when it installed them.
-- +goose StatementBegin
CREATE VIEW relsync_object_state AS
SELECT o.name, o.type,
       CASE WHEN s.name IS NULL THEN 'missing' WHEN s.sql IS NOT o.sql THEN 'changed' ELSE 'ok' END AS state
FROM relsync_objects AS o
LEFT JOIN relsync_schema AS s ON s.name = o.name AND s.type = o.type
UNION ALL
SELECT s.name, s.type, 'unexpected' FROM relsync_schema AS s
WHERE s.name NOT IN (SELECT name FROM relsync_objects);
-- +goose StatementEnd

-- Columns of memory_relations that the payload does not carry and that relsync does not know to
-- leave out: a column engram added after this release.
-- +goose StatementBegin
CREATE VIEW relsync_unjournaled_columns AS
SELECT name FROM pragma_table_info('memory_relations')
WHERE name NOT IN ('id', 'sync_id', 'source_id', 'target_id', 'relation', 'reason', 'evidence',
                   'confidence', 'judgment_status', 'marked_by_actor', 'marked_by_kind',
                   'marked_by_model', 'session_id', 'superseded_at', 'superseded_by_relation_id',
                   'created_at', 'updated_at');
-- +goose StatementEnd

-- Local relation rows whose relation no longer exists.
-- +goose StatementBegin
CREATE VIEW relsync_journal_orphans AS
SELECT m.seq, m.entity_key FROM sync_mutations AS m
WHERE m.target_key = 'cloud' AND m.entity = 'relation' AND m.source = 'local'
  AND NOT EXISTS (SELECT 1 FROM memory_relations AS r WHERE r.sync_id = m.entity_key);
-- +goose StatementEnd

INSERT OR REPLACE INTO relsync_objects (name, type, sql) SELECT name, type, sql FROM relsync_schema;

-- +goose Down
DROP VIEW IF EXISTS relsync_journal_orphans;
DROP VIEW IF EXISTS relsync_unjournaled_columns;
DROP VIEW IF EXISTS relsync_object_state;
DROP VIEW IF EXISTS relsync_relation_missing;
DROP VIEW IF EXISTS relsync_coverage;
DROP VIEW IF EXISTS relsync_relation_coverage;
DELETE FROM relsync_objects WHERE name NOT IN (SELECT name FROM sqlite_master);
