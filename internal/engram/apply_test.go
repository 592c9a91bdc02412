package engram

import (
	"database/sql"
	"errors"
	"testing"
)

// remoteWorld is a store with two observations in enrolled project alpha
// and a relation between them as the cloud would send it.
func remoteWorld(t *testing.T, v Version) (*Store, RelationPayload) {
	t.Helper()
	s, src, tgt := newPair(t, v, "alpha", enrolled)
	return s, RelationPayload{
		SyncID: "rel-0000000000000001", SourceID: src, TargetID: tgt, Relation: RelConflictsWith,
		Reason: ptr("remote"), Confidence: ptr(0.3333333333333333), JudgmentStatus: "judged",
		MarkedByActor: ptr("bob"), MarkedByKind: ptr("human"), Project: "alpha",
		CreatedAt: "2026-01-01 00:00:00", UpdatedAt: "2026-01-02 00:00:00",
	}
}

func readRelation(t *testing.T, s *Store, id string) RelationPayload {
	t.Helper()
	p, err := ReadRelationPayload(t.Context(), s.DB, id, V117)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func parked(t *testing.T, db *sql.DB, key string) (status string, attempts int) {
	t.Helper()
	err := db.QueryRow(`SELECT apply_status, retry_count FROM sync_apply_deferred WHERE sync_id = ?`, key).Scan(&status, &attempts)
	if errors.Is(err, sql.ErrNoRows) {
		return "", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return status, attempts
}

func noRelationJournal(t *testing.T, s *Store) {
	t.Helper()
	if rows := journal(t, s.DB, EntityRelation); len(rows) != 0 {
		t.Fatalf("remote apply journaled %+v", rows)
	}
}

func TestCloudPull(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		s, p := remoteWorld(t, v)
		if out, err := s.PullRelation(t.Context(), 7, p); err != nil || out != Applied {
			t.Fatalf("pull: %v %v", out, err)
		}
		if got := readRelation(t, s, p.SyncID); got.UpdatedAt != p.UpdatedAt || got.CreatedAt != p.CreatedAt ||
			*got.Confidence != *p.Confidence || *got.MarkedByActor != "bob" {
			t.Fatalf("applied %+v", got)
		}
		if st, _ := syncState(t, s.DB, TargetCloud); st.Lifecycle != "healthy" || st.Pulled != 7 {
			t.Fatalf("sync_state %+v", st)
		}
		noRelationJournal(t, s)

		newer := p
		newer.Relation, newer.UpdatedAt = RelSupersedes, "2026-01-03 00:00:00"
		for _, seq := range []int64{7, 3} {
			if out, err := s.PullRelation(t.Context(), seq, newer); err != nil || out != Skipped {
				t.Fatalf("seq %d: %v %v", seq, out, err)
			}
		}
		if readRelation(t, s, p.SyncID).Relation != RelConflictsWith {
			t.Fatal("a skipped mutation was applied")
		}
		// The echo of a local verdict comes back through the same upsert.
		if out, err := s.ApplyRemoteRelation(t.Context(), newer, CloudPull); err != nil || out != Applied {
			t.Fatalf("next pull: %v %v", out, err)
		}
		if st, _ := syncState(t, s.DB, TargetCloud); st.Pulled != 8 || readRelation(t, s, p.SyncID).Relation != RelSupersedes {
			t.Fatalf("next pull did not advance: %+v", st)
		}
		noRelationJournal(t, s)
	})
}

func TestCloudPullParksAndReplays(t *testing.T) {
	s, p := remoteWorld(t, V117)
	early := p
	early.TargetID = "obs-not-yet-here"
	if out, err := s.PullRelation(t.Context(), 1, early); err != nil || out != Deferred {
		t.Fatalf("pull: %v %v", out, err)
	}
	if status, _ := parked(t, s.DB, p.SyncID); status != "deferred" {
		t.Fatalf("parked as %q", status)
	}
	if count(t, s.DB, `SELECT count(*) FROM memory_relations`) != 0 {
		t.Fatal("a parked relation was written")
	}
	if st, _ := syncState(t, s.DB, TargetCloud); st.Pulled != 1 || st.Lifecycle != "healthy" {
		t.Fatalf("sync_state %+v", st)
	}

	empty := p
	empty.SyncID, empty.SourceID = "rel-0000000000000002", ""
	if out, err := s.PullRelation(t.Context(), 2, empty); err != nil || out != Dead {
		t.Fatalf("empty source: %v %v", out, err)
	}
	if status, _ := parked(t, s.DB, empty.SyncID); status != "dead" {
		t.Fatalf("empty source parked as %q", status)
	}

	// Replay: the observation is still missing, five times, then dead.
	for i := 1; i <= MaxReplayAttempts; i++ {
		if n, err := s.ReplayDeferred(t.Context()); err != nil || n != 0 {
			t.Fatalf("replay %d: %d %v", i, n, err)
		}
		status, attempts := parked(t, s.DB, p.SyncID)
		if want := map[bool]string{true: "dead", false: "deferred"}[i == MaxReplayAttempts]; status != want || attempts != i {
			t.Fatalf("after replay %d: %s, %d attempts", i, status, attempts)
		}
	}
	if st, _ := syncState(t, s.DB, TargetCloud); st.Pulled != 2 {
		t.Fatalf("replay touched sync_state: %+v", st)
	}
	noRelationJournal(t, s)
}

func TestDeferredReplayApplies(t *testing.T) {
	s, p := remoteWorld(t, V117)
	early := p
	early.TargetID = "obs-late"
	if out, err := s.PullRelation(t.Context(), 1, early); err != nil || out != Deferred {
		t.Fatalf("pull: %v %v", out, err)
	}
	exec(t, s.DB, `UPDATE observations SET sync_id = 'obs-late' WHERE sync_id = ?`, p.TargetID)
	if n, err := s.ReplayDeferred(t.Context()); err != nil || n != 1 {
		t.Fatalf("replay: %d %v", n, err)
	}
	if status, _ := parked(t, s.DB, p.SyncID); status != "" {
		t.Fatalf("still parked as %s", status)
	}
	if got := readRelation(t, s, p.SyncID); got.TargetID != "obs-late" || got.UpdatedAt != p.UpdatedAt {
		t.Fatalf("replayed %+v", got)
	}
	// The single-relation form of the replay.
	if out, err := s.ApplyRemoteRelation(t.Context(), early, DeferredReplay); err != nil || out != Applied {
		t.Fatalf("replay mode: %v %v", out, err)
	}
	noRelationJournal(t, s)
}

func TestFileImport(t *testing.T) {
	s, p := remoteWorld(t, V1163)
	second := p
	second.SyncID, second.TargetID = "rel-0000000000000002", "obs-missing"
	if _, err := s.ImportRelations(t.Context(), "chunk-1", []RelationPayload{p, second}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("chunk with a missing observation: %v", err)
	}
	if count(t, s.DB, `SELECT count(*) FROM memory_relations`) != 0 ||
		count(t, s.DB, `SELECT count(*) FROM sync_apply_deferred`) != 0 {
		t.Fatal("a failed chunk left rows behind")
	}
	if out, err := s.ImportRelations(t.Context(), "chunk-1", []RelationPayload{p}); err != nil || out != Applied {
		t.Fatalf("import: %v %v", out, err)
	}
	if out, err := s.ImportRelations(t.Context(), "chunk-1", []RelationPayload{p}); err != nil || out != Skipped {
		t.Fatalf("re-import: %v %v", out, err)
	}
	if out, err := s.ApplyRemoteRelation(t.Context(), p, FileImport); err != nil || out != Applied {
		t.Fatalf("import mode: %v %v", out, err)
	}
	if st, ok := syncState(t, s.DB, TargetCloud); ok && st.Pulled != 0 {
		t.Fatalf("import touched sync_state: %+v", st)
	}
	if readRelation(t, s, p.SyncID).UpdatedAt != p.UpdatedAt {
		t.Fatal("remote updated_at not kept")
	}
	noRelationJournal(t, s)
}
