package relsync

import (
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// Engram compares the raw payload project with sync_enrolled_projects as stored (it normalizes
// names when it saves them, never when it compares), so observations imported under a name that
// differs from the enrolled one only in case or accents are never journaled, nor their relations.
// relsync follows the same rule, for ASCII and non-ASCII names alike.
func TestEnrollmentComparesRawProjectNames(t *testing.T) {
	for _, c := range []struct{ raw, enrolled string }{
		{"Alpha", "alpha"},
		{"CAFÉ", "café"},
		{"Señal-Ñandú", "señal-ñandú"},
	} {
		t.Run(c.enrolled, func(t *testing.T) {
			eachVersion(t, func(t *testing.T, w *world) {
				w.session("s-raw", c.raw)
				w.session("s-norm", c.enrolled)
				ra, rb := w.obs("s-raw", ptr(c.raw)), w.obs("s-raw", ptr(c.raw))
				na, nb := w.obs("s-norm", ptr(c.enrolled)), w.obs("s-norm", ptr(c.enrolled))
				w.enroll(c.raw) // engram normalizes the name it enrolls
				if n := w.count(`SELECT count(*) FROM sync_enrolled_projects WHERE project = ?`, c.enrolled); n != 1 {
					t.Fatalf("enrolled %q, want the normalized %q", c.raw, c.enrolled)
				}
				w.up()
				raw := w.semantic(ra, rb, semVerdict("related"))
				norm := w.semantic(na, nb, semVerdict("related"))
				w.expectRows(raw, 0)
				w.expectRows(norm, 1)
				if row := w.rows(norm)[0]; row.Project != c.enrolled {
					t.Errorf("journal project %q, want %q", row.Project, c.enrolled)
				}
				// A relation judged by hand, and the backfill of a reinstall, agree.
				rel := w.pending(ra, rb)
				w.judge(rel, verdict())
				w.expectRows(rel, 0)
				w.must(Down(w.ctx, w.db()))
				w.up()
				w.expectRows(raw, 0)
				w.expectRows(rel, 0)
				w.expectRows(norm, 1)
				if rep := w.verify(); !rep.OK() || rep.Projects[0].Eligible != 1 {
					t.Errorf("Verify: %+v", rep)
				}
			})
		})
	}
}

// The rule holds on the engram version that never normalizes in its gate either: v1.16.3's
// JudgeBySemantic writes nothing itself, so what the journal holds is relsync's alone.
func TestRawNamedProjectNotJournaledByRelsync(t *testing.T) {
	w := newWorld(t, engram.V1163)
	w.session("s1", "Alpha")
	a, b := w.obs("s1", ptr("Alpha")), w.obs("s1", ptr("Alpha"))
	w.enroll("alpha")
	w.up()
	w.expectRows(w.semantic(a, b, semVerdict("conflicts_with")), 0)
}
