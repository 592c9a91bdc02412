package relsync

import (
	"errors"
	"fmt"

	"github.com/relsync/relsync/internal/sqlitecode"
)

// The errors relsync returns for input it refuses (each leaves the database as it was), and how it
// chooses them from SQLite's result codes (read by internal/sqlitecode).

// ErrNotDatabase is returned for a file that SQLite cannot read as a database.
var ErrNotDatabase = errors.New("relsync: not an SQLite database")

// ErrNotEngram is returned for a database that lacks the engram tables and columns relsync writes
// into; the message names what is missing.
var ErrNotEngram = errors.New("relsync: not an engram database")

// ErrReadOnly is returned when relsync has something to install but cannot write the file.
var ErrReadOnly = errors.New("relsync: the database is read-only")

// ErrNotInstalled is returned by Backfill and Repair on a database where relsync is not installed:
// Install (or Up) comes first.
var ErrNotInstalled = errors.New("relsync: not installed in this database (run Up or Install first)")

// ErrNewerDatabase is returned when the database carries relsync migrations this build does not
// know: a newer relsync installed them, and this one must not run its older SQL over them.
var ErrNewerDatabase = errors.New("relsync: the database was migrated by a newer relsync")

// classifyOpenError turns the errors of a first read into relsync's clear ones.
func classifyOpenError(err error) error {
	switch code := sqlitecode.Of(err); code & 0xff {
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
