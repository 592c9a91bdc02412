package engram

import (
	"context"
	"database/sql"
	"fmt"
)

const insertEnrolledProject = `
INSERT OR IGNORE INTO sync_enrolled_projects (project, enrolled_at) VALUES (?, datetime('now'))`

// ReservedInbox is the project name engram v3 refuses to enroll: its
// per-project target would be the reserved sync_state row 'cloud:inbox'.
const ReservedInbox = "inbox"

// EnrollProject enrolls the normalized name for cloud sync and, only when
// that inserted a row, backfills the project's journal in the same
// transaction (sessions, observations, prompts; v1.17 and v3 then
// relations). v3 refuses the name ReservedInbox.
func (s *Store) EnrollProject(ctx context.Context, name string) error {
	project := NormalizeProject(name)
	if project == "" {
		return fmt.Errorf("%w: empty project name %q", ErrInvalid, name)
	}
	if s.Version.v3() && project == ReservedInbox {
		return fmt.Errorf("%w: project name %q is reserved", ErrInvalid, name)
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
// the journal for to in the same transaction, enrolled or not. v1.16.3 and
// v1.17 enroll nothing; v3 also rewrites the old project's unacked journal
// rows and carries its enrollment (carryProjectTx) before the backfill.
func (s *Store) MigrateProject(ctx context.Context, from, to string) error {
	if from == "" || to == "" {
		return fmt.Errorf("%w: rename %q to %q", ErrInvalid, from, to)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if err := moveProject(ctx, tx, from, to); err != nil {
			return err
		}
		if err := s.carryProjectTx(ctx, tx, []string{from}, to); err != nil {
			return err
		}
		return s.backfillProjectTx(ctx, tx, to)
	})
}

// MergeProjects moves sources into the normalized canonical name and
// backfills the journal for it in the same transaction. v1.16.3 and v1.17
// enroll nothing; v3 rewrites the sources' unacked journal rows and carries
// their enrollment first, as MigrateProject does.
func (s *Store) MergeProjects(ctx context.Context, sources []string, canonical string) error {
	into := NormalizeProject(canonical)
	if into == "" {
		return fmt.Errorf("%w: merge into %q", ErrInvalid, canonical)
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var moved []string
		for _, from := range sources {
			if from == into || from == "" {
				continue
			}
			if err := moveProject(ctx, tx, from, into); err != nil {
				return err
			}
			moved = append(moved, from)
		}
		if err := s.carryProjectTx(ctx, tx, moved, into); err != nil {
			return err
		}
		return s.backfillProjectTx(ctx, tx, into)
	})
}

const (
	// rewriteJournalProject points the unacked journal rows of an old
	// project at the new one: payload project and project column. The old
	// project is matched by its raw name and by its normalized name (the
	// column holds normalized names), whoever wrote the row.
	rewriteJournalProject = `
UPDATE sync_mutations
SET payload = json_set(payload, '$.project', ?1), project = ?2
WHERE acked_at IS NULL AND project IN (?3, ?4)`

	// carryEnrollment enrolls the new name when the old one was enrolled
	// (raw or normalized name); dropEnrollment then forgets the old name.
	carryEnrollment = `
INSERT OR IGNORE INTO sync_enrolled_projects (project)
SELECT ?1 WHERE EXISTS (SELECT 1 FROM sync_enrolled_projects WHERE project IN (?2, ?3))`

	dropEnrollment = `DELETE FROM sync_enrolled_projects WHERE project IN (?2, ?3) AND project <> ?1`
)

// carryProjectTx is v3's journal and enrollment hand-over after a rename or
// merge moved the rows of olds to to: each old name's unacked journal rows
// take payload project to and project column NormalizeProject(to), then an
// enrolled old name's enrollment moves to to. It does nothing before v3.
func (s *Store) carryProjectTx(ctx context.Context, tx *sql.Tx, olds []string, to string) error {
	if !s.Version.v3() {
		return nil
	}
	for _, old := range olds {
		norm := NormalizeProject(old)
		if _, err := tx.ExecContext(ctx, rewriteJournalProject, to, NormalizeProject(to), old, norm); err != nil {
			return fmt.Errorf("rewrite journal of %q: %w", old, err)
		}
		for _, stmt := range []string{carryEnrollment, dropEnrollment} {
			if _, err := tx.ExecContext(ctx, stmt, to, old, norm); err != nil {
				return fmt.Errorf("carry enrollment of %q: %w", old, err)
			}
		}
	}
	return nil
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
