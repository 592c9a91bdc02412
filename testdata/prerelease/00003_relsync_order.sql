-- relsync 3: a relation's journal row follows its observations' rows.
--
-- A receiver parks a relation whose observations it has not seen yet (sync_apply_deferred). Engram
-- v1.17 journals relations last for that reason. relsync journals a relation when it becomes
-- eligible, which at enrollment is before engram backfills the project's observations in the same
-- transaction. So a relation row written while one of its observations has no local row waits in
-- relsync_reorder; when that observation's row arrives, the relation row, still unpushed, is moved
-- behind it (copied: relsync_journal_ai then drops the original as a double).

-- +goose Up

CREATE TABLE relsync_reorder (
  observation TEXT NOT NULL,
  entity_key  TEXT NOT NULL,
  PRIMARY KEY (observation, entity_key)
) WITHOUT ROWID;

-- The observations of a relation that have no local journal row.
-- +goose StatementBegin
CREATE VIEW relsync_observation_unjournaled AS
SELECT r.sync_id AS entity_key, o.sync_id AS observation
FROM memory_relations AS r
JOIN observations AS o ON o.sync_id IN (r.source_id, r.target_id)
WHERE NOT EXISTS (SELECT 1 FROM sync_mutations AS m
                  WHERE m.target_key = 'cloud' AND m.entity = 'observation'
                    AND m.entity_key = o.sync_id AND m.source = 'local');
-- +goose StatementEnd

-- Relation rows already waiting (the backfill of migration 1 ran before this table existed).
-- +goose StatementBegin
INSERT INTO relsync_reorder (observation, entity_key)
SELECT DISTINCT u.observation, u.entity_key
FROM sync_mutations AS m
JOIN relsync_observation_unjournaled AS u ON u.entity_key = m.entity_key
WHERE m.target_key = 'cloud' AND m.acked_at IS NULL AND m.entity = 'relation' AND m.source = 'local';
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_order_wait_ai AFTER INSERT ON sync_mutations
WHEN NEW.entity = 'relation' AND NEW.target_key = 'cloud' AND NEW.source = 'local'
BEGIN
  INSERT INTO relsync_reorder (observation, entity_key)
    SELECT DISTINCT u.observation, u.entity_key FROM relsync_observation_unjournaled AS u
    WHERE u.entity_key = NEW.entity_key
      AND NOT EXISTS (SELECT 1 FROM relsync_reorder AS w
                      WHERE w.observation = u.observation AND w.entity_key = u.entity_key);
END;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE TRIGGER relsync_order_move_ai AFTER INSERT ON sync_mutations
WHEN NEW.entity = 'observation' AND NEW.target_key = 'cloud' AND NEW.source = 'local'
  AND EXISTS (SELECT 1 FROM relsync_reorder WHERE observation = NEW.entity_key)
BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
    SELECT m.target_key, m.entity, m.entity_key, m.op, m.payload, m.source, m.project
    FROM relsync_reorder AS w
    JOIN sync_mutations AS m
      ON m.seq = (SELECT max(p.seq) FROM sync_mutations AS p
                  WHERE p.target_key = 'cloud' AND p.entity = 'relation'
                    AND p.entity_key = w.entity_key AND p.source = 'local')
    WHERE w.observation = NEW.entity_key AND m.acked_at IS NULL AND m.seq < NEW.seq
    ORDER BY m.seq;
  DELETE FROM relsync_reorder WHERE observation = NEW.entity_key;
END;
-- +goose StatementEnd

INSERT OR REPLACE INTO relsync_objects (name, type, sql) SELECT name, type, sql FROM relsync_schema;

-- +goose Down
DROP TRIGGER IF EXISTS relsync_order_move_ai;
DROP TRIGGER IF EXISTS relsync_order_wait_ai;
DROP VIEW IF EXISTS relsync_observation_unjournaled;
DROP TABLE IF EXISTS relsync_reorder;
DELETE FROM relsync_objects WHERE name NOT IN (SELECT name FROM sqlite_master);
