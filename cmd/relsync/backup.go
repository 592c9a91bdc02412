package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"time"
)

// backup writes a consistent copy of the database beside it with VACUUM INTO (one read
// transaction: engram may keep writing meanwhile) and prints the copy's path. VACUUM INTO writes
// only the new file.
func backup(ctx context.Context, path string, out io.Writer) error {
	db, err := openExisting(path, false)
	if err != nil {
		return err
	}
	defer db.Close()
	dest, err := writeBackup(ctx, db, path)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, dest)
	return nil
}

// writeBackup writes the copy and returns its path.
func writeBackup(ctx context.Context, db *sql.DB, path string) (string, error) {
	dest := backupName(path, time.Now())
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		os.Remove(dest) // the name was free: whatever is there is this failed attempt's
		return "", fmt.Errorf("%s: backup to %s: %w", path, dest, err)
	}
	return dest, nil
}

// backupName is path.relsync-backup-<UTC time>, with -2, -3... when that name is taken.
func backupName(path string, now time.Time) string {
	base := path + ".relsync-backup-" + now.UTC().Format("20060102T150405Z")
	name := base
	for n := 2; ; n++ {
		if _, err := os.Lstat(name); os.IsNotExist(err) {
			return name
		}
		name = fmt.Sprintf("%s-%d", base, n)
	}
}
