package relsync

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Install makes the triggers live and leaves the backfill to Backfill, which journals the rest in
// steps and reports its progress.
func TestInstallThenBackfillInSteps(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	before := w.relationRows()
	w.must(Install(w.ctx, w.db()))
	if got := w.relationRows(); got != before {
		t.Fatalf("Install journaled %d rows: the backfill is Backfill's", got-before)
	}
	if p, err := BackfillPending(w.ctx, w.db()); err != nil || !p {
		t.Fatalf("BackfillPending after Install: %v %v", p, err)
	}
	in, err := Inspect(w.ctx, w.db())
	w.must(err)
	relations := int64(w.count(`SELECT count(*) FROM memory_relations`))
	if in.BackfillLeft != relations || in.UpToDate() || in.Version != in.BackfillVersion-1 {
		t.Fatalf("Inspect after Install: %+v, want %d relations left", in, relations)
	}
	// The triggers are live before the backfill: a judgment now gets its row at once.
	w.session("s9", "alpha")
	rel := w.semantic(w.obs("s9", ptr("alpha")), w.obs("s9", ptr("alpha")), semVerdict("related"))
	w.expectRows(rel, 1)
	relations++

	var seen []Progress
	w.must(Backfill(w.ctx, w.db(), WithStepSize(2), WithProgress(func(p Progress) { seen = append(seen, p) })))
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
	for _, key := range m.missing {
		w.expectRows(key, 1)
	}
	for _, key := range m.never {
		w.expectCount(key, 0)
	}
	w.expectRows(rel, 1)
	if p, err := BackfillPending(w.ctx, w.db()); err != nil || p {
		t.Fatalf("BackfillPending after Backfill: %v %v", p, err)
	}
	if rep := w.verify(); !rep.OK() {
		t.Fatalf("Verify after Backfill: %+v", rep)
	}
	if in, err := Inspect(w.ctx, w.db()); err != nil || !in.UpToDate() {
		t.Fatalf("Inspect after Backfill: %+v %v", in, err)
	}
	// Nothing pending: Backfill and Up return at once and write nothing.
	schema, rows := w.schema(), w.relationRows()
	w.must(Backfill(w.ctx, w.db()))
	w.up()
	if w.schema() != schema || w.relationRows() != rows {
		t.Fatal("Backfill with nothing pending changed the database")
	}
}

// A backfill stopped between steps (a cancelled context here; a killed process in
// TestCrashDuringUp) resumes where it stopped, and no relation gets a second row.
func TestBackfillResumesWithoutDoubles(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	w.must(Install(w.ctx, w.db()))
	ctx, cancel := context.WithCancel(w.ctx)
	steps := 0
	err := Backfill(ctx, w.db(), WithStepSize(1), WithProgress(func(p Progress) {
		if steps++; steps == 3 {
			cancel()
		}
	}))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Backfill with a cancelled context: %v", err)
	}
	if p, err := BackfillPending(w.ctx, w.db()); err != nil || !p {
		t.Fatalf("BackfillPending after a stop: %v %v", p, err)
	}
	// Written meanwhile, below and above the cursor: the triggers journal it, the backfill skips it.
	w.judge(m.never[0], verdict())
	w.must(Backfill(w.ctx, w.db(), WithStepSize(3)))
	for _, key := range append(append([]string{}, m.missing...), m.never[0]) {
		w.expectRows(key, 1)
	}
	if rep := w.verify(); !rep.OK() {
		t.Fatalf("Verify after the resumed Backfill: %+v", rep)
	}
}

// Repair journals a relation whose row went, with no relsync object changed: what Up at open does
// not look for.
func TestRepairJournalsALostRow(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	w.up()
	gone := m.missing[1]
	w.exec(`DELETE FROM sync_mutations WHERE entity = 'relation' AND entity_key = '` + gone + `'`)
	w.exec(`DROP TRIGGER relsync_relation_au`)
	rows := w.relationRows()
	w.must(Repair(w.ctx, w.db(), WithStepSize(2)))
	w.expectRows(gone, 1)
	if got := w.relationRows(); got != rows+1 {
		t.Fatalf("Repair wrote %d rows, want 1", got-rows)
	}
	if rep := w.verify(); !rep.OK() {
		t.Fatalf("Verify after Repair: %+v", rep)
	}
}

// Before an install, Backfill and Repair refuse and write nothing.
func TestBackfillAndRepairRefuseBeforeInstall(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	schema, rows := w.schema(), w.relationRows()
	if err := Backfill(w.ctx, w.db()); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Backfill before Install: %v, want ErrNotInstalled", err)
	}
	if err := Repair(w.ctx, w.db()); !errors.Is(err, ErrNotInstalled) {
		t.Errorf("Repair before Install: %v, want ErrNotInstalled", err)
	}
	if w.schema() != schema || w.relationRows() != rows {
		t.Error("a refused Backfill or Repair changed the database")
	}
}

// WithSlog logs the start, periodic progress and the end of a backfill.
func TestBackfillLogsToSlog(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	var buf bytes.Buffer
	w.must(Install(w.ctx, w.db()))
	w.must(Backfill(w.ctx, w.db(), WithStepSize(1), WithSlog(slog.New(slog.NewTextHandler(&buf, nil)), 1)))
	for _, want := range []string{`msg="relsync: backfill started" relations=`, `msg="relsync: backfill" done=`,
		`msg="relsync: backfill done" relations=`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, buf.String())
		}
	}
}

// The README's raw goose command, without goose.sh or relsync's Go: migration 6 journals what the
// install left, in one statement.
func TestRawGooseCLIJournalsEverything(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	dir, err := filepath.Abs("migrations")
	w.must(err)
	out, err := exec.Command(gooseCLI(t), "-env=none", "-dir", dir, "-table", VersionTable, "sqlite3",
		"file:"+w.path+"?mode=rw&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate", "up").CombinedOutput()
	if err != nil {
		t.Fatalf("goose up: %v\n%s", err, out)
	}
	for _, key := range m.missing {
		w.expectRows(key, 1)
	}
	if rep := w.verify(); !rep.OK() {
		t.Fatalf("Verify after the raw goose CLI: %+v\n%s", rep, out)
	}
}
