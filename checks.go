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
	switch sqliteCode(err) & 0xff {
	case 26: // SQLITE_NOTADB
		return fmt.Errorf("%w: %v", ErrNotDatabase, err)
	}
	return fmt.Errorf("relsync: reading the database: %w", err)
}

// checkEngramSchema runs the precheck that opens migration 1 (the one home of the list of what
// relsync needs) before goose writes anything, so a database without engram's tables is left
// exactly as it was. It also refuses a file it could not write.
func checkEngramSchema(ctx context.Context, db *sql.DB) error {
	ms, err := migrationFiles()
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, ms[0].up[0]); err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "relsync: "); i >= 0 {
			msg = strings.TrimSuffix(msg[i+len("relsync: "):], "'")
			msg = strings.TrimSuffix(strings.TrimSuffix(msg, " (1)"), "'")
			return fmt.Errorf("%w: %s", ErrNotEngram, msg)
		}
		return classifyOpenError(err)
	}
	return checkWritable(ctx, db)
}

// checkWritable refuses a file relsync could not write, before goose tries to: it asks SQLite for
// the write lock and gives it back at once. (Opening the file ourselves to test it would be wrong:
// closing any descriptor of a database file drops the process's POSIX locks on it.)
func checkWritable(ctx context.Context, db *sql.DB) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		switch sqliteCode(err) & 0xff {
		case 8: // SQLITE_READONLY
			return fmt.Errorf("%w: %v", ErrReadOnly, err)
		}
		return fmt.Errorf("relsync: cannot take the write lock: %w", err)
	}
	_, err = conn.ExecContext(ctx, `ROLLBACK`)
	return err
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
