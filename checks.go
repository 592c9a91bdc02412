package relsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotDatabase is returned for a file that SQLite cannot read as a database.
var ErrNotDatabase = errors.New("relsync: not an SQLite database")

// ErrNotEngram is returned for a database that lacks the engram tables and columns relsync writes
// into; the message names what is missing.
var ErrNotEngram = errors.New("relsync: not an engram database")

// ErrReadOnly is returned when relsync has something to install but cannot write the file.
var ErrReadOnly = errors.New("relsync: the database is read-only")

// sqliteCoder is what modernc's errors expose: SQLite's extended result code.
type sqliteCoder interface{ Code() int }

func sqliteCode(err error) int {
	var c sqliteCoder
	if errors.As(err, &c) {
		return c.Code()
	}
	return 0
}

// isBusy reports SQLITE_BUSY and SQLITE_LOCKED with their extended codes.
func isBusy(err error) bool {
	code := sqliteCode(err) & 0xff
	return code == 5 || code == 6
}

// classifyOpenError turns the errors of a first read into relsync's clear ones.
func classifyOpenError(err error) error {
	switch code := sqliteCode(err); code & 0xff {
	case 26: // SQLITE_NOTADB
		return fmt.Errorf("%w: %v", ErrNotDatabase, err)
	case 8: // SQLITE_READONLY: a WAL database whose -wal and -shm cannot be created, even to read
		return readOnlyError(code, err)
	}
	return fmt.Errorf("relsync: reading the database: %w", err)
}

// isReadOnly reports the codes SQLite gives a write it cannot make: SQLITE_READONLY and its
// extended codes, and SQLITE_CANTOPEN for a journal file it cannot create.
func isReadOnly(code int) bool { return code&0xff == 8 || code&0xff == 14 }

// readOnlyError names the cause SQLite's extended code gives: the directory that cannot take the
// files SQLite keeps beside the database, or the file (or connection) itself.
func readOnlyError(code int, err error) error {
	if code == 1544 || code&0xff == 14 { // SQLITE_READONLY_DIRECTORY, SQLITE_CANTOPEN
		return fmt.Errorf("%w: its directory is not writable, and SQLite creates its journal files there: %v",
			ErrReadOnly, err)
	}
	return fmt.Errorf("%w: %v", ErrReadOnly, err)
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
		if code := sqliteCode(err); isReadOnly(code) {
			return readOnlyError(code, err)
		}
		return fmt.Errorf("relsync: cannot take the write lock: %w", err)
	}
	_, err = conn.ExecContext(ctx, `CREATE TABLE main.relsync_write_probe (x)`)
	_, rollbackErr := conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
	if code := sqliteCode(err); isReadOnly(code) {
		return readOnlyError(code, err)
	}
	if err != nil {
		return fmt.Errorf("relsync: a first write failed: %w", err)
	}
	return rollbackErr
}

// mainFile is the path of the main database file, "" for an in-memory or temporary database.
func mainFile(ctx context.Context, db *sql.DB) (string, error) {
	rows, err := db.QueryContext(ctx, `PRAGMA database_list`)
	if err != nil {
		return "", classifyOpenError(err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int
		var name, file string
		if err := rows.Scan(&seq, &name, &file); err != nil {
			return "", err
		}
		if name == "main" {
			return file, nil
		}
	}
	return "", rows.Err()
}
