package testworld

import (
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// Mixed is a database with relations in every state, written before relsync was installed,
// as engram v1.16.3 leaves it: the backfill must journal exactly the eligible ones that lack a row.
type Mixed struct {
	W                *World
	Missing, Present []string // eligible relations without and with a local row before install
	Never            []string // relations that must never get a row
}

// BuildMixed writes such a database, and returns it with its world (m.W).
func BuildMixed(t *testing.T) (m *Mixed, w *World) {
	w = New(t, engram.V1163)
	m = &Mixed{W: w}
	w.Session("s1", "alpha")
	w.Session("s2", "beta")
	w.Session("s3", "gamma")
	a1, a2 := w.Obs("s1", Ptr("alpha")), w.Obs("s1", Ptr("alpha"))
	a3, a4 := w.Obs("s1", nil), w.Obs("s1", nil)
	b1, b2 := w.Obs("s2", Ptr("beta")), w.Obs("s2", Ptr("beta"))
	g1, g2 := w.Obs("s3", Ptr("gamma")), w.Obs("s3", Ptr("gamma"))
	w.Enroll("alpha")
	w.Enroll("beta")

	// Path A: never journaled by v1.16.3.
	m.Missing = append(m.Missing, w.Semantic(a1, a2, SemVerdict("related")))
	// Path B: judged while beta was not enrolled... (beta is enrolled above, so judge gamma, then enroll it).
	pb := w.Pending(g1, g2)
	w.Judge(pb, Verdict())
	w.Enroll("gamma") // v1.16.3's enrollment does not catch up relations
	m.Missing = append(m.Missing, pb)
	// Observations without a project of their own, in an enrolled session: v1.16.3's gate never
	// journals them.
	sf := w.Pending(a3, a4)
	w.Judge(sf, Verdict())
	m.Missing = append(m.Missing, sf)
	// Healthy: JudgeRelation on an enrolled project wrote its own row.
	ok := w.Pending(b1, b2)
	w.Judge(ok, Verdict())
	m.Present = append(m.Present, ok)

	m.Never = append(m.Never, w.Pending(a1, b1)) // pending
	o1, o2 := w.Obs("s2", Ptr("beta")), w.Obs("s2", Ptr("beta"))
	orphan := w.Pending(o1, o2)
	w.Judge(orphan, Verdict()) // Go journals it while judged...
	m.Present = append(m.Present, orphan)
	w.Must(w.S.HardDeleteObservation(w.Ctx, o2)) // ...then it is orphaned, and stays at one row
	m.Never = append(m.Never, w.Pending(a2, b2)) // a second pending one
	w.Session("s4", "delta")
	d1, d2, d3 := w.Obs("s4", Ptr("delta")), w.Obs("s4", Ptr("delta")), w.Obs("s4", Ptr("delta"))
	m.Never = append(m.Never, w.Semantic(d1, d2, SemVerdict("related"))) // unenrolled project
	soft := w.Semantic(a1, w.Obs("s1", Ptr("alpha")), SemVerdict("compatible"))
	_, err := w.DB().ExecContext(w.Ctx, `UPDATE observations SET deleted_at = datetime('now')
		WHERE sync_id = (SELECT target_id FROM memory_relations WHERE sync_id = ?)`, soft)
	w.Must(err)
	m.Never = append(m.Never, soft) // observation soft-deleted
	unmarked := w.Pending(d3, d1)
	_, err = w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET judgment_status = 'judged', relation = 'related' WHERE sync_id = ?`, unmarked)
	w.Must(err)
	m.Never = append(m.Never, unmarked)
	return m, w
}

// ExpectJournaled checks that each relation that lacked its row before the install now has one
// row, faithful.
func (m *Mixed) ExpectJournaled() {
	m.W.T.Helper()
	for _, key := range m.Missing {
		m.W.ExpectRows(key, 1)
	}
}

// ExpectBackfilled checks what a finished backfill leaves: ExpectJournaled, and no row for any
// relation that must never be journaled.
func (m *Mixed) ExpectBackfilled() {
	m.W.T.Helper()
	m.ExpectJournaled()
	for _, key := range m.Never {
		m.W.ExpectCount(key, 0)
	}
}

// ExpectNewRows checks that what, since the world held before local relation rows, wrote one row
// per relation that lacked its row: no more, no fewer.
func (m *Mixed) ExpectNewRows(before int, what string) {
	m.W.T.Helper()
	if got := m.W.RelationRows() - before; got != len(m.Missing) {
		m.W.T.Fatalf("%s journaled %d relations, want %d", what, got, len(m.Missing))
	}
}

// JudgeNew writes a relation as engram's JudgeBySemantic does, between two new observations of
// enrolled project alpha in a new session s9: once per database.
func (m *Mixed) JudgeNew() string {
	w := m.W
	w.T.Helper()
	w.Session("s9", "alpha")
	return w.Semantic(w.Obs("s9", Ptr("alpha")), w.Obs("s9", Ptr("alpha")), SemVerdict("related"))
}
