package relsync

import (
	"slices"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

func TestUpInstallsAndJudgeIsJournaled(t *testing.T) {
	w := newWorld(t, engram.V1163)
	w.session("s1", "alpha")
	a, b := w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
	w.enroll("alpha")
	w.up()
	rel := w.semantic(a, b, verdict())
	w.expectRows(rel, 1)
}

// mixedWorld is a database with relations in every state, written before relsync was installed,
// as engram v1.16.3 leaves it: the backfill must journal exactly the eligible ones that lack a row.
type mixed struct {
	w                *world
	missing, present []string // eligible relations without and with a local row before install
	never            []string // relations that must never get a row
}

func buildMixed(t *testing.T) *mixed {
	w := newWorld(t, engram.V1163)
	m := &mixed{w: w}
	w.session("s1", "alpha")
	w.session("s2", "beta")
	w.session("s3", "gamma")
	a1, a2 := w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
	a3, a4 := w.obs("s1", nil), w.obs("s1", nil)
	b1, b2 := w.obs("s2", ptr("beta")), w.obs("s2", ptr("beta"))
	g1, g2 := w.obs("s3", ptr("gamma")), w.obs("s3", ptr("gamma"))
	w.enroll("alpha")
	w.enroll("beta")

	// Path A: never journaled by v1.16.3.
	m.missing = append(m.missing, w.semantic(a1, a2, semVerdict("related")))
	// Path B: judged while beta was not enrolled... (beta is enrolled above, so judge gamma, then enroll it).
	pb := w.pending(g1, g2)
	w.judge(pb, verdict())
	w.enroll("gamma") // v1.16.3's enrollment does not catch up relations
	m.missing = append(m.missing, pb)
	// Observations without a project of their own, in an enrolled session: v1.16.3's gate never
	// journals them.
	sf := w.pending(a3, a4)
	w.judge(sf, verdict())
	m.missing = append(m.missing, sf)
	// Healthy: JudgeRelation on an enrolled project wrote its own row.
	ok := w.pending(b1, b2)
	w.judge(ok, verdict())
	m.present = append(m.present, ok)

	m.never = append(m.never, w.pending(a1, b1)) // pending
	o1, o2 := w.obs("s2", ptr("beta")), w.obs("s2", ptr("beta"))
	orphan := w.pending(o1, o2)
	w.judge(orphan, verdict()) // Go journals it while judged...
	m.present = append(m.present, orphan)
	w.must(w.s.HardDeleteObservation(w.ctx, o2)) // ...then it is orphaned, and stays at one row
	m.never = append(m.never, w.pending(a2, b2)) // a second pending one
	w.session("s4", "delta")
	d1, d2, d3 := w.obs("s4", ptr("delta")), w.obs("s4", ptr("delta")), w.obs("s4", ptr("delta"))
	m.never = append(m.never, w.semantic(d1, d2, semVerdict("related"))) // unenrolled project
	soft := w.semantic(a1, w.obs("s1", ptr("alpha")), semVerdict("compatible"))
	_, err := w.db().ExecContext(w.ctx, `UPDATE observations SET deleted_at = datetime('now')
		WHERE sync_id = (SELECT target_id FROM memory_relations WHERE sync_id = ?)`, soft)
	w.must(err)
	m.never = append(m.never, soft) // observation soft-deleted
	unmarked := w.pending(d3, d1)
	_, err = w.db().ExecContext(w.ctx, `UPDATE memory_relations SET judgment_status = 'judged', relation = 'related' WHERE sync_id = ?`, unmarked)
	w.must(err)
	m.never = append(m.never, unmarked)
	return m
}

func TestBackfillOnMixedDatabase(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	before := w.relationRows()
	rep, err := Verify(w.ctx, w.db())
	w.must(err)
	if missing := totalMissing(rep); missing != len(m.missing) {
		t.Fatalf("Verify before install: %d missing, want %d: %+v", missing, len(m.missing), rep.Projects)
	}
	expectSamples(t, rep, m.missing)
	w.up()
	if got := w.relationRows() - before; got != len(m.missing) {
		t.Fatalf("backfill wrote %d rows, want %d", got, len(m.missing))
	}
	for _, key := range m.missing {
		w.expectRows(key, 1)
	}
	for _, key := range m.present {
		w.expectCount(key, 1)
	}
	for _, key := range m.never {
		w.expectCount(key, 0)
	}
	rep, err = Verify(w.ctx, w.db())
	w.must(err)
	if !rep.OK() || totalMissing(rep) != 0 {
		t.Fatalf("Verify after install: %+v", rep)
	}
}

// expectSamples checks that each project lists its missing sync_ids, sorted, and only those.
func expectSamples(t *testing.T, r Report, missing []string) {
	t.Helper()
	want := map[string]bool{}
	for _, key := range missing {
		want[key] = true
	}
	listed := 0
	for _, p := range r.Projects {
		if len(p.Sample) != min(p.Missing, MissingSampleSize) || !slices.IsSorted(p.Sample) {
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

func totalMissing(r Report) int {
	n := 0
	for _, p := range r.Projects {
		n += p.Missing
	}
	return n
}

func TestUpTwiceIsANoop(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	w.up()
	rows, schema := w.relationRows(), w.schema()
	w.up()
	if w.relationRows() != rows || w.schema() != schema {
		t.Fatal("second Up changed the database")
	}
	cur, latest, err := Version(w.ctx, w.db())
	w.must(err)
	if cur != latest || cur < 2 {
		t.Fatalf("version %d of %d", cur, latest)
	}
}

func TestDownRemovesEverythingAndKeepsRows(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	schemaBefore := w.schemaWithoutRelsync()
	w.up()
	rows := w.relationRows()
	w.must(Down(w.ctx, w.db()))
	if got := w.schemaWithoutRelsync(); got != schemaBefore {
		t.Fatalf("schema after down differs:\n%s\nwant\n%s", got, schemaBefore)
	}
	if n := w.count(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'relsync%' AND name <> ?`, VersionTable); n != 0 {
		t.Fatalf("%d relsync objects left after Down", n)
	}
	if w.relationRows() != rows {
		t.Fatal("Down removed journal rows")
	}
	w.up()
	if w.relationRows() != rows {
		t.Fatal("Up after Down journaled again what was journaled")
	}
	rep, err := Verify(w.ctx, w.db())
	w.must(err)
	if !rep.OK() {
		t.Fatalf("after down and up: %+v", rep)
	}
}

// schema is the whole sqlite_master, one line per object.
func (w *world) schema() string {
	w.t.Helper()
	var s string
	w.must(w.db().QueryRowContext(w.ctx, `SELECT group_concat(line, char(10)) FROM
		(SELECT type || ' ' || name || ' ' || ifnull(sql, '') AS line FROM sqlite_master ORDER BY type, name)`).Scan(&s))
	return s
}

// schemaWithoutRelsync is the schema minus relsync's version table, which goose keeps after Down.
func (w *world) schemaWithoutRelsync() string {
	w.t.Helper()
	var s string
	w.must(w.db().QueryRowContext(w.ctx, `SELECT group_concat(line, char(10)) FROM
		(SELECT type || ' ' || name || ' ' || ifnull(sql, '') AS line FROM sqlite_master
		 WHERE tbl_name <> ? ORDER BY type, name)`, VersionTable).Scan(&s))
	return s
}
