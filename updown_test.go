package relsync_test

import (
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testworld"
)

// Up and Down, three times: Down leaves engram's schema exactly as it was before
// relsync (relsync_db_version aside, which goose keeps), no journal row is ever removed, every Up
// reinstalls the same objects, and Verify is OK after each Up, including for a relation that
// engram wrote unjournaled while relsync was down.

// journal is every sync_mutations row, every column, by seq.
func journal(w *testworld.World) map[int64]string {
	w.T.Helper()
	rs, err := w.DB().QueryContext(w.Ctx, `SELECT seq, json_array(target_key, entity, entity_key, op,
		payload, source, occurred_at, acked_at, project) FROM sync_mutations`)
	w.Must(err)
	defer rs.Close()
	out := map[int64]string{}
	for rs.Next() {
		var seq int64
		var row string
		w.Must(rs.Scan(&seq, &row))
		out[seq] = row
	}
	w.Must(rs.Err())
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
	m := testworld.BuildMixed(t)
	w := m.W
	engramSchema := w.SchemaWithoutRelsync()
	userVersion := w.UserVersion()
	var installed string // relsync's objects as the first Up installs them
	var forgotten string // the relation engram wrote unjournaled while relsync was down
	rows := journal(w)
	for cycle := 1; cycle <= 3; cycle++ {
		w.Up()
		after := journal(w)
		keptRows(t, "Up", rows, after)
		rows = after
		if forgotten != "" {
			w.ExpectRows(forgotten, 1)
		}
		objects := w.Schema()
		if installed == "" {
			installed = objects
		} else if objects != installed {
			t.Fatalf("cycle %d: Up installed another schema:\n%s\nwant\n%s", cycle, objects, installed)
		}
		if rep := w.Verify(); !rep.OK() {
			t.Fatalf("cycle %d: Verify after Up: %+v", cycle, rep)
		}

		w.Must(relsync.Down(w.Ctx, w.DB()))
		if got := w.SchemaWithoutRelsync(); got != engramSchema {
			t.Fatalf("cycle %d: schema after Down:\n%s\nwant\n%s", cycle, got, engramSchema)
		}
		after = journal(w)
		keptRows(t, "Down", rows, after)
		rows = after

		// While relsync is down, engram v1.16.3 forgets a relation again: the next Up backfills it.
		a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
		forgotten = w.Semantic(a, b, testworld.SemVerdict("related"))
		w.ExpectCount(forgotten, 0)
		m.Missing = append(m.Missing, forgotten)
		rows = journal(w)
	}
	if got := w.UserVersion(); got != userVersion {
		t.Errorf("user_version %d, was %d", got, userVersion)
	}
	w.Up()
	keptRows(t, "last Up", rows, journal(w))
	w.ExpectRows(forgotten, 1)
	for _, key := range m.Missing {
		w.ExpectCount(key, 1)
	}
	for _, key := range m.Never {
		w.ExpectCount(key, 0)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after the last Up: %+v", rep)
	}
	checkVerifySQL(w, true, "OK: relsync is installed")
}
