package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/relsync/relsync"
)

// plainEvery is how often up and repair print a progress line when stderr is not a terminal.
const plainEvery = 5 * time.Second

// up installs or upgrades relsync and runs the backfill, after a backup when there is something to
// do. Engram may keep the file open meanwhile: every relsync transaction is short.
func up(ctx context.Context, path string, out io.Writer, f flags) error {
	return change(ctx, path, out, f, "up", func(ctx context.Context, db dbHandle, opts ...relsync.Option) error {
		return relsync.Up(ctx, db, opts...)
	})
}

// repairCmd recreates drifted objects and journals every relation that lacks its row.
func repairCmd(ctx context.Context, path string, out io.Writer, f flags) error {
	return change(ctx, path, out, f, "repair", func(ctx context.Context, db dbHandle, opts ...relsync.Option) error {
		return relsync.Repair(ctx, db, opts...)
	})
}

func change(ctx context.Context, path string, out io.Writer, f flags, what string,
	fn func(context.Context, dbHandle, ...relsync.Option) error) error {
	db, in, err := inspected(ctx, path, func(path string) (*sql.DB, error) { return openExisting(path, false) })
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case what == "repair" && in.Version == 0:
		return fmt.Errorf("%s: relsync is not installed (relsync up installs it)", path)
	case what == "up" && in.UpToDate():
		fmt.Fprintf(out, "%s: relsync is up to date (version %d, objects as installed, no backfill pending); nothing to do, no backup written\n", path, in.Version)
		fmt.Fprintln(out, "(a journal row deleted since the install is not seen here: scripts/verify.sql or relsync verify counts them, relsync repair journals them)")
		return nil
	}
	if in.Version == 0 {
		if err := relsync.CheckEngram(ctx, db); err != nil {
			return explain(path, err)
		}
	}
	if !f.noBackup {
		dest, err := writeBackup(ctx, db, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "Backup of %s written to %s\n", path, dest)
	}
	switch {
	case in.Version == 0:
		fmt.Fprintf(out, "Installing relsync (version %d) in %s\n", in.Latest, path)
	case in.Version < in.BackfillVersion-1:
		fmt.Fprintf(out, "Upgrading relsync from version %d to %d in %s\n", in.Version, in.Latest, path)
	case in.Drifted > 0:
		fmt.Fprintf(out, "Recreating %d relsync object(s) that went missing or changed in %s\n", in.Drifted, path)
	}
	start := time.Now()
	p := newReporter(f.stderr)
	err = fn(ctx, db, relsync.WithProgress(p.update))
	p.finish()
	if err != nil {
		return explain(path, err)
	}
	fmt.Fprintf(out, "Done in %v: relsync is at version %d and every relation that belongs in the journal has its row (longest transaction %v).\n",
		time.Since(start).Round(time.Millisecond), in.Latest, p.longest.Round(time.Millisecond))
	return nil
}

// reporter shows a backfill's progress: a bar on a terminal, a plain line every plainEvery
// otherwise.
type reporter struct {
	w       io.Writer
	bar     *progressbar.ProgressBar
	last    time.Time
	started bool
	longest time.Duration
}

func newReporter(w io.Writer) *reporter {
	r := &reporter{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		r.bar = progressbar.NewOptions64(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("relsync backfill"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("relations"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return r
}

func (r *reporter) update(p relsync.Progress) {
	r.longest = p.Longest
	if r.bar != nil {
		if !r.started {
			r.bar.ChangeMax64(max(p.Total, 1))
			r.started = true
		}
		r.bar.Set64(p.Done)
		return
	}
	if !r.started {
		r.started = true
		r.last = time.Now()
		fmt.Fprintf(r.w, "relsync backfill: %d relations to pass\n", p.Total)
	}
	if p.Final || time.Since(r.last) >= plainEvery {
		r.last = time.Now()
		fmt.Fprintf(r.w, "relsync backfill: %d of %d relations (%.0f%%), %.0f relations/s, %v left\n",
			p.Done, p.Total, 100*float64(p.Done)/float64(max(p.Total, 1)), p.Rate(), p.Left().Round(time.Second))
	}
}

func (r *reporter) finish() {
	if r.bar != nil && r.started {
		r.bar.Finish()
	}
}

// status prints where relsync stands, reading only (openForReading).
func status(ctx context.Context, path string, out io.Writer, _ flags) error {
	db, in, err := inspected(ctx, path, openForReading)
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case in.Version == 0:
		if err := relsync.CheckEngram(ctx, db); err != nil {
			return explain(path, err)
		}
		fmt.Fprintf(out, "%s: relsync is not installed (this build installs version %d); relsync up installs it\n", path, in.Latest)
		return nil
	case in.Version < in.BackfillVersion-1:
		fmt.Fprintf(out, "%s: relsync at version %d, this build has %d: relsync up upgrades it\n", path, in.Version, in.Latest)
	default:
		fmt.Fprintf(out, "%s: relsync at version %d of %d\n", path, in.Version, in.Latest)
	}
	if in.Drifted > 0 {
		fmt.Fprintf(out, "objects: %d missing or changed: relsync up (or repair) recreates them\n", in.Drifted)
	} else {
		fmt.Fprintln(out, "objects: as relsync installed them")
	}
	if in.BackfillLeft >= 0 {
		fmt.Fprintf(out, "backfill: pending, %d relations left to pass: relsync up finishes it\n", in.BackfillLeft)
	} else {
		fmt.Fprintln(out, "backfill: done")
	}
	return nil
}

// pending tells scripts/goose.sh where relsync stands: "<version> <latest> <backfill version>
// <version table exists: 1 or 0>",
// and whether up would change anything (errNothing: exit 3 when not).
func pending(ctx context.Context, path string, out io.Writer, _ flags) error {
	db, in, err := inspected(ctx, path, openForReading)
	if err != nil {
		return err
	}
	defer db.Close()
	table := 0
	if in.VersionTable {
		table = 1
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	// The file's URI is the last field: goose.sh hands it to goose, so the encoding has one home.
	fmt.Fprintf(out, "%d %d %d %d file:%s\n", in.Version, in.Latest, in.BackfillVersion, table, uriPath(abs))
	if in.UpToDate() {
		return errNothing
	}
	return nil
}

// inspected opens path with open and reads where relsync stands in it; the caller closes db.
func inspected(ctx context.Context, path string, open func(string) (*sql.DB, error)) (*sql.DB, relsync.Inspection, error) {
	db, err := open(path)
	if err != nil {
		return nil, relsync.Inspection{}, err
	}
	in, err := relsync.Inspect(ctx, db)
	if err != nil {
		db.Close()
		return nil, relsync.Inspection{}, explain(path, err)
	}
	return db, in, nil
}
