package relsync

import (
	"testing"
)

// Up and Down, three times: Down leaves engram's schema exactly as it was before
// relsync (relsync_db_version aside, which goose keeps), no journal row is ever removed, every Up
// reinstalls the same objects, and Verify is OK after each Up, including for a relation that
// engram wrote unjournaled while relsync was down.

// journal is every sync_mutations row, every column, by seq.
func (w *world) journal() map[int64]string {
	w.t.Helper()
	rs, err := w.db().QueryContext(w.ctx, `SELECT seq, json_array(target_key, entity, entity_key, op,
		payload, source, occurred_at, acked_at, project) FROM sync_mutations`)
	w.must(err)
	defer rs.Close()
	out := map[int64]string{}
	for rs.Next() {
		var seq int64
		var row string
		w.must(rs.Scan(&seq, &row))
		out[seq] = row
	}
	w.must(rs.Err())
	return out
}

// keptRows fails if a row of before is gone or changed in after.
func keptRows(t *testing.T, step string, before, after map[int64]string) {
	t.Helper()
	for seq, row := range before {
		if after[seq] != row {
			t.Fatalf("%s: journal row %d removed or changed: %s -> %q", step, seq, row, after[seq])
		}
	}
}

func TestUpDownThreeTimes(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	engramSchema := w.schemaWithoutRelsync()
	userVersion := w.userVersion()
	var installed string // relsync's objects as the first Up installs them
	var forgotten string // the relation engram wrote unjournaled while relsync was down
	rows := w.journal()
	for cycle := 1; cycle <= 3; cycle++ {
		w.up()
		after := w.journal()
		keptRows(t, "Up", rows, after)
		rows = after
		if forgotten != "" {
			w.expectRows(forgotten, 1)
		}
		objects := w.schema()
		if installed == "" {
			installed = objects
		} else if objects != installed {
			t.Fatalf("cycle %d: Up installed another schema:\n%s\nwant\n%s", cycle, objects, installed)
		}
		if rep := w.verify(); !rep.OK() {
			t.Fatalf("cycle %d: Verify after Up: %+v", cycle, rep)
		}

		w.must(Down(w.ctx, w.db()))
		if got := w.schemaWithoutRelsync(); got != engramSchema {
			t.Fatalf("cycle %d: schema after Down:\n%s\nwant\n%s", cycle, got, engramSchema)
		}
		after = w.journal()
		keptRows(t, "Down", rows, after)
		rows = after

		// While relsync is down, engram v1.16.3 forgets a relation again: the next Up backfills it.
		a, b := w.obs("s1", ptr("alpha")), w.obs("s1", ptr("alpha"))
		forgotten = w.semantic(a, b, semVerdict("related"))
		w.expectCount(forgotten, 0)
		m.missing = append(m.missing, forgotten)
		rows = w.journal()
	}
	if got := w.userVersion(); got != userVersion {
		t.Errorf("user_version %d, was %d", got, userVersion)
	}
	w.up()
	keptRows(t, "last Up", rows, w.journal())
	w.expectRows(forgotten, 1)
	for _, key := range m.missing {
		w.expectCount(key, 1)
	}
	for _, key := range m.never {
		w.expectCount(key, 0)
	}
	if rep := w.verify(); !rep.OK() {
		t.Fatalf("Verify after the last Up: %+v", rep)
	}
	w.checkVerifySQL(true, "OK: relsync is installed")
}
