package engram

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Journal vocabulary (sync_mutations columns).
const (
	TargetCloud = "cloud"
	TargetInbox = "cloud:inbox" // engram v3's reserved sync_state row
	SourceLocal = "local"

	EntitySession     = "session"
	EntityObservation = "observation"
	EntityPrompt      = "prompt"
	EntityRelation    = "relation"

	OpUpsert = "upsert"
	OpDelete = "delete"
)

const (
	ensureSyncState = `INSERT OR IGNORE INTO sync_state (target_key, lifecycle, updated_at)
VALUES (?, 'idle', datetime('now'))`

	insertMutation = `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
VALUES (?, ?, ?, ?, ?, ?, ?)`

	markSyncStatePending = `UPDATE sync_state
SET lifecycle = 'pending', last_enqueued_seq = ?, updated_at = datetime('now')
WHERE target_key = ?`

	// markSyncStatePendingV3 is v3's setter: it never touches the reserved
	// inbox target.
	markSyncStatePendingV3 = `UPDATE sync_state
SET lifecycle = 'pending', last_enqueued_seq = ?, updated_at = datetime('now')
WHERE target_key = ? AND target_key <> 'cloud:inbox'`

	selectSessionProject = `SELECT project FROM sessions WHERE id = ?`
)

// JournalRelation writes Go's journal row for a relation payload (§4) as
// v1.16.3 and v1.17 do, and returns its seq. The project column is the
// normalized payload project, or else the normalized project of the
// relation's session. JournalRelationVersion is the same for a given engram.
func JournalRelation(ctx context.Context, q Querier, p RelationPayload) (int64, error) {
	return JournalRelationVersion(ctx, q, V1163, p)
}

// JournalRelationVersion is JournalRelation as engram v writes it: for v3,
// through the central enrollment gate (seq 0 and no row when the project
// column is not enrolled) and v3's sync_state setter.
func JournalRelationVersion(ctx context.Context, q Querier, v Version, p RelationPayload) (int64, error) {
	project, err := journalProject(ctx, q, p.Project, p.SessionID)
	if err != nil {
		return 0, err
	}
	return enqueue(ctx, q, v, EntityRelation, p.SyncID, OpUpsert, p, project)
}

// journalProject is the project column of a journal row: the payload's
// project normalized, or the normalized project of the session sessionID.
func journalProject(ctx context.Context, q Querier, payloadProject string, sessionID *string) (string, error) {
	if p := NormalizeProject(payloadProject); p != "" || sessionID == nil {
		return p, nil
	}
	var sp string
	err := q.QueryRowContext(ctx, selectSessionProject, *sessionID).Scan(&sp)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("journal project: %w", err)
	}
	return NormalizeProject(sp), nil
}

// enqueue is engram's enqueueSyncMutationTx: the journal row plus the
// sync_state bookkeeping around it. It returns the row's seq (LastInsertId).
// For v3 it is enqueueSyncMutationWithSourceTx: its central enrollment gate
// writes nothing (seq 0) when project, the row's project column, is empty
// or not enrolled, for every entity; and its setter skips 'cloud:inbox'.
func enqueue(ctx context.Context, q Querier, v Version, entity, key, op string, payload any, project string) (int64, error) {
	if v.v3() {
		ok, err := isEnrolled(ctx, q, project)
		if err != nil || !ok {
			return 0, err
		}
	}
	mark := markSyncStatePending
	if v.v3() {
		mark = markSyncStatePendingV3
	}
	encoded, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	// The journal row's FK needs the target's sync_state row.
	if _, err := q.ExecContext(ctx, ensureSyncState, TargetCloud); err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	res, err := q.ExecContext(ctx, insertMutation,
		TargetCloud, entity, key, op, string(encoded), SourceLocal, project)
	if err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	seq, err := res.LastInsertId()
	if err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	if _, err := q.ExecContext(ctx, mark, seq, TargetCloud); err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	if project == "" {
		return seq, nil
	}
	// The per-project target follows the same lifecycle, created if missing;
	// v3 never creates or sets its reserved inbox target.
	perProject := TargetCloud + ":" + project
	if v.v3() && perProject == TargetInbox {
		return seq, nil
	}
	if _, err := q.ExecContext(ctx, ensureSyncState, perProject); err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	if _, err := q.ExecContext(ctx, mark, seq, perProject); err != nil {
		return 0, fmt.Errorf("journal %s %s: %w", entity, key, err)
	}
	return seq, nil
}

// sessionPayload is the journal payload of a session.
type sessionPayload struct {
	ID        string  `json:"id"`
	Project   string  `json:"project"`
	Directory string  `json:"directory"`
	EndedAt   *string `json:"ended_at,omitempty"`
	Summary   *string `json:"summary,omitempty"`
}

// observationPayload is the journal payload of an observation; a deletion
// carries deleted (and hard_delete when the row is gone).
type observationPayload struct {
	SyncID     string  `json:"sync_id"`
	SessionID  string  `json:"session_id"`
	Type       string  `json:"type"`
	Title      string  `json:"title"`
	Content    string  `json:"content"`
	ToolName   *string `json:"tool_name,omitempty"`
	Project    *string `json:"project,omitempty"`
	Scope      string  `json:"scope"`
	TopicKey   *string `json:"topic_key,omitempty"`
	Deleted    bool    `json:"deleted,omitempty"`
	DeletedAt  *string `json:"deleted_at,omitempty"`
	HardDelete bool    `json:"hard_delete,omitempty"`
}

// promptPayload is the journal payload of a user prompt.
type promptPayload struct {
	SyncID    string  `json:"sync_id"`
	SessionID string  `json:"session_id"`
	Content   string  `json:"content"`
	Project   *string `json:"project,omitempty"`
}

const (
	selectSessionPayload = `SELECT id, project, directory, ended_at, summary FROM sessions WHERE id = ?`

	selectObservationPayload = `
SELECT sync_id, session_id, type, title, content, tool_name, project, scope, topic_key, deleted_at
FROM observations WHERE sync_id = ? ORDER BY id LIMIT 1`

	selectPromptPayload = `
SELECT sync_id, session_id, content, project
FROM user_prompts WHERE sync_id = ? ORDER BY id LIMIT 1`
)

// JournalSession journals the session id as it is now (op upsert), as
// v1.16.3 and v1.17 do.
func JournalSession(ctx context.Context, q Querier, id string) (int64, error) {
	return journalSession(ctx, q, V1163, id)
}

func journalSession(ctx context.Context, q Querier, v Version, id string) (int64, error) {
	var p sessionPayload
	var ended, summary sql.NullString
	err := q.QueryRowContext(ctx, selectSessionPayload, id).Scan(&p.ID, &p.Project, &p.Directory, &ended, &summary)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("session %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("journal session %s: %w", id, err)
	}
	p.EndedAt, p.Summary = stringPtr(ended), stringPtr(summary)
	return enqueue(ctx, q, v, EntitySession, p.ID, OpUpsert, p, NormalizeProject(p.Project))
}

// JournalObservation journals the observation syncID as it is now: op
// upsert, or op delete when it is soft-deleted (v1.16.3 and v1.17).
func JournalObservation(ctx context.Context, q Querier, syncID string) (int64, error) {
	return journalObservation(ctx, q, V1163, syncID)
}

func journalObservation(ctx context.Context, q Querier, v Version, syncID string) (int64, error) {
	p, err := readObservationPayload(ctx, q, syncID)
	if err != nil {
		return 0, err
	}
	op := OpUpsert
	if p.Deleted {
		op = OpDelete
	}
	return journalObservationPayload(ctx, q, v, p, op)
}

func readObservationPayload(ctx context.Context, q Querier, syncID string) (observationPayload, error) {
	var p observationPayload
	var tool, project, topic, deleted sql.NullString
	err := q.QueryRowContext(ctx, selectObservationPayload, syncID).Scan(
		&p.SyncID, &p.SessionID, &p.Type, &p.Title, &p.Content,
		&tool, &project, &p.Scope, &topic, &deleted)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("observation %s: %w", syncID, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read observation %s: %w", syncID, err)
	}
	p.ToolName, p.Project, p.TopicKey = stringPtr(tool), stringPtr(project), stringPtr(topic)
	p.DeletedAt = stringPtr(deleted)
	p.Deleted = deleted.Valid
	return p, nil
}

func journalObservationPayload(ctx context.Context, q Querier, v Version, p observationPayload, op string) (int64, error) {
	column, err := journalProject(ctx, q, orEmpty(p.Project), &p.SessionID)
	if err != nil {
		return 0, err
	}
	return enqueue(ctx, q, v, EntityObservation, p.SyncID, op, p, column)
}

// JournalPrompt journals the user prompt syncID (op upsert), as v1.16.3 and
// v1.17 do.
func JournalPrompt(ctx context.Context, q Querier, syncID string) (int64, error) {
	return journalPrompt(ctx, q, V1163, syncID)
}

func journalPrompt(ctx context.Context, q Querier, v Version, syncID string) (int64, error) {
	var p promptPayload
	var project sql.NullString
	err := q.QueryRowContext(ctx, selectPromptPayload, syncID).Scan(&p.SyncID, &p.SessionID, &p.Content, &project)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("prompt %s: %w", syncID, ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("journal prompt %s: %w", syncID, err)
	}
	p.Project = stringPtr(project)
	column, err := journalProject(ctx, q, orEmpty(p.Project), &p.SessionID)
	if err != nil {
		return 0, err
	}
	return enqueue(ctx, q, v, EntityPrompt, p.SyncID, OpUpsert, p, column)
}
