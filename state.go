package relsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/relsync/relsync/internal/migfile"
)

// state is what the database records of relsync, read without goose (goose would create its
// version table, a write, just to read it).
type state struct {
	known   []migfile.File
	applied map[int64]time.Time
	table   bool // the version table exists
}

// anyApplied says that some relsync migration is applied (at any version).
func (s state) anyApplied() bool { return len(s.applied) > 0 }

func (s state) latest() int64 { return s.known[len(s.known)-1].Version }

func (s state) version() int64 {
	var v int64
	for ver := range s.applied {
		v = max(v, ver)
	}
	return v
}

// backfillVersion is the migration that finishes the backfill (the one holding the backfill
// section): Install applies the migrations before it, Backfill walks the backfill in short
// transactions and then applies it.
func (s state) backfillVersion() int64 {
	for _, m := range s.known {
		if strings.Contains(m.Body, "\n"+migfile.Mark+"backfill\n") {
			return m.Version
		}
	}
	return s.latest() + 1
}

// pendingBefore says that a migration older than version is not applied.
func (s state) pendingBefore(version int64) bool {
	for _, m := range s.known {
		if _, ok := s.applied[m.Version]; !ok && m.Version < version {
			return true
		}
	}
	return false
}

// current says that every migration of this build is applied.
func (s state) current() bool {
	for _, m := range s.known {
		if _, ok := s.applied[m.Version]; !ok {
			return false
		}
	}
	return true
}

func readState(ctx context.Context, db *sql.DB) (state, error) {
	known, err := embeddedMigrations()
	if err != nil {
		return state{}, err
	}
	st := state{known: known, applied: map[int64]time.Time{}}
	var tables int
	err = db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, VersionTable).Scan(&tables)
	if err != nil {
		return st, classifyOpenError(err)
	}
	if tables == 0 {
		return st, nil
	}
	st.table = true
	// goose appends a row per apply and per rollback; a version's last row says where it stands.
	// TestVersionLastRowDecides (tests/tools) keeps scripts/verify.sql's relsync_verify_version in step.
	rows, err := db.QueryContext(ctx, `SELECT version_id, is_applied, tstamp FROM `+VersionTable+
		` WHERE version_id > 0 ORDER BY id`)
	if err != nil {
		return st, fmt.Errorf("relsync: reading %s: %w", VersionTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		var applied bool
		var stamp any
		if err := rows.Scan(&v, &applied, &stamp); err != nil {
			return st, fmt.Errorf("relsync: reading %s: %w", VersionTable, err)
		}
		if applied {
			st.applied[v] = parseStamp(stamp)
		} else {
			delete(st.applied, v)
		}
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	if v := st.version(); v > st.latest() {
		return st, fmt.Errorf("%w (database at version %d, this build knows up to %d)", ErrNewerDatabase, v, st.latest())
	}
	return st, nil
}

// parseStamp reads goose's tstamp, which the driver hands over as a time or as SQLite's text.
func parseStamp(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case string:
		at, _ := time.Parse(time.DateTime, t)
		return at
	}
	return time.Time{}
}
