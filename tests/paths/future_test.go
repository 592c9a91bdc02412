package paths

import (
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// Engram's future: a later engram adds disposition columns with defaults to
// sync_mutations and records its schema generation in PRAGMA user_version. relsync names the
// columns it writes, so the defaults fill the new ones, and it never touches user_version.

const engramV2UserVersion = 7

// engramV2 reshapes a world's database as engram v2 leaves it.
func engramV2(w *testworld.World) {
	w.T.Helper()
	w.Exec(`ALTER TABLE sync_mutations ADD COLUMN disposition TEXT NOT NULL DEFAULT 'pending'
		CHECK (disposition IN ('pending', 'sent', 'rejected'))`)
	w.Exec(`ALTER TABLE sync_mutations ADD COLUMN disposition_reason TEXT`)
	w.Exec(`CREATE INDEX idx_sync_mutations_disposition ON sync_mutations(target_key, disposition, seq)`)
	w.Exec(`PRAGMA user_version = 7`)
}

// Run on the v1 lines only: v3 has its own disposition columns (v3_test.go).
func TestEngramV2Shape(t *testing.T) {
	eachVersionOf(t, []engram.Version{engram.V1163, engram.V117}, func(t *testing.T, w *testworld.World) {
		engramV2(w)
		w.Session("s1", "alpha")
		a, b, c := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
		w.Enroll("alpha")
		backfilled := w.Semantic(a, b, testworld.SemVerdict("related")) // v1.17 journals it, v1.16.3 not
		before := w.RelationRows()

		w.Up()
		if got := w.UserVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Up: %d", got)
		}
		wantBackfill := 0
		if w.S.Version == engram.V1163 {
			wantBackfill = 1
		}
		if got := w.RelationRows() - before; got != wantBackfill {
			t.Fatalf("the backfill wrote %d rows, want %d", got, wantBackfill)
		}
		w.ExpectRows(backfilled, 1)

		rel := w.Pending(b, c)
		w.Judge(rel, testworld.Verdict()) // the triggers, with engram's own row where it writes one
		w.ExpectRows(rel, 1)
		w.Semantic(b, a, testworld.SemVerdict("compatible"))
		w.ExpectRows(backfilled, 2)

		if n := w.Count(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation'
			AND (disposition IS NOT 'pending' OR disposition_reason IS NOT NULL)`); n != 0 {
			t.Errorf("%d relation rows without engram v2's defaults", n)
		}
		if rep := w.Verify(); !rep.OK() {
			t.Fatalf("Verify: %+v", rep)
		}

		w.Must(relsync.Down(w.Ctx, w.DB()))
		if got := w.UserVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Down: %d", got)
		}
		w.Up()
		if got := w.UserVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Up, Down, Up: %d", got)
		}
		w.ExpectRows(rel, 1)
		if rep := w.Verify(); !rep.OK() {
			t.Fatalf("Verify after Up, Down, Up: %+v", rep)
		}
	})
}
