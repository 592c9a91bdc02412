package relsync

import (
	"fmt"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// Each write path of docs/engram.md §7, replayed as engram v1.16.3, v1.17 and v3 write it, on a database
// where relsync is installed; then the journal, row by row.

var versions = []engram.Version{engram.V1163, engram.V117, engram.V3}

func eachVersion(t *testing.T, f func(t *testing.T, w *world)) {
	eachVersionOf(t, versions, f)
}

func eachVersionOf(t *testing.T, vs []engram.Version, f func(t *testing.T, w *world)) {
	for _, v := range vs {
		t.Run(v.String(), func(t *testing.T) { f(t, newWorld(t, v)) })
	}
}

// enrolledPair is an enrolled project with two observations, relsync installed.
func enrolledPair(w *world) (a, b string) {
	w.session("s1", "alpha")
	a, b = w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
	w.enroll("alpha")
	w.up()
	return a, b
}

func TestPathA_SemanticInsertAndUpdate(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		a, b := enrolledPair(w)
		rel := w.semantic(a, b, engram.Verdict{Relation: "conflicts_with", Confidence: ptr(0.9), Reason: ptr(""), Actor: "engram", Kind: "system", Model: ptr("m")})
		w.expectRows(rel, 1)
		// The existing pair, asked the other way round: an UPDATE, one more row.
		again := w.semantic(b, a, engram.Verdict{Relation: "compatible", Confidence: ptr(0.25), Reason: ptr("r"), Actor: "engram", Kind: "system", Model: ptr("m")})
		if again != rel {
			t.Fatalf("semantic update wrote a new relation %s, want %s", again, rel)
		}
		w.expectRows(rel, 2)
		// not_conflict: v1.16.3 and v1.17 write nothing, so nothing is journaled; v3 persists it as
		// any verdict and journals it, and relsync adds no second row.
		before := w.relationRows()
		nc := w.semantic(a, w.obs("s1", ptr("alpha")), semVerdict("not_conflict"))
		if w.s.Version == engram.V3 {
			w.expectRows(nc, 1)
		} else if got := w.relationRows(); got != before {
			t.Errorf("not_conflict added %d rows", got-before)
		}
	})
}

func TestJudgeRelationEnrolled_OneRowWithEitherVersion(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		a, b := enrolledPair(w)
		rel := w.pending(a, b)
		w.expectRows(rel, 0)
		w.judge(rel, verdict())
		w.expectRows(rel, 1)
		v := verdict()
		v.Relation, v.Confidence = "supersedes", ptr(1.0)
		w.judge(rel, v)
		w.expectRows(rel, 2)
	})
}

// v1.16.3's gate reads the raw observation project: an observation without one, in an enrolled
// session, is never journaled by Go. relsync journals it, once.
func TestJudgeRelation_SessionFallbackProject(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		w.session("s1", "alpha")
		a, b := w.obs("s1", nil), w.obs("s1", nil)
		w.enroll("alpha")
		w.up()
		rel := w.pending(a, b)
		w.judge(rel, verdict())
		w.expectRows(rel, 1)
	})
}

func TestPathB_JudgeUnenrolledThenEnroll(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		w.session("s1", "beta")
		a, b := w.obs("s1", ptr("beta")), w.obs("s1", ptr("beta"))
		w.up()
		rel := w.pending(a, b)
		w.judge(rel, verdict())
		sem := w.semantic(a, w.obs("s1", ptr("beta")), semVerdict("related"))
		w.expectRows(rel, 0)
		w.expectRows(sem, 0)
		w.enroll("beta")
		w.expectRows(rel, 1)
		w.expectRows(sem, 1)
	})
}

func TestMergeUnenrolledIntoEnrolled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		w.session("s1", "alpha")
		w.session("s2", "old-name")
		w.obs("s1", ptr("alpha"))
		a, b := w.obs("s2", ptr("old-name")), w.obs("s2", nil)
		w.enroll("alpha")
		w.up()
		rel := w.pending(a, b)
		w.judge(rel, verdict())
		w.expectRows(rel, 0)
		w.must(w.s.MergeProjects(w.ctx, []string{"old-name"}, "Alpha"))
		w.expectRows(rel, 1)
	})
}

func TestRenameIntoEnrolledName(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		w.session("s1", "gamma")
		a, b := w.obs("s1", ptr("gamma")), w.obs("s1", ptr("gamma"))
		w.enroll("delta")
		w.up()
		rel := w.semantic(a, b, semVerdict("scoped"))
		w.expectRows(rel, 0)
		w.must(w.s.MigrateProject(w.ctx, "gamma", "delta"))
		w.expectRows(rel, 1)
	})
}

func TestNothingThatMustNotBeJournaled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *world) {
		a, b := enrolledPair(w)
		c, d := w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
		pending := w.pending(a, b)

		orphan := w.pending(a, c)
		w.judge(orphan, verdict())
		w.must(w.s.HardDeleteObservation(w.ctx, c))

		unmarked := w.pending(b, d)
		_, err := w.db().ExecContext(w.ctx, `UPDATE memory_relations SET judgment_status = 'judged',
			relation = 'related', updated_at = datetime('now') WHERE sync_id = ?`, unmarked)
		w.must(err)

		soft := w.pending(a, d)
		w.must(w.s.SoftDeleteObservation(w.ctx, d))
		w.judge(soft, verdict())

		w.session("s9", "unenrolled")
		x, y := w.obs("s9", ptr("unenrolled")), w.obs("s9", ptr("unenrolled"))
		other := w.semantic(x, y, semVerdict("related"))

		w.expectRows(pending, 0)
		w.expectCount(orphan, 1) // journaled while judged; orphaning adds nothing
		w.expectRows(unmarked, 0)
		w.expectRows(other, 0)
		// Go's own gate ignores deleted_at (engram's business); relsync never writes such a row.
		if w.s.Version == engram.V1163 {
			w.expectRowsAs(soft, 1, engram.V1163)
		}
	})
}

// remoteOf is the payload the cloud sends back for a relation: the same values, older stamps.
func (w *world) remoteOf(key string) engram.RelationPayload {
	p, _ := w.goPayload(key)
	return p
}

func TestRemoteApplyNeverJournals(t *testing.T) {
	for _, mode := range []engram.ApplyMode{engram.CloudPull, engram.DeferredReplay, engram.FileImport} {
		t.Run(fmt.Sprint(mode), func(t *testing.T) {
			eachVersion(t, func(t *testing.T, w *world) {
				a, b := enrolledPair(w)
				c := w.obs("s1", ptr("alpha"))
				own := w.semantic(a, b, semVerdict("related"))
				w.expectRows(own, 1)
				before := w.relationRows()

				// The client's own echo, as it comes back on the next pull.
				echo := w.remoteOf(own)
				w.apply(echo, mode)
				// A foreign new relation and a foreign change to ours, stamped by another machine.
				foreign := engram.RelationPayload{SyncID: "rel-00000000000000ff", SourceID: a, TargetID: c,
					Relation: "compatible", JudgmentStatus: "judged", MarkedByActor: ptr("other"), MarkedByKind: ptr("agent"),
					Project: "alpha", CreatedAt: "2026-01-02 03:04:05", UpdatedAt: "2026-01-02 03:04:05"}
				w.apply(foreign, mode)
				change := echo
				change.Relation, change.UpdatedAt = "supersedes", "2026-01-03 00:00:00"
				w.apply(change, mode)

				if got := w.relationRows(); got != before {
					t.Fatalf("remote applies added %d journal rows", got-before)
				}
				// Reopen: engram's start-up repair. v1.17 journals the foreign relation itself (its
				// rule, §6); relsync adds nothing to that.
				w.reopen()
				want := 0
				if w.s.Version == engram.V117 {
					want = 1
				}
				w.expectCount(foreign.SyncID, want)
				w.expectCount(own, 1)
			})
		})
	}
}

func (w *world) apply(p engram.RelationPayload, mode engram.ApplyMode) {
	w.t.Helper()
	out, err := w.s.ApplyRemoteRelation(w.ctx, p, mode)
	w.must(err)
	if out != engram.Applied {
		w.t.Fatalf("apply %s: %v", p.SyncID, out)
	}
}

// reopen closes the database and opens it as engram's New does (with its start-up repair), then
// calls Up as engram would.
func (w *world) reopen() {
	w.t.Helper()
	w.must(w.s.Close())
	s, err := engram.New(w.path, w.s.Version)
	w.must(err)
	w.t.Cleanup(func() { s.Close() })
	w.s = s
	w.up()
}
