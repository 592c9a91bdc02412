package engram

import (
	"slices"
	"testing"

	"github.com/relsync/relsync/internal/sqlrows"
)

// backfillWorld holds relations in every state §6 distinguishes, written by
// v1.16.3 (which journals none of them) in enrolled project alpha, plus one
// in unenrolled beta. Only eligible and remote belong in the journal.
type backfillWorld struct {
	eligible, pending, orphaned, softDeleted, noActor, beta, remote string
}

func buildBackfillWorld(t *testing.T, s *Store) backfillWorld {
	t.Helper()
	old := &Store{DB: s.DB, Version: V1163}
	session(t, old, "s1", "alpha")
	session(t, old, "s2", "beta")
	obs := func() string { return observation(t, old, "s1", nil) } // project via session
	judge := func(src, tgt string) string {
		id, _, err := old.JudgeBySemantic(t.Context(), src, tgt, semanticVerdict())
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	var w backfillWorld
	a, b := obs(), obs()
	w.eligible = judge(a, b)
	w.pending = pending(t, old, a, b)

	gone := obs()
	w.orphaned = judge(a, gone)
	if err := old.HardDeleteObservation(t.Context(), gone); err != nil {
		t.Fatal(err)
	}
	hidden := obs()
	w.softDeleted = judge(hidden, b)
	if err := old.SoftDeleteObservation(t.Context(), hidden); err != nil {
		t.Fatal(err)
	}
	c := obs()
	w.noActor = judge(b, c)
	exec(t, s.DB, `UPDATE memory_relations SET marked_by_actor = '' WHERE sync_id = ?`, w.noActor)

	w.beta = judge(observation(t, old, "s2", ptr("beta")), observation(t, old, "s2", ptr("beta")))

	w.remote = "rel-00000000000000aa"
	remote := RelationPayload{
		SyncID: w.remote, SourceID: c, TargetID: a, Relation: RelSupersedes,
		JudgmentStatus: "judged", MarkedByActor: ptr("bob"), MarkedByKind: ptr("human"),
		CreatedAt: "2026-01-01 00:00:00", UpdatedAt: "2026-01-02 00:00:00",
	}
	if out, err := old.ApplyRemoteRelation(t.Context(), remote, CloudPull); err != nil || out != Applied {
		t.Fatalf("remote apply: %v %v", out, err)
	}
	// Enroll alpha as v1.16.3 did: no relation backfill.
	enroll(t, old, "alpha")
	if n := len(journal(t, s.DB, EntityRelation)); n != 0 {
		t.Fatalf("v1.16.3 journaled %d relations", n)
	}
	return w
}

// relationKeys checks the relation journal rows, all of project alpha, and
// lists their keys in seq order.
func relationKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var keys []string
	rows := journal(t, s.DB, EntityRelation)
	for _, r := range rows {
		checkRelationRow(t, s, r, r.Seq, "alpha")
		keys = append(keys, r.EntityKey)
	}
	if len(rows) > 0 {
		checkLastEnqueued(t, s.DB, rows[len(rows)-1].Seq, "alpha")
	}
	return keys
}

// journalOrder lists the journal as entity:key:op in seq order.
func journalOrder(t *testing.T, s *Store) []string {
	t.Helper()
	got, err := sqlrows.Column[string](t.Context(), s.DB,
		`SELECT entity || ':' || entity_key || ':' || op FROM sync_mutations ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestBackfillRelations(t *testing.T) {
	s := newStore(t, V117)
	w := buildBackfillWorld(t, s)
	n, err := s.BackfillRelations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	keys := relationKeys(t, s)
	if n != 2 || len(keys) != 2 || keys[0] != w.eligible || keys[1] != w.remote {
		t.Fatalf("backfilled %d: %v, want [%s %s]", n, keys, w.eligible, w.remote)
	}
	if n, err := s.BackfillRelations(t.Context()); err != nil || n != 0 {
		t.Fatalf("second backfill wrote %d (%v)", n, err)
	}
}

func TestStartupRepair(t *testing.T) {
	path, db := createDB(t, V1163)
	w := buildBackfillWorld(t, &Store{DB: db, Version: V1163})
	exec(t, db, `DELETE FROM sync_mutations WHERE entity = 'session'`) // a pre-journal session
	db.Close()

	old, err := New(path, V1163)
	if err != nil {
		t.Fatal(err)
	}
	if len(journal(t, old.DB, EntityRelation)) != 0 || len(journal(t, old.DB, EntitySession)) != 1 {
		t.Fatal("v1.16.3 repair: want the alpha session back and no relation")
	}
	old.Close()

	s, err := New(path, V117)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	keys := relationKeys(t, s)
	if len(keys) != 2 || keys[0] != w.eligible || keys[1] != w.remote {
		t.Fatalf("v1.17 repair journaled %v", keys)
	}
	if err := s.StartupRepair(t.Context()); err != nil || len(journal(t, s.DB, EntityRelation)) != 2 {
		t.Fatalf("repair is not idempotent (%v)", err)
	}
}

func TestEnrollProjectBackfills(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		s, a, b := newPair(t, v, "alpha", unenrolled)
		gone := observation(t, s, "s1", ptr("alpha"))
		if err := s.SoftDeleteObservation(t.Context(), gone); err != nil {
			t.Fatal(err)
		}
		prompt, err := s.AddPrompt(t.Context(), "s1", ptr("alpha"), "hi")
		if err != nil {
			t.Fatal(err)
		}
		rel := pending(t, s, a, b)
		if seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict()); err != nil || seq != 0 {
			t.Fatalf("judged before enrollment: seq %d err %v", seq, err)
		}
		exec(t, s.DB, `DELETE FROM sync_mutations`) // data from before the journal

		if err := s.EnrollProject(t.Context(), "  ALPHA "); err != nil {
			t.Fatal(err)
		}
		if count(t, s.DB, `SELECT count(*) FROM sync_enrolled_projects WHERE project = 'alpha'`) != 1 {
			t.Fatal("name not normalized")
		}
		got := journalOrder(t, s)
		want := []string{
			"session:s1:upsert",
			"observation:" + a + ":upsert", "observation:" + b + ":upsert", "observation:" + gone + ":delete",
			"prompt:" + prompt + ":upsert",
		}
		if v.fixes496() {
			want = append(want, "relation:"+rel+":upsert") // relations last
		}
		if !slices.Equal(got, want) {
			t.Fatalf("journal %v, want %v", got, want)
		}
		if err := s.EnrollProject(t.Context(), "alpha"); err != nil || count(t, s.DB, `SELECT count(*) FROM sync_mutations`) != len(want) {
			t.Fatalf("re-enrollment backfilled again (%v)", err)
		}
	})
}

func TestMigrateAndMergeProjects(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		t.Run("rename to an unenrolled name", func(t *testing.T) {
			s, a, b := newPair(t, v, "Old", unenrolled)
			rel := pending(t, s, a, b)
			judge(t, s, rel, humanVerdict())
			if err := s.MigrateProject(t.Context(), "Old", "New--Name"); err != nil {
				t.Fatal(err)
			}
			for _, table := range []string{"observations", "sessions"} {
				if count(t, s.DB, `SELECT count(*) FROM `+table+` WHERE project = 'New--Name'`) == 0 {
					t.Fatalf("%s not moved verbatim", table)
				}
			}
			if count(t, s.DB, `SELECT count(*) FROM sync_enrolled_projects`) != 0 {
				t.Fatal("rename enrolled a project")
			}
			if v == V1163 {
				expectNoRelationRow(t, s, 0, "v1.16.3 journaled")
				return
			}
			if v == V3 { // the central gate: nothing of an unenrolled project
				if n := count(t, s.DB, `SELECT count(*) FROM sync_mutations`); n != 0 {
					t.Fatalf("v3 journaled %d rows of an unenrolled project", n)
				}
				return
			}
			expectRelationRow(t, s, rel, 0, "new-name")
		})
		t.Run("merge into an enrolled project", func(t *testing.T) {
			s := newStore(t, v)
			session(t, s, "s1", "Old-A")
			session(t, s, "s2", "canon")
			enroll(t, s, "canon")
			a, b := observation(t, s, "s1", nil), observation(t, s, "s1", nil) // project via session
			rel, _, err := s.JudgeBySemantic(t.Context(), a, b, semanticVerdict())
			if err != nil {
				t.Fatal(err)
			}
			prompt, err := s.AddPrompt(t.Context(), "s1", ptr("old_b"), "hi")
			if err != nil {
				t.Fatal(err)
			}
			if err := s.MergeProjects(t.Context(), []string{"Old-A", "old_b"}, " Canon "); err != nil {
				t.Fatal(err)
			}
			if count(t, s.DB, `SELECT count(*) FROM sessions WHERE project = 'canon'`) != 2 ||
				count(t, s.DB, `SELECT count(*) FROM user_prompts WHERE sync_id = ? AND project = 'canon'`, prompt) != 1 {
				t.Fatal("merge did not move sessions and prompts to the normalized name")
			}
			if v == V1163 {
				expectNoRelationRow(t, s, 0, "v1.16.3 journaled")
				return
			}
			expectRelationRow(t, s, rel, 0, "canon")
		})
	})
}
