// Package paths replays engram's write paths (docs/engram.md §7) as engram v1.16.3, v1.17 and v3
// write them, on a database where relsync is installed, and checks the journal row by row: each
// path, v3's own ones, enrollment and renames, stale rows, ordering, timestamps, a later engram.
package paths

import (
	"fmt"
	"testing"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

var versions = []engram.Version{engram.V1163, engram.V117, engram.V3}

func eachVersion(t *testing.T, f func(t *testing.T, w *testworld.World)) {
	eachVersionOf(t, versions, f)
}

func eachVersionOf(t *testing.T, vs []engram.Version, f func(t *testing.T, w *testworld.World)) {
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) { f(t, testworld.New(t, v)) })
	}
}

func TestPathA_SemanticInsertAndUpdate(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := testworld.EnrolledPair(w)
		rel := w.Semantic(a, b, engram.Verdict{Relation: "conflicts_with", Confidence: testworld.Ptr(0.9), Reason: testworld.Ptr(""), Actor: "engram", Kind: "system", Model: testworld.Ptr("m")})
		w.ExpectRows(rel, 1)
		// The existing pair, asked the other way round: an UPDATE, one more row.
		again := w.Semantic(b, a, engram.Verdict{Relation: "compatible", Confidence: testworld.Ptr(0.25), Reason: testworld.Ptr("r"), Actor: "engram", Kind: "system", Model: testworld.Ptr("m")})
		if again != rel {
			t.Fatalf("semantic update wrote a new relation %s, want %s", again, rel)
		}
		w.ExpectRows(rel, 2)
		// not_conflict: v1.16.3 and v1.17 write nothing, so nothing is journaled; v3 persists it as
		// any verdict and journals it, and relsync adds no second row.
		before := w.RelationRows()
		nc := w.Semantic(a, w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("not_conflict"))
		if w.S.Version == engram.V3 {
			w.ExpectRows(nc, 1)
		} else if got := w.RelationRows(); got != before {
			t.Errorf("not_conflict added %d rows", got-before)
		}
	})
}

func TestJudgeRelationEnrolled_OneRowWithEitherVersion(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := testworld.EnrolledPair(w)
		rel := w.Pending(a, b)
		w.ExpectRows(rel, 0)
		w.Judge(rel, testworld.Verdict())
		w.ExpectRows(rel, 1)
		v := testworld.Verdict()
		v.Relation, v.Confidence = "supersedes", testworld.Ptr(1.0)
		w.Judge(rel, v)
		w.ExpectRows(rel, 2)
	})
}

// v1.16.3's gate reads the raw observation project: an observation without one, in an enrolled
// session, is never journaled by Go. relsync journals it, once.
func TestJudgeRelation_SessionFallbackProject(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		w.Session("s1", "alpha")
		a, b := w.Obs("s1", nil), w.Obs("s1", nil)
		w.Enroll("alpha")
		w.Up()
		rel := w.Pending(a, b)
		w.Judge(rel, testworld.Verdict())
		w.ExpectRows(rel, 1)
	})
}

func TestPathB_JudgeUnenrolledThenEnroll(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := w.Pair("beta")
		w.Up()
		rel := w.Pending(a, b)
		w.Judge(rel, testworld.Verdict())
		sem := w.Semantic(a, w.Obs("s1", testworld.Ptr("beta")), testworld.SemVerdict("related"))
		w.ExpectRows(rel, 0)
		w.ExpectRows(sem, 0)
		w.Enroll("beta")
		w.ExpectRows(rel, 1)
		w.ExpectRows(sem, 1)
	})
}

func TestMergeUnenrolledIntoEnrolled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		w.Session("s1", "alpha")
		w.Session("s2", "old-name")
		w.Obs("s1", testworld.Ptr("alpha"))
		a, b := w.Obs("s2", testworld.Ptr("old-name")), w.Obs("s2", nil)
		w.Enroll("alpha")
		w.Up()
		rel := w.Pending(a, b)
		w.Judge(rel, testworld.Verdict())
		w.ExpectRows(rel, 0)
		w.Must(w.S.MergeProjects(w.Ctx, []string{"old-name"}, "Alpha"))
		w.ExpectRows(rel, 1)
	})
}

func TestRenameIntoEnrolledName(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := w.Pair("gamma")
		w.Enroll("delta")
		w.Up()
		rel := w.Semantic(a, b, testworld.SemVerdict("scoped"))
		w.ExpectRows(rel, 0)
		w.Must(w.S.MigrateProject(w.Ctx, "gamma", "delta"))
		w.ExpectRows(rel, 1)
	})
}

func TestNothingThatMustNotBeJournaled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := testworld.EnrolledPair(w)
		c, d := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
		pending := w.Pending(a, b)

		orphan := w.Pending(a, c)
		w.Judge(orphan, testworld.Verdict())
		w.Must(w.S.HardDeleteObservation(w.Ctx, c))

		unmarked := w.Pending(b, d)
		_, err := w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET judgment_status = 'judged',
			relation = 'related', updated_at = datetime('now') WHERE sync_id = ?`, unmarked)
		w.Must(err)

		soft := w.Pending(a, d)
		w.Must(w.S.SoftDeleteObservation(w.Ctx, d))
		w.Judge(soft, testworld.Verdict())

		w.Session("s9", "unenrolled")
		x, y := w.Obs("s9", testworld.Ptr("unenrolled")), w.Obs("s9", testworld.Ptr("unenrolled"))
		other := w.Semantic(x, y, testworld.SemVerdict("related"))

		w.ExpectRows(pending, 0)
		w.ExpectCount(orphan, 1) // journaled while judged; orphaning adds nothing
		w.ExpectRows(unmarked, 0)
		w.ExpectRows(other, 0)
		// Go's own gate ignores deleted_at (engram's business); relsync never writes such a row.
		if w.S.Version == engram.V1163 {
			w.ExpectRowsAs(soft, 1, engram.V1163)
		}
	})
}

// remoteOf is the payload the cloud sends back for a relation: the same values, older stamps.
func remoteOf(w *testworld.World, key string) engram.RelationPayload {
	p, _ := w.GoPayload(key)
	return p
}

func TestRemoteApplyNeverJournals(t *testing.T) {
	for _, mode := range []engram.ApplyMode{engram.CloudPull, engram.DeferredReplay, engram.FileImport} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			eachVersion(t, func(t *testing.T, w *testworld.World) {
				a, b := testworld.EnrolledPair(w)
				c := w.Obs("s1", testworld.Ptr("alpha"))
				own := w.Semantic(a, b, testworld.SemVerdict("related"))
				w.ExpectRows(own, 1)
				before := w.RelationRows()

				// The client's own echo, as it comes back on the next pull.
				echo := remoteOf(w, own)
				apply(w, echo, mode)
				// A foreign new relation and a foreign change to ours, stamped by another machine.
				foreign := engram.RelationPayload{SyncID: "rel-00000000000000ff", SourceID: a, TargetID: c,
					Relation: "compatible", JudgmentStatus: "judged", MarkedByActor: testworld.Ptr("other"), MarkedByKind: testworld.Ptr("agent"),
					Project: "alpha", CreatedAt: "2026-01-02 03:04:05", UpdatedAt: "2026-01-02 03:04:05"}
				apply(w, foreign, mode)
				change := echo
				change.Relation, change.UpdatedAt = "supersedes", "2026-01-03 00:00:00"
				apply(w, change, mode)

				if got := w.RelationRows(); got != before {
					t.Fatalf("remote applies added %d journal rows", got-before)
				}
				// Reopen: engram's start-up repair. v1.17 journals the foreign relation itself (its
				// rule, §6); relsync adds nothing to that.
				reopen(w)
				want := 0
				if w.S.Version == engram.V117 {
					want = 1
				}
				w.ExpectCount(foreign.SyncID, want)
				w.ExpectCount(own, 1)
			})
		})
	}
}

func apply(w *testworld.World, p engram.RelationPayload, mode engram.ApplyMode) {
	w.T.Helper()
	out, err := w.S.ApplyRemoteRelation(w.Ctx, p, mode)
	w.Must(err)
	if out != engram.Applied {
		w.T.Fatalf("apply %s: %v", p.SyncID, out)
	}
}

// reopen closes the database and opens it as engram's New does (with its start-up repair), then
// calls Up as engram would.
func reopen(w *testworld.World) {
	w.T.Helper()
	w.Must(w.S.Close())
	s, err := engram.New(w.Path, w.S.Version)
	w.Must(err)
	w.T.Cleanup(func() { s.Close() })
	w.S = s
	w.Up()
}
