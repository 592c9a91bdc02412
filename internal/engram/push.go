package engram

import (
	"context"
	"database/sql"
	"fmt"
)

// Mutation is a journal row as the pusher reads it. The push sends Project,
// Entity, EntityKey, Op and Payload (never Seq) and acks by Seq.
type Mutation struct {
	Seq       int64
	Entity    string
	EntityKey string
	Op        string
	Payload   string
	Source    string
	Project   string
}

// Journal dispositions (engram v3's sync_mutations.disposition).
const (
	DispositionPending     = "pending"
	DispositionQuarantined = "quarantined"
	DispositionSuperseded  = "superseded"
)

const (
	// selectPushable is the pusher's selection of v1.16.3 and v1.17: the
	// unacked rows of target 'cloud' whose project is '' or enrolled.
	selectPushable = `
SELECT seq, entity, entity_key, op, payload, source, project FROM sync_mutations
WHERE target_key = 'cloud' AND acked_at IS NULL
  AND (project = '' OR project IN (SELECT project FROM sync_enrolled_projects))
ORDER BY seq`

	// selectPushableV3 is v3's: only rows whose disposition is 'pending'.
	selectPushableV3 = `
SELECT seq, entity, entity_key, op, payload, source, project FROM sync_mutations
WHERE target_key = 'cloud' AND acked_at IS NULL AND disposition = 'pending'
  AND (project = '' OR project IN (SELECT project FROM sync_enrolled_projects))
ORDER BY seq`

	ackMutation   = `UPDATE sync_mutations SET acked_at = datetime('now') WHERE seq = ? AND acked_at IS NULL`
	ackMutationV3 = ackMutation + ` AND disposition = 'pending'`

	markAcked = `
UPDATE sync_state SET last_acked_seq = max(last_acked_seq, ?), updated_at = datetime('now')
WHERE target_key = 'cloud'`

	quarantineMutation = `
UPDATE sync_mutations
SET disposition = 'quarantined', disposition_reason = ?, disposition_at = ?
WHERE seq = ?`
)

// PushableMutations is the pusher's selection, in seq order, as s.Version
// makes it. It only reads: engram v3 runs PrePushRepair before it.
func (s *Store) PushableMutations(ctx context.Context) ([]Mutation, error) {
	query := selectPushable
	if s.Version.v3() {
		query = selectPushableV3
	}
	rows, err := s.DB.QueryContext(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("pushable mutations: %w", err)
	}
	defer rows.Close()
	var out []Mutation
	for rows.Next() {
		var m Mutation
		if err := rows.Scan(&m.Seq, &m.Entity, &m.EntityKey, &m.Op, &m.Payload, &m.Source, &m.Project); err != nil {
			return nil, fmt.Errorf("pushable mutations: %w", err)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pushable mutations: %w", err)
	}
	return out, nil
}

// AckMutations is the pusher's ack after the cloud accepted a batch: each
// seq's row gets acked_at (v3: only a 'pending' row), and sync_state 'cloud'
// its last_acked_seq, in one transaction. It returns how many rows it acked.
func (s *Store) AckMutations(ctx context.Context, seqs ...int64) (int, error) {
	stmt := ackMutation
	if s.Version.v3() {
		stmt = ackMutationV3
	}
	n := 0
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		for _, seq := range seqs {
			res, err := tx.ExecContext(ctx, stmt, seq)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			if k == 0 {
				continue
			}
			n++
			if _, err := tx.ExecContext(ctx, markAcked, seq); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("ack mutations: %w", err)
	}
	return n, nil
}

// QuarantineMutation is engram v3 setting aside a journal row it cannot
// repair: disposition 'quarantined', the reason, and disposition_at (Go's
// nanosecond stamp). It needs v3's columns (a v3 Store, or a database
// MigrateV3 ran on) and returns ErrNotFound when no row has that seq.
func (s *Store) QuarantineMutation(ctx context.Context, seq int64, reason string) error {
	if !s.Version.v3() {
		return fmt.Errorf("%w: quarantine needs engram v3, Store is %v", ErrInvalid, s.Version)
	}
	return updateRow(ctx, s.DB, fmt.Sprintf("quarantine %d", seq), fmt.Sprintf("journal row %d", seq),
		quarantineMutation, reason, s.now(), seq)
}
