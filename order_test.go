package relsync

import (
	"fmt"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// legacyObs adds an observation the way an engram older than its journal left it: no journal row.
func (w *world) legacyObs(session, project string) string {
	w.t.Helper()
	id := "obs-legacy" + string(rune('a'+w.count(`SELECT count(*) FROM observations`)))
	_, err := w.db().ExecContext(w.ctx, `INSERT INTO observations (sync_id, session_id, type, title, content, project)
		VALUES (?, ?, 'note', 't', 'c', ?)`, id, session, project)
	w.must(err)
	return id
}

// seqOf is the seq of the entity's last local row, 0 if none.
func (w *world) seqOf(entity, key string) int64 {
	w.t.Helper()
	return int64(w.count(`SELECT ifnull(max(seq), 0) FROM sync_mutations WHERE target_key = 'cloud'
		AND entity = ? AND entity_key = ? AND source = 'local'`, entity, key))
}

// An enrollment whose observations are themselves backfilled in the same transaction: relsync
// journals the relation when the project is enrolled, before engram backfills the observations,
// and moves the relation's row behind them, as engram v1.17 orders its own backfill.
func TestEnrollmentOrdersRelationAfterItsObservations(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		w.session("s1", "omega")
		a, b := w.legacyObs("s1", "omega"), w.legacyObs("s1", "omega")
		w.up()
		rel := w.semantic(a, b, semVerdict("related"))
		w.expectRows(rel, 0)
		w.enroll("omega")
		// Engram sets last_enqueued_seq to its own observation row after the move: left as is.
		w.expectFaithful(rel, 1, engram.V117)
		relSeq, aSeq, bSeq := w.seqOf("relation", rel), w.seqOf("observation", a), w.seqOf("observation", b)
		if aSeq == 0 || bSeq == 0 {
			t.Fatalf("engram did not backfill the observations: %d %d", aSeq, bSeq)
		}
		if relSeq < aSeq || relSeq < bSeq {
			t.Fatalf("relation row %d precedes its observations' rows %d, %d", relSeq, aSeq, bSeq)
		}
		if n := w.count(`SELECT count(*) FROM relsync_reorder`); n != 0 {
			t.Errorf("%d relations still wait for an observation", n)
		}
		// Moving a row keeps the journal's seqs increasing: even once the moved row is gone (pushed
		// and pruned), the next row engram writes gets a seq above it, as AUTOINCREMENT promises.
		w.exec(`DELETE FROM sync_mutations WHERE seq >= ` + fmt.Sprint(relSeq))
		next := w.obs("s1", ptr("omega"))
		if got := w.seqOf("observation", next); got <= relSeq {
			t.Errorf("engram's next row got seq %d, not above the moved row's %d", got, relSeq)
		}
	})
}

// The install backfill meets observations without rows too; engram's start-up repair journals them
// after relsync's Up, and the relation rows follow.
func TestBackfillOrdersRelationAfterLaterObservationRows(t *testing.T) {
	w := newWorld(t, engram.V1163)
	w.session("s1", "omega")
	a, b := w.legacyObs("s1", "omega"), w.legacyObs("s1", "omega")
	rel := w.semantic(a, b, semVerdict("related"))
	_, err := w.db().ExecContext(w.ctx, `INSERT INTO sync_enrolled_projects (project) VALUES ('omega')`)
	w.must(err)
	w.up()
	w.expectRows(rel, 1)
	if w.seqOf("observation", a) != 0 {
		t.Fatal("the observation has a row already; the test needs one without")
	}
	_, err = engram.JournalObservation(w.ctx, w.db(), a)
	w.must(err)
	_, err = engram.JournalObservation(w.ctx, w.db(), b)
	w.must(err)
	w.expectFaithful(rel, 1, engram.V117)
	if relSeq := w.seqOf("relation", rel); relSeq < w.seqOf("observation", b) {
		t.Fatalf("relation row %d precedes its observation's row %d", relSeq, w.seqOf("observation", b))
	}
}
