package relsync

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/gofrs/flock"
)

// LockFileSuffix names the file beside the database (engram.db.relsync-lock) that serializes
// relsync's installs across processes. goose has no SQLite locker; a lock inside the database would need one of the host's
// connections (a deadlock when the host allows one) and a lease that a crashed holder leaves
// behind. An OS file lock is released by the kernel when its holder dies.
const LockFileSuffix = ".relsync-lock"

// withInstallLock runs fn while this process holds relsync's install lock for db's file. An
// in-memory database has no file to share, so it needs none.
func withInstallLock(ctx context.Context, db *sql.DB, fn func() error) error {
	file, err := mainFile(ctx, db)
	if err != nil {
		return err
	}
	if file == "" {
		return fn()
	}
	lock := flock.New(file + LockFileSuffix)
	ok, err := lock.TryLockContext(ctx, 10*time.Millisecond)
	if err != nil {
		return fmt.Errorf("relsync: cannot lock %s: %w", lock.Path(), err)
	}
	if !ok {
		return fmt.Errorf("relsync: cannot lock %s: %w", lock.Path(), ctx.Err())
	}
	defer lock.Unlock()
	return fn()
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
