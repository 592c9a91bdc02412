// Package relsync makes an engram SQLite database keep its own cloud-sync journal complete: goose
// migrations install triggers on memory_relations that write the journal rows engram's Go code
// forgets, and backfill the rows already missing. Engram calls Up when it opens its database.
package relsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/relsync/relsync/internal/sqlitecode"
)

// Up installs or upgrades relsync and journals every relation that lacks its row: Install, then
// Backfill, then the migrations that come after the backfill. It is the one-call default, safe at
// every open: on a current database it reads relsync's version table and compares relsync's
// objects with what it installed, and returns without taking a write lock. The backfill never
// holds the write lock for long (see Backfill), but on a large database it takes a while; a host
// that must open fast calls Install at open and Backfill afterwards. opts reach Backfill.
func Up(ctx context.Context, db *sql.DB, opts ...Option) error {
	if err := Install(ctx, db); err != nil {
		return err
	}
	return Backfill(ctx, db, opts...)
}

// Install applies the pending migrations up to the backfill, in a few milliseconds at any
// database size: the triggers are live when it returns, and the relations that lacked a row wait
// for Backfill (BackfillPending says so). It checks the file first (an SQLite database, engram's
// tables, writable) and takes relsync's lock beside the file so that concurrent processes install
// once. If an object of relsync went missing or changed (engram rebuilt memory_relations, say), it
// recreates it and restarts the backfill, which then journals the relations written meanwhile. It
// refuses a database migrated by a newer relsync, never closes db and never touches PRAGMA
// user_version.
func Install(ctx context.Context, db *sql.DB) error {
	st, err := readState(ctx, db)
	if err != nil {
		return err
	}
	if st.anyApplied() && !st.pendingBefore(st.backfillVersion()) {
		if n, err := countDrifted(ctx, db); err != nil || n == 0 {
			return err
		}
		return withInstallLock(ctx, db, func() error {
			return retryBusy(ctx, db, func() error { return repair(ctx, db, false) })
		})
	}
	return withInstallLock(ctx, db, func() error {
		st, err := readState(ctx, db) // another process may have finished meanwhile
		if err != nil || (st.anyApplied() && !st.pendingBefore(st.backfillVersion())) {
			return err
		}
		if !st.anyApplied() {
			err = checkEngramSchema(ctx, db)
		} else {
			err = checkWritable(ctx, db)
		}
		if err != nil {
			return err
		}
		return retryBusy(ctx, db, func() error {
			p, err := newProvider(db)
			if err != nil {
				return err
			}
			_, err = p.UpTo(ctx, st.backfillVersion()-1)
			return wrapGoose(err)
		})
	})
}

// finish applies the migrations that are still pending once the backfill is done: the backfill's
// own (which then finds nothing left to journal) and any after it.
func finish(ctx context.Context, db *sql.DB) error {
	st, err := readState(ctx, db)
	if err != nil || st.current() {
		return err
	}
	return withInstallLock(ctx, db, func() error {
		st, err := readState(ctx, db)
		if err != nil || st.current() {
			return err
		}
		if err := checkWritable(ctx, db); err != nil {
			return err
		}
		return retryBusy(ctx, db, func() error {
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
	if err != nil || !st.anyApplied() {
		return err
	}
	return withInstallLock(ctx, db, func() error {
		return retryBusy(ctx, db, func() error {
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
			Source: &goose.Source{Type: goose.TypeSQL, Path: m.Name, Version: m.Version},
			State:  goose.StatePending,
		}
		if at, ok := st.applied[m.Version]; ok {
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

// minBusyBudget is how long Up and Down keep retrying a busy migration at least, even on a
// connection whose busy_timeout is shorter (or unset).
const minBusyBudget = time.Second

// retryBusy runs fn again when SQLite answered busy, for as long as the connection's busy_timeout
// (a single write of the host waits that long) and at least minBusyBudget. A migration that reads
// before it writes (the baseline opens with its precheck) cannot wait for the write lock: when
// engram's other processes hold it, or committed since the read, SQLite refuses the transaction
// at once (SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT) and busy_timeout does not apply. A refused attempt
// rolled back whole and cost next to nothing, so try again soon, with jitter so that processes do
// not retry in step. An attempt that waited out the busy timeout has used the budget up, so a
// transaction that holds the lock that long costs Up one busy timeout, not several.
func retryBusy(ctx context.Context, db *sql.DB, fn func() error) error {
	budget := max(busyTimeout(ctx, db), minBusyBudget)
	deadline := time.Now().Add(budget)
	for {
		err := fn()
		if err == nil || !sqlitecode.IsBusy(err) || !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(5*time.Millisecond + rand.N(45*time.Millisecond)):
		}
	}
}

// busyTimeout is the busy_timeout of db's connections, 0 when it cannot be read.
func busyTimeout(ctx context.Context, db *sql.DB) time.Duration {
	var ms int64
	if err := db.QueryRowContext(ctx, `PRAGMA busy_timeout`).Scan(&ms); err != nil {
		return 0
	}
	return time.Duration(ms) * time.Millisecond
}
