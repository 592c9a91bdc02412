package engram

import (
	"context"
	"database/sql"
	"fmt"
)

const insertEnrolledProject = `
INSERT OR IGNORE INTO sync_enrolled_projects (project, enrolled_at) VALUES (?, datetime('now'))`

// EnrollProject enrolls the normalized name for cloud sync and, only when
// that inserted a row, backfills the project's journal in the same
// transaction (sessions, observations, prompts; v1.17 then relations).
func (s *Store) EnrollProject(ctx context.Context, name string) error {
	project := NormalizeProject(name)
	if project == "" {
		return fmt.Errorf("%w: empty project name %q", ErrInvalid, name)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertEnrolledProject, project)
		if err != nil {
			return fmt.Errorf("enroll %s: %w", project, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		return s.backfillProjectTx(ctx, tx, project)
	})
}

const (
	moveObservations = `UPDATE observations SET project = ? WHERE project = ?`
	moveSessions     = `UPDATE sessions SET project = ? WHERE project = ?`
	movePrompts      = `UPDATE user_prompts SET project = ? WHERE project = ?`
)

// MigrateProject renames project from to to (not normalized) and backfills
// the journal for to in the same transaction, enrolled or not; it enrolls
// nothing.
func (s *Store) MigrateProject(ctx context.Context, from, to string) error {
	if from == "" || to == "" {
		return fmt.Errorf("%w: rename %q to %q", ErrInvalid, from, to)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := moveProject(ctx, tx, from, to); err != nil {
			return err
		}
		return s.backfillProjectTx(ctx, tx, to)
	})
}

// MergeProjects moves sources into the normalized canonical name and
// backfills the journal for it in the same transaction; it enrolls nothing.
func (s *Store) MergeProjects(ctx context.Context, sources []string, canonical string) error {
	into := NormalizeProject(canonical)
	if into == "" {
		return fmt.Errorf("%w: merge into %q", ErrInvalid, canonical)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		for _, from := range sources {
			if from == into || from == "" {
				continue
			}
			if err := moveProject(ctx, tx, from, into); err != nil {
				return err
			}
		}
		return s.backfillProjectTx(ctx, tx, into)
	})
}

// moveProject moves observations, then sessions and prompts, from one
// project name to another.
func moveProject(ctx context.Context, tx *sql.Tx, from, to string) error {
	for _, stmt := range []string{moveObservations, moveSessions, movePrompts} {
		if _, err := tx.ExecContext(ctx, stmt, to, from); err != nil {
			return fmt.Errorf("move project %q to %q: %w", from, to, err)
		}
	}
	return nil
}
