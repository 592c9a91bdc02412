package engram

import (
	"testing"
)

// TestRawProjectCompare checks §6: "enrolled" compares the raw payload
// project with sync_enrolled_projects as stored, never normalizing then.
// Enrollment normalizes its own name (Go's Unicode-aware lower-casing).
func TestRawProjectCompare(t *testing.T) {
	cases := []struct {
		enroll, stored string // the name given to EnrollProject, the row it stores
		raw, exact     string // an un-normalized project, and the stored one
	}{
		{"alpha", "alpha", "Alpha", "alpha"},
		{"CAFÉ", "café", "CAFÉ", "café"},
		{"Señal-Ñandú", "señal-ñandú", "Señal-Ñandú", "señal-ñandú"},
	}
	forEachVersion(t, func(t *testing.T, v Version) {
		for _, c := range cases {
			t.Run(c.raw, func(t *testing.T) {
				s := newStore(t, v)
				session(t, s, "s1", c.exact)
				enroll(t, s, c.enroll)
				if count(t, s.DB, `SELECT count(*) FROM sync_enrolled_projects WHERE project = ?`, c.stored) != 1 {
					t.Fatalf("enrollment of %q did not store %q", c.enroll, c.stored)
				}
				obs := func(p string) string { return observation(t, s, "s1", ptr(p)) }

				// The raw name: no Go path journals its relations.
				rel := pending(t, s, obs(c.raw), obs(c.raw))
				if seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict()); err != nil || seq != 0 {
					t.Fatalf("JudgeRelation on %q: seq %d, err %v", c.raw, seq, err)
				}
				if _, seq, err := s.JudgeBySemantic(t.Context(), obs(c.raw), obs(c.raw), semanticVerdict()); err != nil || seq != 0 {
					t.Fatalf("JudgeBySemantic on %q: seq %d, err %v", c.raw, seq, err)
				}
				if n, err := s.BackfillRelations(t.Context()); err != nil || n != 0 {
					t.Fatalf("relation backfill of %q: %d, %v", c.raw, n, err)
				}
				if err := s.EnrollProject(t.Context(), c.raw); err != nil { // already enrolled: no-op
					t.Fatal(err)
				}
				if err := s.StartupRepair(t.Context()); err != nil {
					t.Fatal(err)
				}
				if rows := journal(t, s.DB, EntityRelation); len(rows) != 0 {
					t.Fatalf("relations of raw %q journaled: %+v", c.raw, rows)
				}

				// The stored name: journaled, with that name in the column.
				rel = pending(t, s, obs(c.exact), obs(c.exact))
				seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict())
				if err != nil || seq == 0 {
					t.Fatalf("JudgeRelation on %q: seq %d, err %v", c.exact, seq, err)
				}
				expectRelationRow(t, s, rel, seq, c.stored)
			})
		}
	})
	// v1.17's backfill also compares the session fallback raw.
	t.Run("session fallback", func(t *testing.T) {
		s := newStore(t, V117)
		session(t, s, "s1", "Alpha")
		old := &Store{DB: s.DB, Version: V1163}
		rel := pending(t, old, observation(t, old, "s1", nil), observation(t, old, "s1", nil))
		if _, err := old.JudgeRelation(t.Context(), rel, humanVerdict()); err != nil {
			t.Fatal(err)
		}
		enroll(t, old, "alpha")
		if n, err := s.BackfillRelations(t.Context()); err != nil || n != 0 {
			t.Fatalf("backfill through session %q: %d, %v", "Alpha", n, err)
		}
		exec(t, s.DB, `UPDATE sessions SET project = 'alpha'`)
		if n, err := s.BackfillRelations(t.Context()); err != nil || n != 1 {
			t.Fatalf("backfill through session %q: %d, %v", "alpha", n, err)
		}
	})
}
