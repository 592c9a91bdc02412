package engram

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// ErrCrossProject is JudgeBySemantic's refusal of a pair whose two
// observations belong to different projects.
var ErrCrossProject = errors.New("engram: observations belong to different projects")

const (
	selectObservationExists = `SELECT EXISTS (SELECT 1 FROM observations WHERE sync_id = ?)`

	selectPairEitherWay = `
SELECT sync_id FROM memory_relations
WHERE (source_id = ?1 AND target_id = ?2) OR (source_id = ?2 AND target_id = ?1)
ORDER BY id LIMIT 1`

	insertSemanticRelation = `
INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, confidence,
    judgment_status, marked_by_actor, marked_by_kind, marked_by_model, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 'judged', 'engram', 'system', ?, datetime('now'), datetime('now'))`

	updateSemanticRelation = `
UPDATE memory_relations
SET relation = ?, judgment_status = 'judged', confidence = ?, reason = ?,
    marked_by_actor = 'engram', marked_by_kind = 'system', marked_by_model = ?,
    updated_at = datetime('now')
WHERE sync_id = ?`
)

// JudgeBySemantic is mem_compare and the semantic project scan: it records
// the verdict on the pair (src, tgt), inserting a judged relation or updating
// the pair's existing one in either direction. Only Relation, Reason,
// Confidence (required, 0..1) and Model of v are used: the actor is always
// 'engram', the kind 'system'. v1.16.3 and v1.17: a not_conflict verdict
// writes nothing and returns ""; v3 persists it like any verdict. v1.16.3
// never journals; v1.17 and v3 journal after the write when enrolled (the
// gate falls back to the target's project). It returns the relation's
// sync_id and the journal seq (0: none).
func (s *Store) JudgeBySemantic(ctx context.Context, src, tgt string, v Verdict) (string, int64, error) {
	if err := v.validate(); err != nil {
		return "", 0, err
	}
	if v.Confidence == nil {
		return "", 0, fmt.Errorf("%w: semantic verdict without confidence", ErrInvalid)
	}
	if v.Relation == RelNotConflict && !s.Version.v3() {
		return "", 0, nil
	}
	reason := orEmpty(v.Reason) // a Go string: NULL is never written
	var relSyncID string
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.checkSameProject(ctx, tx, src, tgt); err != nil {
			return err
		}
		err := tx.QueryRowContext(ctx, selectPairEitherWay, src, tgt).Scan(&relSyncID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			relSyncID = newSyncID("rel-")
			_, err = tx.ExecContext(ctx, insertSemanticRelation,
				relSyncID, src, tgt, v.Relation, reason, *v.Confidence, nullable(v.Model))
		case err == nil:
			_, err = tx.ExecContext(ctx, updateSemanticRelation,
				v.Relation, *v.Confidence, reason, nullable(v.Model), relSyncID)
		}
		if err != nil {
			return fmt.Errorf("judge pair %s %s: %w", src, tgt, err)
		}
		if !s.Version.fixes496() {
			return nil
		}
		seq, err = s.journalIfEnrolled(ctx, tx, relSyncID, src, tgt, true)
		return err
	})
	if err != nil {
		return "", 0, err
	}
	return relSyncID, seq, nil
}

// checkSameProject refuses a pair with a missing observation or with two
// different projects (raw columns for v1.16.3, session fallback for v1.17).
func (s *Store) checkSameProject(ctx context.Context, q Querier, src, tgt string) error {
	var projects [2]string
	for i, id := range []string{src, tgt} {
		var ok bool
		if err := q.QueryRowContext(ctx, selectObservationExists, id).Scan(&ok); err != nil {
			return fmt.Errorf("observation %s: %w", id, err)
		}
		if !ok {
			return fmt.Errorf("observation %s: %w", id, ErrNotFound)
		}
		p, err := s.observationProject(ctx, q, id)
		if err != nil {
			return err
		}
		projects[i] = p
	}
	if projects[0] != projects[1] {
		return fmt.Errorf("%w: %q and %q", ErrCrossProject, projects[0], projects[1])
	}
	return nil
}
