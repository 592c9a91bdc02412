package paths

import (
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// Engram's catch-up journals a relation only when it has no local row at all, so a relation that
// changed while it was not eligible would keep an outdated last row once eligible again. relsync
// journals it when its latest local row no longer carries its current state.

// judgedEnrolled is an enrolled pair whose relation is judged (one row), relsync installed.
func judgedEnrolled(w *testworld.World) (rel, a, b string) {
	a, b = testworld.EnrolledPair(w)
	rel = w.Pending(a, b)
	w.Judge(rel, testworld.Verdict())
	w.ExpectRows(rel, 1)
	return rel, a, b
}

func rejudge(w *testworld.World, rel string) {
	v := testworld.Verdict()
	v.Relation, v.Confidence, v.Reason = "supersedes", testworld.Ptr(0.5), testworld.Ptr("changed while not eligible")
	w.Judge(rel, v)
}

func TestStaleAfterUnenrollRejudgeReenroll(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		rel, _, _ := judgedEnrolled(w)
		w.Exec(`DELETE FROM sync_enrolled_projects WHERE project = 'alpha'`)
		rejudge(w, rel)
		w.ExpectCount(rel, 1) // not eligible: nothing journaled, by engram or relsync
		w.Enroll("alpha")
		w.ExpectRows(rel, 2)
		if rep := w.Verify(); !rep.OK() || rep.Projects[0].Stale != 0 {
			t.Errorf("Verify after the catch-up: %+v", rep)
		}
	})
}

func TestStaleAfterSoftDeleteRestore(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		rel, a, b := judgedEnrolled(w)
		w.Must(w.S.SoftDeleteObservation(w.Ctx, b))
		// JudgeBySemantic on the existing pair: v1.16.3 journals nothing itself; v1.17's and v3's
		// gates ignore deleted_at and journal (their own row, which is current).
		w.Semantic(a, b, testworld.SemVerdict("compatible"))
		goRows := 0
		if w.S.Version != engram.V1163 {
			goRows = 1
		}
		w.ExpectCount(rel, 1+goRows)
		w.Exec(`UPDATE observations SET deleted_at = NULL WHERE sync_id = '` + b + `'`)
		w.ExpectRows(rel, 2) // v1.16.3: relsync's catch-up row; v1.17, v3: Go's row, nothing added
		if rep := w.Verify(); !rep.OK() {
			t.Errorf("Verify after the restore: %+v", rep)
		}
	})
}

// A rename moves a journaled relation to another enrolled project. A row already pushed stays and a
// new one follows; a row still waiting gives way to the new one (relsync_journal_ai: same change,
// other project), so the cloud gets one upsert carrying the new project.
func TestStaleAfterRename(t *testing.T) {
	for _, pushed := range []bool{true, false} {
		t.Run(map[bool]string{true: "pushed", false: "waiting"}[pushed], func(t *testing.T) {
			eachVersion(t, func(t *testing.T, w *testworld.World) {
				rel, _, _ := judgedEnrolled(w)
				if pushed {
					w.Exec(`UPDATE sync_mutations SET acked_at = datetime('now') WHERE entity_key = '` + rel + `'`)
				}
				w.Enroll("beta")
				w.Must(w.S.MigrateProject(w.Ctx, "alpha", "beta"))
				want := 1
				if pushed {
					want = 2
				}
				w.ExpectRows(rel, want)
				if rows := w.Rows(rel); rows[want-1].Project != "beta" {
					t.Errorf("row after the rename has project %q, want beta", rows[want-1].Project)
				}
			})
		})
	}
}

// Verify and verify.sql count a relation whose latest row is outdated apart from a current one,
// and Up's backfill journals it.
func TestVerifyCountsStaleRows(t *testing.T) {
	w := testworld.New(t, engram.V117)
	rel, _, _ := judgedEnrolled(w)
	other := w.Pending(w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha")))
	w.Judge(other, testworld.Verdict())
	w.Exec(`UPDATE sync_mutations SET payload = json_set(payload, '$.relation', 'compatible')
		WHERE seq = (SELECT max(seq) FROM sync_mutations WHERE entity = 'relation' AND entity_key = '` + rel + `')`)
	rep := w.Verify()
	if p := rep.Projects[0]; p.Eligible != 2 || p.Journaled != 1 || p.Stale != 1 || p.Missing != 0 || rep.OK() {
		t.Fatalf("Verify: %+v, want 2 eligible, 1 journaled, 1 stale, not OK", p)
	}
	testtools.VerifyAgrees(t, w, 1, "1 relation(s) whose latest journal row is outdated")
	w.Must(relsync.Down(w.Ctx, w.DB()))
	w.Up()
	w.ExpectRows(rel, 2)
	if rep := w.Verify(); !rep.OK() {
		t.Errorf("Verify after Up: %+v", rep)
	}
}

// A relation whose latest state came from the cloud (a remote apply after our own row) is not
// outdated in the cloud: Verify counts it current and a repair journals nothing for it. A local
// change made afterwards while it is not eligible is outdated again.
func TestRemoteStateIsNotStale(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		rel, _, _ := judgedEnrolled(w)
		change := remoteOf(w, rel)
		change.Relation, change.UpdatedAt = "supersedes", "2020-01-02 03:04:05"
		apply(w, change, engram.CloudPull)
		w.ExpectCount(rel, 1)
		if rep := w.Verify(); !rep.OK() || rep.Projects[0].Stale != 0 || rep.Projects[0].Journaled != 1 {
			t.Fatalf("Verify after a remote change: %+v", rep)
		}
		w.Must(relsync.Repair(w.Ctx, w.DB()))
		w.ExpectCount(rel, 1)

		// Changed locally while its project is not enrolled: outdated once enrolled again.
		w.Exec(`DELETE FROM sync_enrolled_projects WHERE project = 'alpha'`)
		rejudge(w, rel)
		w.ExpectCount(rel, 1)
		w.Enroll("alpha")
		w.ExpectRows(rel, 2)
	})
}
