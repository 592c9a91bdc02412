package paths

import (
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
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
			eachVersion(t, func(t *testing.T, w *testworld.World) {
				w.Session("s-raw", c.raw)
				w.Session("s-norm", c.enrolled)
				ra, rb := w.Obs("s-raw", testworld.Ptr(c.raw)), w.Obs("s-raw", testworld.Ptr(c.raw))
				na, nb := w.Obs("s-norm", testworld.Ptr(c.enrolled)), w.Obs("s-norm", testworld.Ptr(c.enrolled))
				w.Enroll(c.raw) // engram normalizes the name it enrolls
				if n := w.Count(`SELECT count(*) FROM sync_enrolled_projects WHERE project = ?`, c.enrolled); n != 1 {
					t.Fatalf("enrolled %q, want the normalized %q", c.raw, c.enrolled)
				}
				w.Up()
				raw := w.Semantic(ra, rb, testworld.SemVerdict("related"))
				norm := w.Semantic(na, nb, testworld.SemVerdict("related"))
				w.ExpectRows(raw, 0)
				w.ExpectRows(norm, 1)
				if row := w.Rows(norm)[0]; row.Project != c.enrolled {
					t.Errorf("journal project %q, want %q", row.Project, c.enrolled)
				}
				// A relation judged by hand, and the backfill of a reinstall, agree.
				rel := w.Pending(ra, rb)
				w.Judge(rel, testworld.Verdict())
				w.ExpectRows(rel, 0)
				w.Must(relsync.Down(w.Ctx, w.DB()))
				w.Up()
				w.ExpectRows(raw, 0)
				w.ExpectRows(rel, 0)
				w.ExpectRows(norm, 1)
				if rep := w.Verify(); !rep.OK() || rep.Projects[0].Eligible != 1 {
					t.Errorf("Verify: %+v", rep)
				}
			})
		})
	}
}

// The rule holds on the engram version that never normalizes in its gate either: v1.16.3's
// JudgeBySemantic writes nothing itself, so what the journal holds is relsync's alone.
func TestRawNamedProjectNotJournaledByRelsync(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	a, b := w.Pair("Alpha")
	w.Enroll("alpha")
	w.Up()
	w.ExpectRows(w.Semantic(a, b, testworld.SemVerdict("conflicts_with")), 0)
}
