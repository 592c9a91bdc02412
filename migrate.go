// Package relsync makes an engram SQLite database keep its own cloud-sync journal complete: goose
// migrations install triggers on memory_relations that write the journal rows engram's Go code
// forgets, and backfill the rows already missing. Engram calls Up when it opens its database.
package relsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/pressly/goose/v3"
)

// Up applies the migrations that are pending. It is meant to run at every open: when nothing is
// pending it reads one small table and returns, without taking a write lock. Otherwise it checks
// the file (an SQLite database, engram's tables, writable), takes relsync's lock beside the file so
// that concurrent processes install once, and applies. It refuses a database migrated by a newer
// relsync. It never closes db and never touches PRAGMA user_version.
func Up(ctx context.Context, db *sql.DB) error {
	st, err := readState(ctx, db)
	if err != nil {
		return err
	}
	if st.current() {
		return nil
	}
	return withInstallLock(ctx, db, func() error {
		st, err := readState(ctx, db) // another process may have finished meanwhile
		if err != nil || st.current() {
			return err
		}
		if !st.installed() {
			if err := checkEngramSchema(ctx, db); err != nil {
				return err
			}
		}
		return retryBusy(ctx, func() error {
			p, err := newProvider(db)
			if err != nil {
				return err
			}
			_, err = p.Up(ctx)
			return wrapGoose(err)
		})
	})
}

// Down removes every relsync object by running all Down migrations. Journal rows and sync_state
// stay: they are engram's data. Running Up again reinstalls and backfills what is missing.
func Down(ctx context.Context, db *sql.DB) error {
	st, err := readState(ctx, db)
	if err != nil || !st.installed() {
		return err
	}
	return withInstallLock(ctx, db, func() error {
		return retryBusy(ctx, func() error {
			p, err := newProvider(db)
			if err != nil {
				return err
			}
			_, err = p.DownTo(ctx, 0)
			return wrapGoose(err)
		})
	})
}

// Status reports each migration of this build and whether the database has it applied.
func Status(ctx context.Context, db *sql.DB) ([]*goose.MigrationStatus, error) {
	st, err := readState(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]*goose.MigrationStatus, 0, len(st.known))
	for _, m := range st.known {
		s := &goose.MigrationStatus{
			Source: &goose.Source{Type: goose.TypeSQL, Path: m.name, Version: m.version},
			State:  goose.StatePending,
		}
		if at, ok := st.applied[m.version]; ok {
			s.State, s.AppliedAt = goose.StateApplied, at
		}
		out = append(out, s)
	}
	return out, nil
}

// Version returns the relsync version the database has (0 when not installed) and the latest this
// build installs.
func Version(ctx context.Context, db *sql.DB) (current, latest int64, err error) {
	st, err := readState(ctx, db)
	if err != nil {
		return 0, 0, err
	}
	return st.version(), st.latest(), nil
}

// newProvider builds a goose provider on relsync's embedded migrations and version table, with
// goose's global registry (and so anything the host registered) left out.
func newProvider(db *sql.DB) (*goose.Provider, error) {
	return goose.NewProvider(goose.DialectSQLite3, db, Migrations(),
		goose.WithTableName(VersionTable),
		goose.WithDisableGlobalRegistry(true),
	)
}

// wrapGoose prefixes goose's errors so that a host's log says where they come from.
func wrapGoose(err error) error {
	if err == nil {
		return nil
	}
	var pe *goose.PartialError
	if errors.As(err, &pe) && pe.Failed != nil && pe.Failed.Source != nil {
		return fmt.Errorf("relsync: migration %s failed, nothing of it was applied: %w", pe.Failed.Source.Path, pe.Err)
	}
	return fmt.Errorf("relsync: %w", err)
}

// retryBusy runs fn again when SQLite answered busy: engram's other processes write between our
// reads and our first write, and a deferred transaction cannot wait for them (SQLITE_BUSY_SNAPSHOT).
// Each failed attempt rolled back whole, so trying again is safe.
func retryBusy(ctx context.Context, fn func() error) error {
	delay := 20 * time.Millisecond
	for attempt := 0; ; attempt++ {
		err := fn()
		if err == nil || !isBusy(err) || attempt == 8 {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
		delay *= 2
	}
}

var _ fs.FS = Migrations()
