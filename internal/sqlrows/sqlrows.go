// Package sqlrows reads a query's whole result into a slice and closes it before returning, so
// that no cursor is open while the caller then writes: relsync and the tests' engram replica
// share it.
package sqlrows

import (
	"context"
	"database/sql"
)

// Querier runs a query: *sql.DB, *sql.Tx or *sql.Conn.
type Querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// Scan runs query and reads each row into a T with scan.
func Scan[T any](ctx context.Context, q Querier, query string, scan func(*sql.Rows, *T) error, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		var v T
		if err := scan(rows, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Column reads a one-column result.
func Column[T any](ctx context.Context, q Querier, query string, args ...any) ([]T, error) {
	return Scan(ctx, q, query, func(rows *sql.Rows, v *T) error { return rows.Scan(v) }, args...)
}
