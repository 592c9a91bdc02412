package relsync_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testworld"
)

// Install makes the triggers live and leaves the backfill to Backfill, which journals the rest in
// steps and reports its progress.
func TestInstallThenBackfillInSteps(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	before := w.RelationRows()
	w.Must(relsync.Install(w.Ctx, w.DB()))
	if got := w.RelationRows(); got != before {
		t.Fatalf("Install journaled %d rows: the backfill is Backfill's", got-before)
	}
	if p, err := relsync.BackfillPending(w.Ctx, w.DB()); err != nil || !p {
		t.Fatalf("BackfillPending after Install: %v %v", p, err)
	}
	in, err := relsync.Inspect(w.Ctx, w.DB())
	w.Must(err)
	relations := int64(w.Count(`SELECT count(*) FROM memory_relations`))
	if in.BackfillLeft != relations || in.UpToDate() || in.Version != in.BackfillVersion-1 {
		t.Fatalf("Inspect after Install: %+v, want %d relations left", in, relations)
	}
	// The triggers are live before the backfill: a judgment now gets its row at once.
	rel := m.JudgeNew()
	w.ExpectRows(rel, 1)
	relations++

	var seen []relsync.Progress
	w.Must(relsync.Backfill(w.Ctx, w.DB(), relsync.WithStepSize(2), relsync.WithProgress(func(p relsync.Progress) { seen = append(seen, p) })))
	if len(seen) < 3 || !seen[len(seen)-1].Final {
		t.Fatalf("progress: %+v", seen)
	}
	for i, p := range seen {
		if p.Total != relations || p.Done > p.Total || (i > 0 && p.Done < seen[i-1].Done) {
			t.Fatalf("progress %d: %+v (total %d)", i, p, relations)
		}
	}
	if last := seen[len(seen)-1]; last.Done != relations || last.Steps != len(seen) {
		t.Fatalf("last progress %+v", last)
	}
	m.ExpectBackfilled()
	w.ExpectRows(rel, 1)
	if p, err := relsync.BackfillPending(w.Ctx, w.DB()); err != nil || p {
		t.Fatalf("BackfillPending after Backfill: %v %v", p, err)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after Backfill: %+v", rep)
	}
	if in, err := relsync.Inspect(w.Ctx, w.DB()); err != nil || !in.UpToDate() {
		t.Fatalf("Inspect after Backfill: %+v %v", in, err)
	}
	// Nothing pending: Backfill and Up return at once and write nothing.
	schema, rows := w.Schema(), w.RelationRows()
	w.Must(relsync.Backfill(w.Ctx, w.DB()))
	w.Up()
	if w.Schema() != schema || w.RelationRows() != rows {
		t.Fatal("Backfill with nothing pending changed the database")
	}
}

// A backfill stopped between steps (a cancelled context here; a killed process in
// TestCrashDuringUp) resumes where it stopped, and no relation gets a second row.
func TestBackfillResumesWithoutDoubles(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	w.Must(relsync.Install(w.Ctx, w.DB()))
	ctx, cancel := context.WithCancel(w.Ctx)
	steps := 0
	err := relsync.Backfill(ctx, w.DB(), relsync.WithStepSize(1), relsync.WithProgress(func(p relsync.Progress) {
		if steps++; steps == 3 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backfill with a cancelled context: %v", err)
	}
	if p, err := relsync.BackfillPending(w.Ctx, w.DB()); err != nil || !p {
		t.Fatalf("BackfillPending after a stop: %v %v", p, err)
	}
	// Written meanwhile, below and above the cursor: the triggers journal it, the backfill skips it.
	w.Judge(m.Never[0], testworld.Verdict())
	w.Must(relsync.Backfill(w.Ctx, w.DB(), relsync.WithStepSize(3)))
	for _, key := range append(append([]string{}, m.Missing...), m.Never[0]) {
		w.ExpectRows(key, 1)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after the resumed Backfill: %+v", rep)
	}
}

// Repair journals a relation whose row went, with no relsync object changed: what Up at open does
// not look for.
func TestRepairJournalsALostRow(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	w.Up()
	gone := m.Missing[1]
	w.DeleteRows(gone)
	w.Exec(`DROP TRIGGER relsync_relation_au`)
	rows := w.RelationRows()
	w.Must(relsync.Repair(w.Ctx, w.DB(), relsync.WithStepSize(2)))
	w.ExpectRows(gone, 1)
	if got := w.RelationRows(); got != rows+1 {
		t.Fatalf("Repair wrote %d rows, want 1", got-rows)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after Repair: %+v", rep)
	}
}

// Before an install, Backfill and Repair refuse and write nothing.
func TestBackfillAndRepairRefuseBeforeInstall(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	schema, rows := w.Schema(), w.RelationRows()
	if err := relsync.Backfill(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNotInstalled) {
		t.Errorf("Backfill before Install: %v, want ErrNotInstalled", err)
	}
	if err := relsync.Repair(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNotInstalled) {
		t.Errorf("Repair before Install: %v, want ErrNotInstalled", err)
	}
	if w.Schema() != schema || w.RelationRows() != rows {
		t.Error("a refused Backfill or Repair changed the database")
	}
}

// WithSlog logs the start, periodic progress and the end of a backfill.
func TestBackfillLogsToSlog(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	var buf bytes.Buffer
	w.Must(relsync.Install(w.Ctx, w.DB()))
	w.Must(relsync.Backfill(w.Ctx, w.DB(), relsync.WithStepSize(1), relsync.WithSlog(slog.New(slog.NewTextHandler(&buf, nil)), 1)))
	for _, want := range []string{`msg="relsync: backfill started" relations=`, `msg="relsync: backfill" done=`,
		`msg="relsync: backfill done" relations=`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}
