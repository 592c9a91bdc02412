package paths

import (
	"fmt"
	"testing"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// legacyObs adds an observation the way an engram older than its journal left it: no journal row.
func legacyObs(w *testworld.World, session, project string) string {
	w.T.Helper()
	id := "obs-legacy" + string(rune('a'+w.Count(`SELECT count(*) FROM observations`)))
	_, err := w.DB().ExecContext(w.Ctx, `INSERT INTO observations (sync_id, session_id, type, title, content, project)
		VALUES (?, ?, 'note', 't', 'c', ?)`, id, session, project)
	w.Must(err)
	return id
}

// seqOf is the seq of the entity's last local row, 0 if none.
func seqOf(w *testworld.World, entity, key string) int64 {
	w.T.Helper()
	return int64(w.Count(`SELECT ifnull(max(seq), 0) FROM sync_mutations WHERE target_key = 'cloud'
		AND entity = ? AND entity_key = ? AND source = 'local'`, entity, key))
}

// An enrollment whose observations are themselves backfilled in the same transaction: relsync
// journals the relation when the project is enrolled, before engram backfills the observations,
// and moves the relation's row behind them, as engram v1.17 orders its own backfill.
func TestEnrollmentOrdersRelationAfterItsObservations(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		w.Session("s1", "omega")
		a, b := legacyObs(w, "s1", "omega"), legacyObs(w, "s1", "omega")
		w.Up()
		rel := w.Semantic(a, b, testworld.SemVerdict("related"))
		w.ExpectRows(rel, 0)
		w.Enroll("omega")
		// Engram sets last_enqueued_seq to its own observation row after the move: left as is.
		w.ExpectFaithful(rel, 1, engram.V117)
		relSeq, aSeq, bSeq := seqOf(w, "relation", rel), seqOf(w, "observation", a), seqOf(w, "observation", b)
		if aSeq == 0 || bSeq == 0 {
			t.Fatalf("engram did not backfill the observations: %d %d", aSeq, bSeq)
		}
		if relSeq < aSeq || relSeq < bSeq {
			t.Fatalf("relation row %d precedes its observations' rows %d, %d", relSeq, aSeq, bSeq)
		}
		if n := w.Count(`SELECT count(*) FROM relsync_reorder`); n != 0 {
			t.Errorf("%d relations still wait for an observation", n)
		}
		// Moving a row keeps the journal's seqs increasing: even once the moved row is gone (pushed
		// and pruned), the next row engram writes gets a seq above it, as AUTOINCREMENT promises.
		w.Exec(`DELETE FROM sync_mutations WHERE seq >= ` + fmt.Sprint(relSeq))
		next := w.Obs("s1", testworld.Ptr("omega"))
		if got := seqOf(w, "observation", next); got <= relSeq {
			t.Errorf("engram's next row got seq %d, not above the moved row's %d", got, relSeq)
		}
	})
}

// The install backfill meets observations without rows too; engram's start-up repair journals them
// after relsync's Up, and the relation rows follow.
func TestBackfillOrdersRelationAfterLaterObservationRows(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	w.Session("s1", "omega")
	a, b := legacyObs(w, "s1", "omega"), legacyObs(w, "s1", "omega")
	rel := w.Semantic(a, b, testworld.SemVerdict("related"))
	_, err := w.DB().ExecContext(w.Ctx, `INSERT INTO sync_enrolled_projects (project) VALUES ('omega')`)
	w.Must(err)
	w.Up()
	w.ExpectRows(rel, 1)
	if seqOf(w, "observation", a) != 0 {
		t.Fatal("the observation has a row already; the test needs one without")
	}
	_, err = engram.JournalObservation(w.Ctx, w.DB(), a)
	w.Must(err)
	_, err = engram.JournalObservation(w.Ctx, w.DB(), b)
	w.Must(err)
	w.ExpectFaithful(rel, 1, engram.V117)
	if relSeq := seqOf(w, "relation", rel); relSeq < seqOf(w, "observation", b) {
		t.Fatalf("relation row %d precedes its observation's row %d", relSeq, seqOf(w, "observation", b))
	}
}
