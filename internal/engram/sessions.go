package engram

import (
	"context"
	"database/sql"
	"fmt"
)

// insertSession stamps started_at from Go for v3 (nanoseconds), else with
// the column default, datetime('now').
const insertSession = `INSERT OR IGNORE INTO sessions (id, project, directory, started_at)
VALUES (?, ?, ?, COALESCE(?, datetime('now')))`

// CreateSession records a session and journals it in the same transaction
// (v1.16.3 and v1.17: whatever its project's enrollment; v3: when enrolled).
// An existing id is left as it is. Projects are stored as given, so tests
// can write un-normalized names.
func (s *Store) CreateSession(ctx context.Context, id, project, dir string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertSession, id, project, dir, s.now())
		if err != nil {
			return fmt.Errorf("create session %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = journalSession(ctx, tx, s.Version, id)
		return err
	})
}

const endSession = `UPDATE sessions SET ended_at = COALESCE(?, datetime('now')), summary = ? WHERE id = ?`

// EndSession sets the session's ended_at (v3: Go's nanosecond stamp, else
// datetime('now')) and summary (nil is NULL), and journals the session in
// the same transaction.
func (s *Store) EndSession(ctx context.Context, id string, summary *string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		err := updateRow(ctx, tx, "end session "+id, "session "+id, endSession, s.now(), nullable(summary), id)
		if err != nil {
			return err
		}
		_, err = journalSession(ctx, tx, s.Version, id)
		return err
	})
}

const insertPrompt = `INSERT INTO user_prompts (sync_id, session_id, content, project, created_at)
VALUES (?, ?, ?, ?, datetime('now'))`

// AddPrompt records a user prompt (project nil is NULL) and journals it in
// the same transaction. It returns the prompt's sync_id.
func (s *Store) AddPrompt(ctx context.Context, sessionID string, project *string, content string) (string, error) {
	syncID := newSyncID("prompt-")
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, insertPrompt, syncID, sessionID, content, nullable(project)); err != nil {
			return fmt.Errorf("add prompt: %w", err)
		}
		_, err := journalPrompt(ctx, tx, s.Version, syncID)
		return err
	})
	if err != nil {
		return "", err
	}
	return syncID, nil
}
