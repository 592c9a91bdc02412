package paths

import (
	"testing"
	"time"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// goNanoStamp is the form engram's Go formats its other stamps in (v3's Now()).
const goNanoStamp = "2006-01-02 15:04:05.000000000"

// A relation path that stamped updated_at the way engram's Go stamps other tables (nanoseconds)
// must still be journaled; a remote apply carrying such a stamp from an earlier second must not.
func TestLocalWriteWithNanosecondStampIsJournaled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := testworld.EnrolledPair(w)
		rel := w.Pending(a, b)
		// Stay clear of a second boundary between Go's clock and SQLite's 'now'.
		if ns := time.Now().Nanosecond(); ns > 800_000_000 {
			time.Sleep(time.Duration(1_000_000_000-ns) + 10*time.Millisecond)
		}
		stamp := time.Now().UTC().Format(goNanoStamp)
		_, err := w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET relation = 'related', reason = 'nano',
			confidence = 0.5, judgment_status = 'judged', marked_by_actor = 'claude', marked_by_kind = 'agent',
			updated_at = ? WHERE sync_id = ?`, stamp, rel)
		w.Must(err)
		w.ExpectRows(rel, 1)
		if p, _ := w.GoPayload(rel); p.UpdatedAt != stamp {
			t.Fatalf("updated_at %q, want %q", p.UpdatedAt, stamp)
		}
	})
}

func TestRemoteApplyWithNanosecondStampIsNotJournaled(t *testing.T) {
	eachVersion(t, func(t *testing.T, w *testworld.World) {
		a, b := testworld.EnrolledPair(w)
		own := w.Semantic(a, b, testworld.SemVerdict("related"))
		w.ExpectRows(own, 1)
		change := remoteOf(w, own)
		change.Relation = "supersedes"
		change.UpdatedAt = time.Now().UTC().Add(-2 * time.Second).Format(goNanoStamp)
		apply(w, change, engram.CloudPull)
		w.ExpectCount(own, 1)
		foreign := change
		foreign.SyncID, foreign.TargetID = "rel-00000000000000fe", w.Obs("s1", testworld.Ptr("alpha"))
		apply(w, foreign, engram.CloudPull)
		w.ExpectCount(foreign.SyncID, 0)
	})
}
