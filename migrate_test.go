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
	w.Session("s1", "alpha")
	a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
	w.Enroll("alpha")
	w.Up()
	rel := w.Semantic(a, b, testworld.Verdict())
	w.ExpectRows(rel, 1)
}

// mixedWorld is a database with relations in every state, written before relsync was installed,
// as engram v1.16.3 leaves it: the backfill must journal exactly the eligible ones that lack a row.
type mixed struct {
	w                *testworld.World
	missing, present []string // eligible relations without and with a local row before install
	never            []string // relations that must never get a row
}

func buildMixed(t *testing.T) *mixed {
	w := testworld.New(t, engram.V1163)
	m := &mixed{w: w}
	w.Session("s1", "alpha")
	w.Session("s2", "beta")
	w.Session("s3", "gamma")
	a1, a2 := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
	a3, a4 := w.Obs("s1", nil), w.Obs("s1", nil)
	b1, b2 := w.Obs("s2", testworld.Ptr("beta")), w.Obs("s2", testworld.Ptr("beta"))
	g1, g2 := w.Obs("s3", testworld.Ptr("gamma")), w.Obs("s3", testworld.Ptr("gamma"))
	w.Enroll("alpha")
	w.Enroll("beta")

	// Path A: never journaled by v1.16.3.
	m.missing = append(m.missing, w.Semantic(a1, a2, testworld.SemVerdict("related")))
	// Path B: judged while beta was not enrolled... (beta is enrolled above, so judge gamma, then enroll it).
	pb := w.Pending(g1, g2)
	w.Judge(pb, testworld.Verdict())
	w.Enroll("gamma") // v1.16.3's enrollment does not catch up relations
	m.missing = append(m.missing, pb)
	// Observations without a project of their own, in an enrolled session: v1.16.3's gate never
	// journals them.
	sf := w.Pending(a3, a4)
	w.Judge(sf, testworld.Verdict())
	m.missing = append(m.missing, sf)
	// Healthy: JudgeRelation on an enrolled project wrote its own row.
	ok := w.Pending(b1, b2)
	w.Judge(ok, testworld.Verdict())
	m.present = append(m.present, ok)

	m.never = append(m.never, w.Pending(a1, b1)) // pending
	o1, o2 := w.Obs("s2", testworld.Ptr("beta")), w.Obs("s2", testworld.Ptr("beta"))
	orphan := w.Pending(o1, o2)
	w.Judge(orphan, testworld.Verdict()) // Go journals it while judged...
	m.present = append(m.present, orphan)
	w.Must(w.S.HardDeleteObservation(w.Ctx, o2)) // ...then it is orphaned, and stays at one row
	m.never = append(m.never, w.Pending(a2, b2)) // a second pending one
	w.Session("s4", "delta")
	d1, d2, d3 := w.Obs("s4", testworld.Ptr("delta")), w.Obs("s4", testworld.Ptr("delta")), w.Obs("s4", testworld.Ptr("delta"))
	m.never = append(m.never, w.Semantic(d1, d2, testworld.SemVerdict("related"))) // unenrolled project
	soft := w.Semantic(a1, w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("compatible"))
	_, err := w.DB().ExecContext(w.Ctx, `UPDATE observations SET deleted_at = datetime('now')
		WHERE sync_id = (SELECT target_id FROM memory_relations WHERE sync_id = ?)`, soft)
	w.Must(err)
	m.never = append(m.never, soft) // observation soft-deleted
	unmarked := w.Pending(d3, d1)
	_, err = w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET judgment_status = 'judged', relation = 'related' WHERE sync_id = ?`, unmarked)
	w.Must(err)
	m.never = append(m.never, unmarked)
	return m
}

func TestBackfillOnMixedDatabase(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	before := w.RelationRows()
	rep, err := relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if missing := totalMissing(rep); missing != len(m.missing) {
		t.Fatalf("Verify before install: %d missing, want %d: %+v", missing, len(m.missing), rep.Projects)
	}
	expectSamples(t, rep, m.missing)
	w.Up()
	if got := w.RelationRows() - before; got != len(m.missing) {
		t.Fatalf("backfill wrote %d rows, want %d", got, len(m.missing))
	}
	for _, key := range m.missing {
		w.ExpectRows(key, 1)
	}
	for _, key := range m.present {
		w.ExpectCount(key, 1)
	}
	for _, key := range m.never {
		w.ExpectCount(key, 0)
	}
	rep, err = relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if !rep.OK() || totalMissing(rep) != 0 {
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

func totalMissing(r relsync.Report) int {
	n := 0
	for _, p := range r.Projects {
		n += p.Missing
	}
	return n
}

func TestUpTwiceIsANoop(t *testing.T) {
	m := buildMixed(t)
	w := m.w
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
	m := buildMixed(t)
	w := m.w
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
