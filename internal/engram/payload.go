package engram

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// Querier is what engram's statements run on: *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// RelationPayload is the journal payload of a relation (docs/engram.md §5).
// Field order and tags are the wire format: json.Marshal of this struct is
// the reference bytes. Pointer fields are NULL-able columns, omitted when
// NULL; an empty string is kept.
type RelationPayload struct {
	SyncID         string   `json:"sync_id"`
	SourceID       string   `json:"source_id"`
	TargetID       string   `json:"target_id"`
	Relation       string   `json:"relation"`
	Reason         *string  `json:"reason,omitempty"`
	Evidence       *string  `json:"evidence,omitempty"`
	Confidence     *float64 `json:"confidence,omitempty"`
	JudgmentStatus string   `json:"judgment_status"`
	MarkedByActor  *string  `json:"marked_by_actor,omitempty"`
	MarkedByKind   *string  `json:"marked_by_kind,omitempty"`
	MarkedByModel  *string  `json:"marked_by_model,omitempty"`
	SessionID      *string  `json:"session_id,omitempty"`
	Project        string   `json:"project"`
	CreatedAt      string   `json:"created_at"`
	UpdatedAt      string   `json:"updated_at"`
}

// ErrNotFound reports a row that a write path needs and that does not exist.
var ErrNotFound = errors.New("engram: not found")

// updateRow runs a write that must change a row: its error is wrapped in
// doing, and a write that changes none returns ErrNotFound naming what.
func updateRow(ctx context.Context, q Querier, doing, what, query string, args ...any) error {
	res, err := q.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	return nil
}

// selectRelationPayload reads a relation's payload in RelationPayload's field
// order; project is the subquery that finds the payload project (empty when it
// finds none).
func selectRelationPayload(project string) string {
	return `
SELECT r.sync_id, COALESCE(r.source_id, ''), COALESCE(r.target_id, ''), r.relation,
       r.reason, r.evidence, r.confidence, r.judgment_status,
       r.marked_by_actor, r.marked_by_kind, r.marked_by_model, r.session_id,
       COALESCE(` + project + `,
           ''),
       r.created_at, r.updated_at
FROM memory_relations r
WHERE r.sync_id = ?`
}

var (
	// selectRelationPayloadV117 reads a relation with v1.17's payload project:
	// the source observation's project, else its session's, else empty.
	selectRelationPayloadV117 = selectRelationPayload(`
           (SELECT COALESCE(NULLIF(o.project, ''), NULLIF(s.project, ''))
            FROM observations o LEFT JOIN sessions s ON s.id = o.session_id
            WHERE o.sync_id = r.source_id
            ORDER BY o.id LIMIT 1)`)

	// selectRelationPayloadV1163 reads a relation with v1.16.3 JudgeRelation's
	// payload project: the source observation's raw project, no fallback.
	selectRelationPayloadV1163 = selectRelationPayload(`
           (SELECT o.project FROM observations o
            WHERE o.sync_id = r.source_id
            ORDER BY o.id LIMIT 1)`)
)

// ReadRelationPayload reads the payload engram v would journal for the
// relation relSyncID. It returns ErrNotFound when there is no such relation.
func ReadRelationPayload(ctx context.Context, q Querier, relSyncID string, v Version) (RelationPayload, error) {
	query := selectRelationPayloadV1163
	if v.fixes496() {
		query = selectRelationPayloadV117
	}
	var p RelationPayload
	var reason, evidence, actor, kind, model, session sql.NullString
	var confidence sql.NullFloat64
	err := q.QueryRowContext(ctx, query, relSyncID).Scan(
		&p.SyncID, &p.SourceID, &p.TargetID, &p.Relation,
		&reason, &evidence, &confidence, &p.JudgmentStatus,
		&actor, &kind, &model, &session,
		&p.Project, &p.CreatedAt, &p.UpdatedAt,
	)
	if errors.Is(err, sql.ErrNoRows) {
		return p, fmt.Errorf("relation %s: %w", relSyncID, ErrNotFound)
	}
	if err != nil {
		return p, fmt.Errorf("read relation %s: %w", relSyncID, err)
	}
	p.Reason = stringPtr(reason)
	p.Evidence = stringPtr(evidence)
	p.MarkedByActor = stringPtr(actor)
	p.MarkedByKind = stringPtr(kind)
	p.MarkedByModel = stringPtr(model)
	p.SessionID = stringPtr(session)
	if confidence.Valid {
		c := confidence.Float64
		p.Confidence = &c
	}
	return p, nil
}

// NormalizeProject is engram's project-name normalization: trimmed,
// lower-cased, with runs of '-' or '_' doubled collapsed to one.
func NormalizeProject(name string) string {
	n := strings.ToLower(strings.TrimSpace(name))
	for strings.Contains(n, "--") || strings.Contains(n, "__") {
		n = strings.ReplaceAll(n, "--", "-")
		n = strings.ReplaceAll(n, "__", "_")
	}
	return n
}

func stringPtr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

// orEmpty is the string p points to, "" for nil.
func orEmpty(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// nullable maps an optional Go value to a column value (nil is NULL).
func nullable[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}
