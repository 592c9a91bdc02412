package relsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/relsync/relsync/internal/sqlitecode"
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

// checkEngramSchema refuses, before goose writes anything, a database without engram's tables and
// a file relsync could not write, so that either is left exactly as it was.
func checkEngramSchema(ctx context.Context, db *sql.DB) error {
	if err := checkEngramTables(ctx, db); err != nil {
		return err
	}
	return checkWritable(ctx, db)
}

// checkEngramTables runs the migration's precheck section, the one home of the list of what
// relsync needs. An empty database (what a plain path to a wrong file leaves) gets its own message.
func checkEngramTables(ctx context.Context, db *sql.DB) error {
	var objects int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master`).Scan(&objects); err != nil {
		return classifyOpenError(err)
	}
	if objects == 0 {
		return fmt.Errorf("%w: the database is empty (no tables); is it engram's file?", ErrNotEngram)
	}
	precheck, err := section("precheck")
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, precheck); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "relsync: "); i >= 0 {
			msg = strings.TrimSuffix(msg[i+len("relsync: "):], "'")
			msg = strings.TrimSuffix(strings.TrimSuffix(msg, " (1)"), "'")
			if j := strings.Index(msg, "missing "); j >= 0 {
				msg = msg[j:] // the precheck's preamble says again what ErrNotEngram says
			}
			return fmt.Errorf("%w (or one older than relsync supports): %s", ErrNotEngram, msg)
		}
		return classifyOpenError(err)
	}
	return nil
}

// checkWritable refuses a file relsync could not write, before goose tries to. The write lock
// alone proves nothing (SQLite grants it to a read-only connection, and a rollback-journal file
// needs its journal only at the first write), so it makes a first write as well, a table that the
// rollback discards: SQLite refuses it at once on a read-only file, connection or directory.
// (Opening the file ourselves to test it would be wrong: closing any descriptor of a database file
// drops the process's POSIX locks on it.)
func checkWritable(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		if code := sqlitecode.Of(err); isReadOnly(code) {
			return readOnlyError(code, err)
		}
		return fmt.Errorf("relsync: cannot take the write lock: %w", err)
	}
	_, err = conn.ExecContext(ctx, `CREATE TABLE main.relsync_write_probe (x)`)
	_, rollbackErr := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	if code := sqlitecode.Of(err); isReadOnly(code) {
		return readOnlyError(code, err)
	}
	if err != nil {
		return fmt.Errorf("relsync: a first write failed: %w", err)
	}
	return rollbackErr
}
