// Package engram replays engram's own writes to its SQLite database: the same
// statements, transaction boundaries and journal rows as three engram
// releases, v1.16.3, v1.17.0 and v3.1.0 (see docs/engram.md, §11 for v3).
// relsync's tests, benchmarks and demo use it as the engram that relsync's
// triggers must live beside. It knows nothing about relsync.
package engram

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"
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
	// V3 is engram v3.1.0 (module engram/v3, §11): a migrate() pass at every
	// open (journal dispositions, cloud:inbox, user_version 1), no start-up
	// repair (PrePushRepair instead), a central enrollment gate on every
	// journal write, a source-only JudgeRelation gate, not_conflict verdicts
	// persisted and journaled, merge and rename rewriting pending journal
	// rows and carrying enrollment, nanosecond Go timestamps.
	V3
)

func (v Version) String() string {
	switch v {
	case V1163:
		return "v1.16.3"
	case V117:
		return "v1.17.0"
	case V3:
		return "v3.1.0"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

// fixes496 reports whether v carries engram's own fix of issue #496.
func (v Version) fixes496() bool { return v >= V117 }

// v3 reports whether v is engram's v3 line.
func (v Version) v3() bool { return v >= V3 }

// Store replays engram's write paths on DB as engram Version would. The zero
// Version behaves as V1163. A v3 Store's DB must have been opened for v3
// (OpenVersion), or have had MigrateV3 run on it.
type Store struct {
	DB      *sql.DB
	Version Version

	repairMu sync.Mutex // guards repaired
	repaired bool       // PrePushRepair has succeeded once
}

// New opens path as engram's New does. For v1.16.3 and v1.17: Open, then the
// start-up repair. For v3: OpenVersion(path, V3) and no repair; the project
// backfill waits for PrePushRepair.
func New(path string, v Version) (*Store, error) {
	db, err := OpenVersion(path, v)
	if err != nil {
		return nil, err
	}
	s := &Store{DB: db, Version: v}
	if v.v3() {
		return s, nil
	}
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

// NanoStamp is engram v3's Go Now() format: UTC with nanoseconds.
const NanoStamp = "2006-01-02 15:04:05.000000000"

// now is the timestamp v3's Go code writes where it stamps from Go (sessions,
// dispositions); nil means SQL's datetime('now') is used instead (v1).
func (s *Store) now() any {
	if !s.Version.v3() {
		return nil
	}
	return time.Now().UTC().Format(NanoStamp)
}
