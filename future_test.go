package relsync

import (
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// Engram's future: a later engram adds disposition columns with defaults to
// sync_mutations and records its schema generation in PRAGMA user_version. relsync names the
// columns it writes, so the defaults fill the new ones, and it never touches user_version.

const engramV2UserVersion = 7

// engramV2 reshapes a world's database as engram v2 leaves it.
func engramV2(w *world) {
	w.t.Helper()
	w.exec(`ALTER TABLE sync_mutations ADD COLUMN disposition TEXT NOT NULL DEFAULT 'pending'
		CHECK (disposition IN ('pending', 'sent', 'rejected'))`)
	w.exec(`ALTER TABLE sync_mutations ADD COLUMN disposition_reason TEXT`)
	w.exec(`CREATE INDEX idx_sync_mutations_disposition ON sync_mutations(target_key, disposition, seq)`)
	w.exec(`PRAGMA user_version = 7`)
}

func (w *world) userVersion() int {
	w.t.Helper()
	return w.count(`PRAGMA user_version`)
}

// Run on the v1 lines only: v3 has its own disposition columns (v3_test.go).
func TestEngramV2Shape(t *testing.T) {
	eachVersionOf(t, []engram.Version{engram.V1163, engram.V117}, func(t *testing.T, w *world) {
		engramV2(w)
		w.session("s1", "alpha")
		a, b, c := w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
		w.enroll("alpha")
		backfilled := w.semantic(a, b, semVerdict("related")) // v1.17 journals it, v1.16.3 not
		before := w.relationRows()

		w.up()
		if got := w.userVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Up: %d", got)
		}
		wantBackfill := 0
		if w.s.Version == engram.V1163 {
			wantBackfill = 1
		}
		if got := w.relationRows() - before; got != wantBackfill {
			t.Fatalf("the backfill wrote %d rows, want %d", got, wantBackfill)
		}
		w.expectRows(backfilled, 1)

		rel := w.pending(b, c)
		w.judge(rel, verdict()) // the triggers, with engram's own row where it writes one
		w.expectRows(rel, 1)
		w.semantic(b, a, semVerdict("compatible"))
		w.expectRows(backfilled, 2)

		if n := w.count(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation'
			AND (disposition IS NOT 'pending' OR disposition_reason IS NOT NULL)`); n != 0 {
			t.Errorf("%d relation rows without engram v2's defaults", n)
		}
		if rep := w.verify(); !rep.OK() {
			t.Fatalf("Verify: %+v", rep)
		}

		w.must(Down(w.ctx, w.db()))
		if got := w.userVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Down: %d", got)
		}
		w.up()
		if got := w.userVersion(); got != engramV2UserVersion {
			t.Fatalf("user_version after Up, Down, Up: %d", got)
		}
		w.expectRows(rel, 1)
		if rep := w.verify(); !rep.OK() {
			t.Fatalf("Verify after Up, Down, Up: %+v", rep)
		}
	})
}
