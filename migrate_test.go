package relsync_test

import (
	"slices"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

func TestUpInstallsAndJudgeIsJournaled(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	a, b := testworld.EnrolledPair(w)
	rel := w.Semantic(a, b, testworld.Verdict())
	w.ExpectRows(rel, 1)
}

func TestBackfillOnMixedDatabase(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	before := w.RelationRows()
	rep, err := relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if missing := testworld.TotalMissing(rep); missing != len(m.Missing) {
		t.Fatalf("Verify before install: %d missing, want %d: %+v", missing, len(m.Missing), rep.Projects)
	}
	expectSamples(t, rep, m.Missing)
	w.Up()
	m.ExpectNewRows(before, "the backfill")
	m.ExpectBackfilled()
	for _, key := range m.Present {
		w.ExpectCount(key, 1)
	}
	rep, err = relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if !rep.OK() || testworld.TotalMissing(rep) != 0 {
		t.Fatalf("Verify after install: %+v", rep)
	}
}

// expectSamples checks that each project lists its missing sync_ids, sorted, and only those.
func expectSamples(t *testing.T, r relsync.Report, missing []string) {
	t.Helper()
	want := map[string]bool{}
	for _, key := range missing {
		want[key] = true
	}
	listed := 0
	for _, p := range r.Projects {
		if len(p.Sample) != min(p.Missing, relsync.MissingSampleSize) || !slices.IsSorted(p.Sample) {
			t.Fatalf("project %q: %d missing, sample %v", p.Project, p.Missing, p.Sample)
		}
		for _, key := range p.Sample {
			if !want[key] {
				t.Fatalf("project %q: sample lists %s, which is not missing", p.Project, key)
			}
		}
		listed += len(p.Sample)
	}
	if listed != len(missing) {
		t.Fatalf("samples list %d sync_ids, want %d: %+v", listed, len(missing), r.Projects)
	}
}

func TestUpTwiceIsANoop(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	w.Up()
	rows, schema := w.RelationRows(), w.Schema()
	w.Up()
	if w.RelationRows() != rows || w.Schema() != schema {
		t.Fatal("second Up changed the database")
	}
	cur, latest, err := relsync.Version(w.Ctx, w.DB())
	w.Must(err)
	if cur != latest || cur < 2 {
		t.Fatalf("version %d of %d", cur, latest)
	}
}

func TestDownRemovesEverythingAndKeepsRows(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	schemaBefore := w.SchemaWithoutRelsync()
	w.Up()
	rows := w.RelationRows()
	w.Must(relsync.Down(w.Ctx, w.DB()))
	if got := w.SchemaWithoutRelsync(); got != schemaBefore {
		t.Fatalf("schema after down differs:\n%s\nwant\n%s", got, schemaBefore)
	}
	if n := w.Count(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'relsync%' AND name <> ?`, relsync.VersionTable); n != 0 {
		t.Fatalf("%d relsync objects left after Down", n)
	}
	if w.RelationRows() != rows {
		t.Fatal("Down removed journal rows")
	}
	w.Up()
	if w.RelationRows() != rows {
		t.Fatal("Up after Down journaled again what was journaled")
	}
	rep, err := relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if !rep.OK() {
		t.Fatalf("after down and up: %+v", rep)
	}
}

// Up and Down, three times: Down leaves engram's schema exactly as it was before
// relsync (relsync_db_version aside, which goose keeps), no journal row is ever removed, every Up
// reinstalls the same objects, and Verify is OK after each Up, including for a relation that
// engram wrote unjournaled while relsync was down.

// journal is every sync_mutations row, every column, by seq.
func journal(w *testworld.World) map[int64]string {
	w.T.Helper()
	rs, err := w.DB().QueryContext(w.Ctx, `SELECT seq, json_array(target_key, entity, entity_key, op,
		payload, source, occurred_at, acked_at, project) FROM sync_mutations`)
	w.Must(err)
	defer rs.Close()
	out := map[int64]string{}
	for rs.Next() {
		var seq int64
		var row string
		w.Must(rs.Scan(&seq, &row))
		out[seq] = row
	}
	w.Must(rs.Err())
	return out
}

// keptRows fails if a row of before is gone or changed in after.
func keptRows(t *testing.T, step string, before, after map[int64]string) {
	t.Helper()
	for seq, row := range before {
		if after[seq] != row {
			t.Fatalf("%s: journal row %d removed or changed: %s -> %q", step, seq, row, after[seq])
		}
	}
}

func TestUpDownThreeTimes(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	engramSchema := w.SchemaWithoutRelsync()
	userVersion := w.UserVersion()
	var installed string // relsync's objects as the first Up installs them
	var forgotten string // the relation engram wrote unjournaled while relsync was down
	rows := journal(w)
	for cycle := 1; cycle <= 3; cycle++ {
		w.Up()
		after := journal(w)
		keptRows(t, "Up", rows, after)
		rows = after
		if forgotten != "" {
			w.ExpectRows(forgotten, 1)
		}
		objects := w.Schema()
		if installed == "" {
			installed = objects
		} else if objects != installed {
			t.Fatalf("cycle %d: Up installed another schema:\n%s\nwant\n%s", cycle, objects, installed)
		}
		if rep := w.Verify(); !rep.OK() {
			t.Fatalf("cycle %d: Verify after Up: %+v", cycle, rep)
		}

		w.Must(relsync.Down(w.Ctx, w.DB()))
		if got := w.SchemaWithoutRelsync(); got != engramSchema {
			t.Fatalf("cycle %d: schema after Down:\n%s\nwant\n%s", cycle, got, engramSchema)
		}
		after = journal(w)
		keptRows(t, "Down", rows, after)
		rows = after

		// While relsync is down, engram v1.16.3 forgets a relation again: the next Up backfills it.
		a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
		forgotten = w.Semantic(a, b, testworld.SemVerdict("related"))
		w.ExpectCount(forgotten, 0)
		m.Missing = append(m.Missing, forgotten)
		rows = journal(w)
	}
	if got := w.UserVersion(); got != userVersion {
		t.Errorf("user_version %d, was %d", got, userVersion)
	}
	w.Up()
	keptRows(t, "last Up", rows, journal(w))
	w.ExpectRows(forgotten, 1)
	for _, key := range m.Missing {
		w.ExpectCount(key, 1)
	}
	for _, key := range m.Never {
		w.ExpectCount(key, 0)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after the last Up: %+v", rep)
	}
	checkVerifySQL(w, true, "OK: relsync is installed")
}
