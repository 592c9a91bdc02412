package engram

import (
	"context"
	"database/sql"
	"fmt"
)

// Relation verbs engram accepts in a verdict.
const (
	RelRelated       = "related"
	RelCompatible    = "compatible"
	RelScoped        = "scoped"
	RelConflictsWith = "conflicts_with"
	RelSupersedes    = "supersedes"
	RelNotConflict   = "not_conflict"
)

var relationVerbs = map[string]bool{
	RelRelated: true, RelCompatible: true, RelScoped: true,
	RelConflictsWith: true, RelSupersedes: true, RelNotConflict: true,
}

// Verdict is a judgment about a relation. Nil pointers are NULL columns.
type Verdict struct {
	Relation   string
	Reason     *string
	Evidence   *string
	Confidence *float64
	Actor      string
	Kind       string
	Model      *string
	SessionID  *string
}

func (v Verdict) validate() error {
	if !relationVerbs[v.Relation] {
		return fmt.Errorf("%w: relation %q", ErrInvalid, v.Relation)
	}
	if c := v.Confidence; c != nil && !(*c >= 0 && *c <= 1) {
		return fmt.Errorf("%w: confidence %v outside 0..1", ErrInvalid, *c)
	}
	return nil
}

const insertPendingRelation = `
INSERT INTO memory_relations (sync_id, source_id, target_id, relation, judgment_status, created_at, updated_at)
VALUES (?, ?, ?, 'pending', 'pending', datetime('now'), datetime('now'))`

// SavePendingRelation is FindCandidates / SaveRelation / the project scan:
// a 'pending' candidate pair, autocommit, never journaled. It returns the
// relation's sync_id.
func (s *Store) SavePendingRelation(ctx context.Context, src, tgt string) (string, error) {
	syncID := newSyncID("rel-")
	if _, err := s.DB.ExecContext(ctx, insertPendingRelation, syncID, src, tgt); err != nil {
		return "", fmt.Errorf("save relation: %w", err)
	}
	return syncID, nil
}

const (
	judgeRelation = `
UPDATE memory_relations
SET relation = ?, reason = ?, evidence = ?, confidence = ?, judgment_status = 'judged',
    marked_by_actor = ?, marked_by_kind = ?, marked_by_model = ?, session_id = ?,
    updated_at = datetime('now')
WHERE sync_id = ?`

	selectRelationPair = `
SELECT COALESCE(source_id, ''), COALESCE(target_id, '') FROM memory_relations WHERE sync_id = ?`
)

// JudgeRelation is mem_judge: the verdict UPDATE and, in the same
// transaction after it, Go's journal row when the enrollment gate passes
// (v3: the source observation's project alone; an empty one is local-only).
// It returns the journal seq written, 0 when none.
func (s *Store) JudgeRelation(ctx context.Context, relSyncID string, v Verdict) (int64, error) {
	if err := v.validate(); err != nil {
		return 0, err
	}
	var seq int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		err := updateRow(ctx, tx, "judge "+relSyncID, "relation "+relSyncID, judgeRelation,
			v.Relation, nullable(v.Reason), nullable(v.Evidence), nullable(v.Confidence),
			v.Actor, v.Kind, nullable(v.Model), nullable(v.SessionID), relSyncID)
		if err != nil {
			return err
		}
		var src, tgt string
		if err := tx.QueryRowContext(ctx, selectRelationPair, relSyncID).Scan(&src, &tgt); err != nil {
			return fmt.Errorf("judge %s: %w", relSyncID, err)
		}
		seq, err = s.journalIfEnrolled(ctx, tx, relSyncID, src, tgt, !s.Version.v3())
		return err
	})
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// journalIfEnrolled is Go's gated journal write for a relation: it journals
// relSyncID when the gate finds its project enrolled, and returns the seq.
// fallback lets the gate use the target's project when the source's is empty
// (every gate but v3's JudgeRelation).
func (s *Store) journalIfEnrolled(ctx context.Context, q Querier, relSyncID, src, tgt string, fallback bool) (int64, error) {
	ok, err := s.gateEnrolled(ctx, q, src, tgt, fallback)
	if err != nil || !ok {
		return 0, err
	}
	p, err := ReadRelationPayload(ctx, q, relSyncID, s.Version)
	if err != nil {
		return 0, err
	}
	return JournalRelationVersion(ctx, q, s.Version, p)
}

const selectEnrolled = `SELECT EXISTS (SELECT 1 FROM sync_enrolled_projects WHERE project = ?)`

// gateEnrolled is Go's enrollment gate: is the source observation's project
// enrolled, or (with fallback) the target's when the source's is empty? The
// project is compared raw with the enrolled names (§6). It ignores
// deleted_at, as engram does.
func (s *Store) gateEnrolled(ctx context.Context, q Querier, src, tgt string, fallback bool) (bool, error) {
	project, err := s.observationProject(ctx, q, src)
	if err != nil {
		return false, err
	}
	if project == "" && fallback {
		if project, err = s.observationProject(ctx, q, tgt); err != nil {
			return false, err
		}
	}
	return isEnrolled(ctx, q, project)
}

// isEnrolled is engram's enrollment test: project, as the caller computed
// it (never normalized here), equals a sync_enrolled_projects row as stored
// (§6). An empty project is never enrolled.
func isEnrolled(ctx context.Context, q Querier, project string) (bool, error) {
	if project == "" {
		return false, nil
	}
	var ok bool
	if err := q.QueryRowContext(ctx, selectEnrolled, project).Scan(&ok); err != nil {
		return false, fmt.Errorf("enrollment of %q: %w", project, err)
	}
	return ok, nil
}

const (
	selectObservationProjectV1163 = `
SELECT COALESCE((SELECT project FROM observations WHERE sync_id = ? ORDER BY id LIMIT 1), '')`

	selectObservationProjectV117 = `
SELECT COALESCE((SELECT COALESCE(NULLIF(o.project, ''), NULLIF(s.project, ''))
                 FROM observations o LEFT JOIN sessions s ON s.id = o.session_id
                 WHERE o.sync_id = ? ORDER BY o.id LIMIT 1), '')`
)

// observationProject is an observation's project as s.Version sees it: the
// raw column for v1.16.3, with the session fallback for v1.17 and v3; empty
// when the observation is missing.
func (s *Store) observationProject(ctx context.Context, q Querier, syncID string) (string, error) {
	query := selectObservationProjectV1163
	if s.Version.fixes496() {
		query = selectObservationProjectV117
	}
	var p string
	if err := q.QueryRowContext(ctx, query, syncID).Scan(&p); err != nil {
		return "", fmt.Errorf("project of %s: %w", syncID, err)
	}
	return p, nil
}
