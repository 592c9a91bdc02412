package relsync

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Progress is where a backfill stands, handed to the callback of WithProgress after each step.
type Progress struct {
	Done    int64         // relations passed (journaled when they belong in the journal, skipped otherwise)
	Total   int64         // relations the backfill had to pass when it started
	Steps   int           // transactions so far
	Elapsed time.Duration // since Backfill started
	Longest time.Duration // the longest step, from taking the write lock to committing
	Final   bool          // the backfill is complete
}

// Rate is relations per second so far.
func (p Progress) Rate() float64 {
	if p.Elapsed <= 0 {
		return 0
	}
	return float64(p.Done) / p.Elapsed.Seconds()
}

// Left estimates the time to the end at the rate so far; 0 when unknown.
func (p Progress) Left() time.Duration {
	r := p.Rate()
	if r <= 0 || p.Done >= p.Total {
		return 0
	}
	return time.Duration(float64(p.Total-p.Done) / r * float64(time.Second))
}

// Option tunes Backfill (and Up, Repair, which run it).
type Option func(*options)

type options struct {
	progress  func(Progress)
	logger    *slog.Logger
	logEvery  time.Duration
	stepTime  time.Duration
	fixedSize int64
}

// WithProgress calls fn after every step of the backfill, from Backfill's goroutine, and once more
// with Final set when it is complete. fn must return quickly: the next step waits for it.
func WithProgress(fn func(Progress)) Option { return func(o *options) { o.progress = fn } }

// WithSlog logs the backfill on l: its start, a line every interval (10 s when interval is 0), and
// its end, at level Info.
func WithSlog(l *slog.Logger, interval time.Duration) Option {
	return func(o *options) {
		o.logger = l
		if interval > 0 {
			o.logEvery = interval
		}
	}
}

// WithStepTime sets how long one backfill transaction aims to hold SQLite's write lock (default
// 50 ms, at most MaxStepTime): the number of relations per step follows it. After each step the
// backfill leaves the lock free for half as long as the step held it (at least 5 ms), so that
// engram's writers, which wait for it in short sleeps, get in.
func WithStepTime(d time.Duration) Option {
	return func(o *options) { o.stepTime = min(max(d, time.Millisecond), MaxStepTime) }
}

// WithStepSize makes every step take exactly n relation ids (tests, benchmarks); the step time then
// follows from the data.
func WithStepSize(n int) Option { return func(o *options) { o.fixedSize = int64(max(n, 1)) } }

// MaxStepTime caps WithStepTime: no backfill transaction of relsync aims to hold the write lock
// longer, whatever the database's size.
const MaxStepTime = 250 * time.Millisecond

const (
	defaultStepTime = 50 * time.Millisecond
	firstStepSize   = 64
	maxStepSize     = 1 << 16
)

// BackfillPending says whether a backfill is pending: after Install on a new database, after a
// repair, or after a Backfill that an error or a crash interrupted.
func BackfillPending(ctx context.Context, db *sql.DB) (bool, error) {
	st, err := readState(ctx, db)
	if err != nil {
		return false, err
	}
	if !st.anyApplied() {
		return false, nil
	}
	next, err := backfillCursor(ctx, db)
	if err != nil {
		return false, err
	}
	return next.Valid || !st.current(), nil
}

// Backfill journals every relation that belongs in the journal and lacks its row (engram v1.17's
// rule; relations relsync saw arrive from the cloud excepted), in relation order, then applies
// the migrations left (the backfill's own, which finds nothing left). Each step is one short
// transaction over a range of relation ids, sized so that it holds SQLite's write lock about 50 ms
// (WithStepTime), followed by a pause half as long: engram's writers, with their 5 s busy timeout, get
// the lock between steps. The steps run on db's pool one at a time, so a host with
// SetMaxOpenConns(1) keeps using its connection between them.
//
// Backfill may run in the background right after Install, while the host reads and writes: the
// triggers journal every write from the install on, and a step never journals a relation that has
// its row. It resumes where a crash or an error left it (each step moves the database's cursor in
// the same transaction), and several processes may run it at once (each step takes the next
// range). It returns nil at once when nothing is pending, ErrNotInstalled before Install, and
// ctx's error when ctx ends (the next call resumes).
func Backfill(ctx context.Context, db *sql.DB, opts ...Option) error {
	o := options{logEvery: 10 * time.Second, stepTime: defaultStepTime}
	for _, opt := range opts {
		opt(&o)
	}
	st, err := readState(ctx, db)
	if err != nil {
		return err
	}
	if !st.anyApplied() {
		return ErrNotInstalled
	}
	if st.pendingBefore(st.backfillVersion()) {
		return fmt.Errorf("relsync: migrations before the backfill are pending (run Install first)")
	}
	next, err := backfillCursor(ctx, db)
	if err != nil {
		return err
	}
	if !next.Valid && st.current() {
		return nil // nothing pending: Up's path at every open of a current database
	}
	start := time.Now()
	p := Progress{}
	if next.Valid {
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM memory_relations WHERE id >= ?`, next.Int64).Scan(&p.Total); err != nil {
			return fmt.Errorf("relsync: backfill: %w", err)
		}
		if o.logger != nil {
			o.logger.InfoContext(ctx, "relsync: backfill started", "relations", p.Total)
		}
	}
	size := int64(firstStepSize)
	if o.fixedSize > 0 {
		size = o.fixedSize
	}
	lastLog := start
	for next.Valid {
		var took time.Duration
		if err := retryBusy(ctx, db, func() (err error) {
			took, err = backfillStep(ctx, db, size)
			return err
		}); err != nil {
			return fmt.Errorf("relsync: backfill step at relation %d: %w", next.Int64, err)
		}
		prev := next
		if next, err = backfillCursor(ctx, db); err != nil {
			return err
		}
		var passed int64
		if next.Valid && next.Int64 > prev.Int64 {
			err = db.QueryRowContext(ctx, `SELECT count(*) FROM memory_relations WHERE id >= ? AND id < ?`,
				prev.Int64, next.Int64).Scan(&passed)
		} else if !next.Valid {
			passed = p.Total - p.Done
		}
		if err != nil {
			return fmt.Errorf("relsync: backfill: %w", err)
		}
		p.Done = min(p.Done+passed, p.Total)
		p.Steps++
		p.Longest = max(p.Longest, took)
		p.Elapsed = time.Since(start)
		if next.Valid && o.progress != nil {
			o.progress(p)
		}
		if o.logger != nil && next.Valid && time.Since(lastLog) >= o.logEvery {
			lastLog = time.Now()
			o.logger.InfoContext(ctx, "relsync: backfill", "done", p.Done, "total", p.Total,
				"rate", int64(p.Rate()), "left", p.Left().Round(time.Second))
		}
		if o.fixedSize == 0 {
			size = nextStepSize(size, took, o.stepTime)
		}
		if next.Valid {
			// Leave the lock free half as long as the step held it: engram's writers poll for it.
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(max(took/2, 5*time.Millisecond)):
			}
		}
	}
	if err := finish(ctx, db); err != nil {
		return err
	}
	p.Elapsed, p.Final, p.Done = time.Since(start), true, p.Total
	if o.progress != nil {
		o.progress(p)
	}
	if o.logger != nil && p.Steps > 0 {
		o.logger.InfoContext(ctx, "relsync: backfill done", "relations", p.Total, "steps", p.Steps,
			"took", p.Elapsed.Round(time.Millisecond), "longest_step", p.Longest.Round(time.Millisecond))
	}
	return nil
}

// backfillStep runs one step in its own transaction on one connection of db's pool (given back
// before the pause) and returns how long it held the write lock: from BEGIN IMMEDIATE, which
// waits for the lock, to COMMIT. Sizing the steps and the pauses on that time, not on the wait,
// keeps a busy moment of engram's from shrinking the steps.
func backfillStep(ctx context.Context, db *sql.DB, size int64) (time.Duration, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	// SQLite checkpoints the WAL inside COMMIT once it has grown past wal_autocheckpoint pages:
	// after the write lock is free, but before COMMIT returns, so the time measured here would
	// count it. The step commits without it and checkpoints passively afterwards (a passive
	// checkpoint takes no write lock), and the connection gets its setting back.
	var pages int64
	if err := conn.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		return 0, err
	}
	if pages > 0 {
		if _, err := conn.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
			return 0, err
		}
		defer func() {
			bg := context.WithoutCancel(ctx)
			conn.ExecContext(bg, fmt.Sprintf(`PRAGMA wal_autocheckpoint = %d`, pages))
			conn.ExecContext(bg, `PRAGMA wal_checkpoint(PASSIVE)`)
		}()
	}
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := conn.ExecContext(ctx, `INSERT INTO relsync_backfill_range (size) VALUES (?)`, size); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return 0, err
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		return 0, err
	}
	return time.Since(start), nil
}

// nextStepSize scales the step so that it takes about target: at most double, at least a quarter
// of the last one.
func nextStepSize(size int64, took, target time.Duration) int64 {
	if took <= 0 {
		return min(size*2, maxStepSize)
	}
	want := int64(float64(size) * float64(target) / float64(took))
	return min(max(want, size/4, 1), size*2, maxStepSize)
}

// backfillCursor reads the backfill's next relation id; NULL when none is pending.
func backfillCursor(ctx context.Context, db *sql.DB) (sql.NullInt64, error) {
	var next sql.NullInt64
	err := db.QueryRowContext(ctx, `SELECT next_id FROM relsync_backfill`).Scan(&next)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return next, nil
	case err != nil && strings.Contains(err.Error(), "no such table: relsync_backfill"):
		return next, ErrNotInstalled
	case err != nil:
		return next, fmt.Errorf("relsync: reading the backfill's cursor: %w", err)
	}
	return next, nil
}

// Repair recreates any relsync object that went missing or changed (as Install does at every
// open) and journals every relation that belongs in the journal and lacks its row, whether it was
// written while a trigger was gone or its row was deleted since: it restarts the backfill from the
// first relation and runs it (Backfill's bounded steps; opts reach it).
func Repair(ctx context.Context, db *sql.DB, opts ...Option) error {
	st, err := readState(ctx, db)
	if err != nil {
		return err
	}
	if !st.anyApplied() {
		return ErrNotInstalled
	}
	if err := Install(ctx, db); err != nil { // upgrades first: repair with this build's SQL
		return err
	}
	if err := withInstallLock(ctx, db, func() error {
		return retryBusy(ctx, db, func() error { return repair(ctx, db, true) })
	}); err != nil {
		return err
	}
	return Backfill(ctx, db, opts...)
}

// Inspection is what Inspect found: enough to say whether Up or Repair would change anything.
type Inspection struct {
	Version, Latest int64 // relsync version of the database (0: not installed) and of this build
	BackfillVersion int64 // the migration that finishes the backfill
	Drifted         int   // relsync objects missing or changed (Install recreates them)
	BackfillLeft    int64 // relations the pending backfill has yet to pass; -1 when none is pending
	VersionTable    bool  // relsync's goose version table exists (it stays after Down)
}

// UpToDate says that Up would change nothing: relsync is at this build's version, its objects are
// as it installed them, and no backfill is pending. A journal row deleted since is not seen here
// (Verify counts those; Repair journals them again).
func (i Inspection) UpToDate() bool {
	return i.Version == i.Latest && i.Drifted == 0 && i.BackfillLeft < 0
}

// Inspect reads where relsync stands in db, without writing anything and without counting every
// relation as Verify does.
func Inspect(ctx context.Context, db *sql.DB) (Inspection, error) {
	st, err := readState(ctx, db)
	if err != nil {
		return Inspection{}, err
	}
	in := Inspection{Version: st.version(), Latest: st.latest(), BackfillVersion: st.backfillVersion(),
		BackfillLeft: -1, VersionTable: st.table}
	if !st.anyApplied() {
		return in, nil
	}
	if in.Drifted, err = countDrifted(ctx, db); err != nil {
		return in, err
	}
	next, err := backfillCursor(ctx, db)
	if errors.Is(err, ErrNotInstalled) { // a pre-release version: the upgrade installs the cursor
		return in, nil
	} else if err != nil {
		return in, err
	}
	if next.Valid {
		err = db.QueryRowContext(ctx, `SELECT count(*) FROM memory_relations WHERE id >= ?`, next.Int64).Scan(&in.BackfillLeft)
	} else if st.version() >= in.BackfillVersion-1 && !st.current() {
		in.BackfillLeft = 0 // stepped through, the backfill's migration still to apply
	}
	return in, err
}
