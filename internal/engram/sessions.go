package engram

import (
	"context"
	"database/sql"
	"fmt"
)

const insertSession = `INSERT OR IGNORE INTO sessions (id, project, directory) VALUES (?, ?, ?)`

// CreateSession records a session and journals it in the same transaction,
// whatever its project's enrollment. An existing id is left as it is.
// Projects are stored as given, so tests can write un-normalized names.
func (s *Store) CreateSession(ctx context.Context, id, project, dir string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, insertSession, id, project, dir)
		if err != nil {
			return fmt.Errorf("create session %s: %w", id, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return err
		}
		_, err = JournalSession(ctx, tx, id)
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
		_, err := JournalPrompt(ctx, tx, syncID)
		return err
	})
	if err != nil {
		return "", err
	}
	return syncID, nil
}
