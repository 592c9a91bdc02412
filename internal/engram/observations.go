package engram

import (
	"context"
	"database/sql"
	"fmt"
)

const insertObservation = `
INSERT INTO observations (sync_id, session_id, type, title, content, project, scope, created_at, updated_at)
VALUES (?, ?, 'manual', ?, ?, ?, 'project', datetime('now'), datetime('now'))`

// AddObservation saves an observation (project nil is NULL) and journals it
// in the same transaction: v1.16.3 and v1.17 journal observations of every
// project, enrolled or not; v3 only those of enrolled projects. It returns the observation's sync_id. Engram's follow-up
// FindCandidates is SavePendingRelation, called separately.
func (s *Store) AddObservation(ctx context.Context, sessionID string, project *string, title, content string) (string, error) {
	syncID := newSyncID("obs-")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertObservation, syncID, sessionID, title, content, nullable(project)); err != nil {
			return fmt.Errorf("add observation: %w", err)
		}
		_, err := journalObservation(ctx, tx, s.Version, syncID)
		return err
	})
	if err != nil {
		return "", err
	}
	return syncID, nil
}

const softDeleteObservation = `
UPDATE observations SET deleted_at = datetime('now'), updated_at = datetime('now')
WHERE sync_id = ? AND deleted_at IS NULL`

// SoftDeleteObservation sets deleted_at and journals the observation with
// op 'delete'. Its relations are left alone.
func (s *Store) SoftDeleteObservation(ctx context.Context, syncID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		err := updateRow(ctx, tx, "soft delete "+syncID, "live observation "+syncID, softDeleteObservation, syncID)
		if err != nil {
			return err
		}
		_, err = journalObservation(ctx, tx, s.Version, syncID)
		return err
	})
}

const (
	orphanRelationsOf = `
UPDATE memory_relations SET judgment_status = 'orphaned', updated_at = datetime('now')
WHERE (source_id = ?1 OR target_id = ?1) AND judgment_status <> 'orphaned'`

	deleteObservation = `DELETE FROM observations WHERE sync_id = ?`
)

// HardDeleteObservation deletes the observation's row, marks its relations
// 'orphaned' (relations are never deleted, and never journaled for this) and
// journals the observation's deletion.
func (s *Store) HardDeleteObservation(ctx context.Context, syncID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		p, err := readObservationPayload(ctx, tx, syncID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, orphanRelationsOf, syncID); err != nil {
			return fmt.Errorf("hard delete %s: %w", syncID, err)
		}
		if _, err := tx.ExecContext(ctx, deleteObservation, syncID); err != nil {
			return fmt.Errorf("hard delete %s: %w", syncID, err)
		}
		p.Deleted, p.HardDelete = true, true
		_, err = journalObservationPayload(ctx, tx, s.Version, p, OpDelete)
		return err
	})
}
