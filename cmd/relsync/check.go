package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/relsync/relsync"
)

// check says whether goose may migrate the file at path, and writes nothing to it: it reads
// relsync's version table and, when relsync is not installed yet, runs relsync's own precheck.
func check(ctx context.Context, path string, out io.Writer) error {
	db, err := openExisting(path, true)
	if err != nil {
		return err
	}
	defer db.Close()
	current, latest, err := relsync.Version(ctx, db)
	if err != nil {
		return explain(path, err)
	}
	if current > 0 { // relsync checked the tables when it installed itself
		fmt.Fprintf(out, "%s: engram database, relsync at version %d (this build: %d)\n", path, current, latest)
		return nil
	}
	if err := relsync.CheckEngram(ctx, db); err != nil {
		return explain(path, err)
	}
	fmt.Fprintf(out, "%s: engram database, relsync not installed (this build installs version %d)\n", path, latest)
	return nil
}

// explain turns relsync's errors into a sentence about the file.
func explain(path string, err error) error {
	if errors.Is(err, relsync.ErrNotDatabase) {
		return fmt.Errorf("%s is not an SQLite database", path)
	}
	return fmt.Errorf("%s: %w", path, err)
}
