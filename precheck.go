package relsync

import (
	"context"
	"database/sql"
)

// CheckEngram reports, without writing anything, whether db is an SQLite database with the engram
// tables and columns relsync needs (ErrNotDatabase, ErrNotEngram otherwise). Tools call it before
// handing a file to the goose CLI, which would create its version table first.
func CheckEngram(ctx context.Context, db *sql.DB) error {
	if _, err := readState(ctx, db); err != nil {
		return err
	}
	return checkEngramTables(ctx, db)
}
