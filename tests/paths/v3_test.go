package paths

import (
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// relsync beside what engram v3 changed in its journal: the reserved cloud:inbox state row, the
// disposition column (what the pusher sends, what counts as present), the lazy pre-push repair,
// and a database installed under v1.16.3 that v3 then opens.

// inboxState is sync_state 'cloud:inbox' as "lifecycle last_enqueued_seq last_acked_seq last_pulled_seq".
func inboxState(w *testworld.World) string {
	w.T.Helper()
	var s string
	w.Must(w.DB().QueryRowContext(w.Ctx, `SELECT lifecycle || ' ' || last_enqueued_seq || ' ' || last_acked_seq
		|| ' ' || last_pulled_seq FROM sync_state WHERE target_key = 'cloud:inbox'`).Scan(&s))
	return s
}

// judgedUnenrolled is a relation judged in a project not enrolled yet, relsync installed: no row.
func judgedUnenrolled(w *testworld.World, project string) string {
	w.T.Helper()
	a, b := w.Pair(project)
	w.Up()
	rel := w.Pending(a, b)
	w.Judge(rel, testworld.Verdict())
	w.ExpectCount(rel, 0)
	return rel
}

// A project named "inbox" enrolled before v3 reserved the name: relsync journals its relation (the
// catch-up at enrollment writes it, not engram) and leaves the reserved state row as v3 set it.
func TestV3InboxStateUntouched(t *testing.T) {
	w := testworld.New(t, engram.V3)
	rel := judgedUnenrolled(w, "inbox")
	before := inboxState(w)
	if before != "inbox 0 0 0" {
		t.Fatalf("cloud:inbox before: %q", before)
	}
	w.Exec(`INSERT INTO sync_enrolled_projects (project) VALUES ('inbox')`) // engram v3 refuses the name now
	last, ok := w.ExpectFaithful(rel, 1, engram.V117)
	if !ok || last.Project != "inbox" {
		t.Fatalf("relation row %+v", last)
	}
	if got := inboxState(w); got != before {
		t.Errorf("cloud:inbox after relsync journaled into project inbox: %q, want %q", got, before)
	}
	if got := w.Count(`SELECT last_enqueued_seq FROM sync_state WHERE target_key = 'cloud'`); int64(got) != last.Seq {
		t.Errorf("sync_state cloud at %d, want %d", got, last.Seq)
	}
}

// relsync's rows take v3's default disposition, so v3's pusher sends them and acks them.
func TestV3PushesRelsyncRows(t *testing.T) {
	w := testworld.New(t, engram.V3)
	rel := judgedUnenrolled(w, "alpha")
	w.Enroll("alpha") // relsync's catch-up writes the relation's row
	rows := w.Rows(rel)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	if d := w.Count(`SELECT count(*) FROM sync_mutations WHERE seq = ? AND disposition = 'pending'`, rows[0].Seq); d != 1 {
		t.Fatalf("relsync's row is not pending")
	}
	w.Must(w.S.PrePushRepair(w.Ctx)) // engram's lazy repair finds the relation present
	w.ExpectRows(rel, 1)
	pushable, err := w.S.PushableMutations(w.Ctx)
	w.Must(err)
	var seqs []int64
	found := false
	for _, m := range pushable {
		seqs = append(seqs, m.Seq)
		found = found || m.Seq == rows[0].Seq
	}
	if !found {
		t.Fatalf("v3's pusher does not select relsync's row %d: %+v", rows[0].Seq, pushable)
	}
	n, err := w.S.AckMutations(w.Ctx, seqs...)
	w.Must(err)
	if n != len(seqs) {
		t.Fatalf("acked %d of %d", n, len(seqs))
	}
	rep := w.Verify()
	if !rep.OK() || rep.Projects[0].Unacked != 0 || rep.Projects[0].Held != 0 {
		t.Errorf("Verify after the push: %+v", rep)
	}
}

// Engram counts a quarantined row as present: relsync journals its relation again only when it
// changes, and Verify reports the row as held, not as waiting to be pushed.
func TestV3QuarantinedRowNotJournaledAgain(t *testing.T) {
	w := testworld.New(t, engram.V3)
	a, b := testworld.EnrolledPair(w)
	rel := w.Pending(a, b)
	w.Judge(rel, testworld.Verdict())
	rows := w.Rows(rel)
	if len(rows) != 1 {
		t.Fatalf("%d rows, want 1", len(rows))
	}
	w.Must(w.S.QuarantineMutation(w.Ctx, rows[0].Seq, "test: cannot repair"))

	// Everything that may journal a relation that lacks its row: engram's lazy repair, relsync's
	// repair, a soft delete and restore of its observation, a re-enrollment.
	w.Must(w.S.PrePushRepair(w.Ctx))
	w.Must(relsync.Repair(w.Ctx, w.DB()))
	w.Exec(`UPDATE observations SET deleted_at = datetime('now') WHERE sync_id = '` + b + `'`)
	w.Exec(`UPDATE observations SET deleted_at = NULL WHERE sync_id = '` + b + `'`)
	w.Exec(`DELETE FROM sync_enrolled_projects WHERE project = 'alpha'`)
	w.Enroll("alpha")
	w.ExpectCount(rel, 1)

	rep := w.Verify()
	if p := rep.Projects[0]; !rep.OK() || p.Journaled != 1 || p.Held != 1 || p.Unacked != 0 {
		t.Errorf("Verify with a quarantined row: %+v", rep)
	}
	w.Judge(rel, engram.Verdict{Relation: "supersedes", Confidence: testworld.Ptr(1.0), Reason: testworld.Ptr("changed"),
		Actor: "claude", Kind: "agent", Model: testworld.Ptr("opus")})
	w.ExpectRows(rel, 2) // a change is journaled anew
}

// A database relsync was installed in under v1.16.3, then opened by engram v3: v3's migrate pass
// adds its columns by ALTER beside relsync's objects, writes no journal row of relsync's, and
// relsync keeps journaling with nothing for the user to do.
func TestV1DatabaseOpenedByV3(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	a, b := testworld.EnrolledPair(w)
	old := w.Pending(a, b)
	w.Judge(old, testworld.Verdict()) // relsync's row: v1.16.3 journals none for JudgeRelation
	w.Exec(`INSERT INTO observations (session_id, type, title, content, project) VALUES ('s1', 'manual', 't', 'c', 'alpha')`)
	before := w.RelationRows()

	w.Must(engram.MigrateV3(w.Ctx, w.DB())) // what v3's open runs, relsync installed
	w.S = &engram.Store{DB: w.DB(), Version: engram.V3}
	w.Up() // engram calls Up after its open
	if got := w.RelationRows(); got != before {
		t.Fatalf("v3's migrate pass changed the relation rows: %d, want %d", got, before)
	}
	if n := w.Count(`SELECT count(*) FROM observations WHERE sync_id IS NULL`); n != 0 {
		t.Fatalf("migrate left %d observations without sync_id", n)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after v3's first open: %+v", rep)
	}
	w.ExpectRows(old, 1)

	rel := w.Semantic(a, w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("compatible"))
	w.ExpectRows(rel, 1)
	w.Judge(old, engram.Verdict{Relation: "supersedes", Confidence: testworld.Ptr(1.0), Reason: testworld.Ptr("v3"),
		Actor: "claude", Kind: "agent", Model: testworld.Ptr("opus")})
	w.ExpectRows(old, 2)
	if n := w.Count(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation' AND disposition <> 'pending'`); n != 0 {
		t.Errorf("%d relation rows not pending after v3 opened the database", n)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Errorf("Verify after v3 writes: %+v", rep)
	}
}
