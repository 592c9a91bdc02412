package engram

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/relsync/relsync/internal/sqlrows"
)

// ApplyMode is the surrounding in which engram applies a remote relation.
// The relation statement is the same upsert in every mode; none journals.
type ApplyMode int

const (
	// CloudPull: one mutation per transaction, with the pull's seq bookkeeping.
	CloudPull ApplyMode = iota + 1
	// DeferredReplay: a parked mutation retried in its own transaction.
	DeferredReplay
	// FileImport: engram sync --import, a whole chunk in one transaction.
	FileImport
)

// Outcome is what an apply did with a remote relation.
type Outcome int

const (
	Applied  Outcome = iota + 1 // upserted into memory_relations
	Skipped                     // already pulled (seq) or imported (chunk)
	Deferred                    // parked in sync_apply_deferred: an observation is missing
	Dead                        // parked as 'dead': it can never apply
)

func (o Outcome) String() string {
	switch o {
	case Applied:
		return "applied"
	case Skipped:
		return "skipped"
	case Deferred:
		return "deferred"
	case Dead:
		return "dead"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MaxReplayAttempts is how many failed replays make a parked row 'dead'.
const MaxReplayAttempts = 5

const (
	// upsertRemoteRelation writes the remote values, timestamps included;
	// a conflict keeps the local created_at.
	upsertRemoteRelation = `
INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, evidence, confidence,
    judgment_status, marked_by_actor, marked_by_kind, marked_by_model, session_id, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(sync_id) DO UPDATE SET
    source_id = excluded.source_id,
    target_id = excluded.target_id,
    relation = excluded.relation,
    reason = excluded.reason,
    evidence = excluded.evidence,
    confidence = excluded.confidence,
    judgment_status = excluded.judgment_status,
    marked_by_actor = excluded.marked_by_actor,
    marked_by_kind = excluded.marked_by_kind,
    marked_by_model = excluded.marked_by_model,
    session_id = excluded.session_id,
    updated_at = excluded.updated_at`

	selectPulledSeq = `SELECT last_pulled_seq FROM sync_state WHERE target_key = 'cloud'`

	markPulled = `
UPDATE sync_state SET lifecycle = 'healthy', last_pulled_seq = ?, updated_at = datetime('now')
WHERE target_key = 'cloud'`

	parkRemoteRelation = `
INSERT INTO sync_apply_deferred (sync_id, entity, payload, apply_status, retry_count, last_error, first_seen_at)
VALUES (?, 'relation', ?, ?, 0, ?, datetime('now'))
ON CONFLICT(sync_id) DO UPDATE SET
    payload = excluded.payload, apply_status = excluded.apply_status, last_error = excluded.last_error`

	unparkRemoteRelation = `DELETE FROM sync_apply_deferred WHERE sync_id = ?`

	selectParkedRelations = `
SELECT sync_id, payload FROM sync_apply_deferred
WHERE entity = 'relation' AND apply_status = 'deferred'
ORDER BY first_seen_at, sync_id`

	failReplay = `
INSERT INTO sync_apply_deferred (sync_id, entity, payload, apply_status, retry_count, last_error, last_attempted_at)
VALUES (?1, 'relation', ?2, 'deferred', 1, ?3, datetime('now'))
ON CONFLICT(sync_id) DO UPDATE SET
    retry_count = retry_count + 1,
    apply_status = CASE WHEN retry_count + 1 >= ?4 THEN 'dead' ELSE 'deferred' END,
    last_error = excluded.last_error,
    last_attempted_at = excluded.last_attempted_at`

	selectParkedStatus = `SELECT apply_status FROM sync_apply_deferred WHERE sync_id = ?`

	// File import records its chunks under sync_chunks' default target 'local'.
	selectChunkImported = `SELECT EXISTS (SELECT 1 FROM sync_chunks WHERE target_key = 'local' AND chunk_id = ?)`
	insertChunk         = `INSERT INTO sync_chunks (target_key, chunk_id, imported_at) VALUES ('local', ?, datetime('now'))`
)

// ApplyRemoteRelation applies one relation as the cloud returns it, in
// mode's surroundings: CloudPull as the mutation after last_pulled_seq,
// DeferredReplay as a parked row retried now, FileImport as a chunk of one.
// It never writes a journal row.
func (s *Store) ApplyRemoteRelation(ctx context.Context, p RelationPayload, mode ApplyMode) (Outcome, error) {
	switch mode {
	case CloudPull:
		return s.pull(ctx, 0, p)
	case DeferredReplay:
		var out Outcome
		err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
			out, err = replayTx(ctx, tx, p.SyncID, p, nil)
			return err
		})
		return out, err
	case FileImport:
		return s.ImportRelations(ctx, newSyncID("chunk-"), []RelationPayload{p})
	}
	return 0, fmt.Errorf("%w: apply mode %d", ErrInvalid, mode)
}

// PullRelation applies the pulled relation mutation numbered seq (> 0) in
// one transaction: skipped at or below last_pulled_seq, 'dead' when source
// or target is empty, parked when an observation is missing, else upserted;
// sync_state 'cloud' then turns 'healthy' with last_pulled_seq = seq.
func (s *Store) PullRelation(ctx context.Context, seq int64, p RelationPayload) (Outcome, error) {
	if seq <= 0 {
		return 0, fmt.Errorf("%w: pull seq %d", ErrInvalid, seq)
	}
	return s.pull(ctx, seq, p)
}

// pull is PullRelation; seq 0 means the one after last_pulled_seq.
func (s *Store) pull(ctx context.Context, seq int64, p RelationPayload) (Outcome, error) {
	var out Outcome
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, ensureSyncState, TargetCloud); err != nil {
			return err
		}
		var last int64
		if err := tx.QueryRowContext(ctx, selectPulledSeq).Scan(&last); err != nil {
			return err
		}
		if seq == 0 {
			seq = last + 1
		}
		if seq <= last {
			out = Skipped
			return nil
		}
		var err error
		if out, err = applyOrPark(ctx, tx, p); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, markPulled, seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pull relation %s: %w", p.SyncID, err)
	}
	return out, nil
}

// applyOrPark is the cloud pull's handling of one relation mutation.
func applyOrPark(ctx context.Context, q Querier, p RelationPayload) (Outcome, error) {
	if p.SourceID == "" || p.TargetID == "" {
		return Dead, park(ctx, q, p, "dead", "relation without source or target")
	}
	ok, err := observationsPresent(ctx, q, p)
	if err != nil {
		return 0, err
	}
	if !ok {
		return Deferred, park(ctx, q, p, "deferred", "observation not present")
	}
	if err := upsertRemote(ctx, q, p); err != nil {
		return 0, err
	}
	// A newer version supersedes whatever was parked under this key.
	_, err = q.ExecContext(ctx, unparkRemoteRelation, p.SyncID)
	return Applied, err
}

func park(ctx context.Context, q Querier, p RelationPayload, status, why string) error {
	encoded, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, parkRemoteRelation, p.SyncID, string(encoded), status, why)
	return err
}

// ReplayDeferred is the deferred replay at the start of every pull: each
// parked relation in its own transaction, sync_state untouched. A row whose
// observations are still missing counts a failed attempt and turns 'dead'
// after MaxReplayAttempts. It returns how many relations it applied.
func (s *Store) ReplayDeferred(ctx context.Context) (int, error) {
	type parked struct{ key, payload string }
	todo, err := sqlrows.Scan(ctx, s.DB, selectParkedRelations, func(rows *sql.Rows, r *parked) error {
		return rows.Scan(&r.key, &r.payload)
	})
	if err != nil {
		return 0, err
	}
	applied := 0
	for _, r := range todo {
		var p RelationPayload
		decodeErr := json.Unmarshal([]byte(r.payload), &p)
		var out Outcome
		err := s.inTx(ctx, func(tx *sql.Tx) (err error) {
			out, err = replayTx(ctx, tx, r.key, p, decodeErr)
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("replay %s: %w", r.key, err)
		}
		if out == Applied {
			applied++
		}
	}
	return applied, nil
}

// replayTx retries one parked relation under key: applied and unparked when
// its observations exist, else one more failed attempt.
func replayTx(ctx context.Context, q Querier, key string, p RelationPayload, decodeErr error) (Outcome, error) {
	why := "observation not present"
	switch {
	case decodeErr != nil:
		why = "undecodable payload: " + decodeErr.Error()
	case p.SourceID == "" || p.TargetID == "":
		why = "relation without source or target"
	default:
		ok, err := observationsPresent(ctx, q, p)
		if err != nil {
			return 0, err
		}
		if ok {
			if err := upsertRemote(ctx, q, p); err != nil {
				return 0, err
			}
			_, err := q.ExecContext(ctx, unparkRemoteRelation, key)
			return Applied, err
		}
	}
	encoded, err := json.Marshal(p)
	if err != nil {
		return 0, err
	}
	if _, err := q.ExecContext(ctx, failReplay, key, string(encoded), why, MaxReplayAttempts); err != nil {
		return 0, err
	}
	var status string
	if err := q.QueryRowContext(ctx, selectParkedStatus, key).Scan(&status); err != nil {
		return 0, err
	}
	if status == "dead" {
		return Dead, nil
	}
	return Deferred, nil
}

// ImportRelations is engram sync --import of one chunk: skipped when the
// chunk id was imported before, else every relation upserted in one
// transaction; a missing observation fails the whole chunk.
func (s *Store) ImportRelations(ctx context.Context, chunkID string, ps []RelationPayload) (Outcome, error) {
	out := Applied
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var done bool
		if err := tx.QueryRowContext(ctx, selectChunkImported, chunkID).Scan(&done); err != nil {
			return err
		}
		if done {
			out = Skipped
			return nil
		}
		for _, p := range ps {
			ok, err := observationsPresent(ctx, tx, p)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("relation %s: observation %w", p.SyncID, ErrNotFound)
			}
			if err := upsertRemote(ctx, tx, p); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, insertChunk, chunkID)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("import chunk %s: %w", chunkID, err)
	}
	return out, nil
}

// observationsPresent reports whether both observations of p have a row,
// soft-deleted or not.
func observationsPresent(ctx context.Context, q Querier, p RelationPayload) (bool, error) {
	for _, id := range []string{p.SourceID, p.TargetID} {
		var ok bool
		if err := q.QueryRowContext(ctx, selectObservationExists, id).Scan(&ok); err != nil {
			return false, err
		}
		if !ok {
			return false, nil
		}
	}
	return true, nil
}

func upsertRemote(ctx context.Context, q Querier, p RelationPayload) error {
	_, err := q.ExecContext(ctx, upsertRemoteRelation,
		p.SyncID, p.SourceID, p.TargetID, p.Relation,
		nullable(p.Reason), nullable(p.Evidence), nullable(p.Confidence), p.JudgmentStatus,
		nullable(p.MarkedByActor), nullable(p.MarkedByKind), nullable(p.MarkedByModel), nullable(p.SessionID),
		p.CreatedAt, p.UpdatedAt)
	if err != nil {
		return fmt.Errorf("apply relation %s: %w", p.SyncID, err)
	}
	return nil
}
