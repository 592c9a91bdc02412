// Package engram replays engram's own writes to its SQLite database: the same
// statements, transaction boundaries and journal rows as engram v1.16.3 and
// v1.17.0 (see shared/ENGRAM.md). relsync's tests, benchmarks and demo use it
// as the engram that relsync's triggers must live beside. It knows nothing
// about relsync.
package engram

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
)

// Version selects which engram release a Store replays.
type Version int

const (
	// V1163 is engram v1.16.3: JudgeBySemantic never journals, JudgeRelation
	// gates on raw observation projects, no relation backfill.
	V1163 Version = iota + 1
	// V117 is engram v1.17.0 (PR #497): session fallback for projects,
	// JudgeBySemantic journals when enrolled, relation backfills.
	V117
)

func (v Version) String() string {
	switch v {
	case V1163:
		return "v1.16.3"
	case V117:
		return "v1.17.0"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// fixes496 reports whether v carries engram's own fix of issue #496.
func (v Version) fixes496() bool { return v >= V117 }

// Store replays engram's write paths on DB as engram Version would.
type Store struct {
	DB      *sql.DB
	Version Version
}

// New opens path as engram's New does: Open, then the start-up repair.
func New(path string, v Version) (*Store, error) {
	db, err := Open(path)
	if err != nil {
		return nil, err
	}
	s := &Store{DB: db, Version: v}
	if err := s.StartupRepair(context.Background()); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.DB.Close() }

// ErrInvalid reports arguments engram's validation refuses.
var ErrInvalid = errors.New("engram: invalid argument")

// inTx runs fn in one transaction, committed only if fn succeeds.
func (s *Store) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// newSyncID is prefix plus 16 random hex digits, like engram's ids.
func newSyncID(prefix string) string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return prefix + hex.EncodeToString(b[:])
}
