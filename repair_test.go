package relsync_test

import (
	"context"
	"database/sql"
	"reflect"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// Drift: what happens to relsync's objects when engram's schema moves under them
// after the install, and what Verify reports of it.

// memoryRelationsDDL is engram's memory_relations as its rebuild would recreate it.
const memoryRelationsDDL = `(
    id INTEGER PRIMARY KEY AUTOINCREMENT, sync_id TEXT NOT NULL UNIQUE, source_id TEXT, target_id TEXT,
    relation TEXT NOT NULL DEFAULT 'pending', reason TEXT, evidence TEXT, confidence REAL,
    judgment_status TEXT NOT NULL DEFAULT 'pending', marked_by_actor TEXT, marked_by_kind TEXT,
    marked_by_model TEXT, session_id TEXT, superseded_at TEXT,
    superseded_by_relation_id INTEGER REFERENCES memory_relations(id) ON DELETE SET NULL,
    created_at TEXT NOT NULL DEFAULT (datetime('now')), updated_at TEXT NOT NULL DEFAULT (datetime('now')))`

// classicRebuild is the rebuild-and-rename of SQLite's "other kinds of table schema changes", in
// one transaction: new table, copy, drop the old one, rename the new one into its place.
const classicRebuild = `BEGIN;
CREATE TABLE memory_relations_new ` + memoryRelationsDDL + `;
INSERT INTO memory_relations_new SELECT * FROM memory_relations;
DROP TABLE memory_relations;
ALTER TABLE memory_relations_new RENAME TO memory_relations;
CREATE INDEX idx_memrel_source ON memory_relations(source_id, judgment_status);
COMMIT;`

// installedWithRelation is an enrolled project with relsync installed and one journaled relation.
func installedWithRelation(t *testing.T) (w *testworld.World, a, b, rel string) {
	w = testworld.New(t, engram.V1163)
	a, b = testworld.EnrolledPair(w)
	rel = w.Semantic(a, b, testworld.SemVerdict("related"))
	w.ExpectRows(rel, 1)
	return w, a, b, rel
}

// drift is Verify's objects that are not "ok", by name.
func drift(rep relsync.Report) map[string]string {
	out := map[string]string{}
	for _, o := range rep.Objects {
		if o.State != "ok" {
			out[o.Name] = string(o.State)
		}
	}
	return out
}

// expectDrift checks that Verify finds exactly the drifted objects want (name -> state) and is not
// OK, when, after what, relsync's objects drifted.
func expectDrift(w *testworld.World, when string, want map[string]string) {
	w.T.Helper()
	rep := w.Verify()
	if d := drift(rep); !reflect.DeepEqual(d, want) {
		w.T.Fatalf("Verify %s: %v, want %v", when, d, want)
	}
	if rep.OK() {
		w.T.Fatalf("Verify says OK %s", when)
	}
}

// With SQLite's default ALTER TABLE (3.26+), RENAME first checks every view and trigger of the
// schema, and relsync's views and triggers name memory_relations, gone since the DROP: the rebuild
// fails and its transaction rolls back. relsync thus makes engram's classic rebuild of
// memory_relations fail. Down before the rebuild and Up after it is the way through.
func TestClassicRebuildFailsWhileRelsyncIsInstalled(t *testing.T) {
	w, a, b, rel := installedWithRelation(t)
	_, err := w.DB().ExecContext(w.Ctx, classicRebuild)
	if err == nil {
		t.Fatal("the rebuild succeeded: relsync's views no longer block it, update this test and the README")
	}
	w.Exec(`ROLLBACK`)
	if !strings.Contains(err.Error(), "relsync_") {
		t.Errorf("the rebuild's error %q does not name the relsync object in its way", err)
	}
	if d := drift(w.Verify()); len(d) != 0 {
		t.Fatalf("after the failed rebuild: %v", d)
	}

	w.Must(relsync.Down(w.Ctx, w.DB()))
	w.Exec(classicRebuild)
	w.Up()
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Down, rebuild, Up: %+v", rep)
	}
	w.Semantic(b, a, testworld.SemVerdict("compatible")) // the same pair: an update of rel
	w.ExpectRows(rel, 2)
}

// With PRAGMA legacy_alter_table=ON the classic rebuild goes through, and SQLite drops the old
// table's triggers with it: relsync's views now read the new table, but nothing journals.
func TestDriftRebuildDropsTriggers(t *testing.T) {
	w, _, _, rel := installedWithRelation(t)
	legacyRebuild(w)
	expectDrift(w, "after the rebuild", map[string]string{"relsync_relation_ai": "missing", "relsync_relation_au": "missing"})
	w.ExpectRows(rel, 1) // the rows already written stay
	checkVerifySQL(w, false, "relsync_relation_ai", "relsync_relation_au", "missing",
		"NOT OK: 2 relsync object(s) missing, changed or unexpected")
}

func legacyRebuild(w *testworld.World) {
	w.T.Helper()
	w.Exec(`PRAGMA legacy_alter_table = ON`)
	w.Exec(classicRebuild)
	w.Exec(`PRAGMA legacy_alter_table = OFF`)
}

// renameAwayRebuild is the other common rebuild: the old table renamed away first, then a new one
// created, filled and the old one dropped, in one transaction.
func renameAwayRebuild(w *testworld.World) {
	w.T.Helper()
	w.Exec(`BEGIN;
ALTER TABLE memory_relations RENAME TO memory_relations_old;
CREATE TABLE memory_relations ` + memoryRelationsDDL + `;
INSERT INTO memory_relations SELECT * FROM memory_relations_old;
DROP TABLE memory_relations_old;
COMMIT;`)
}

// The other common rebuild renames the old table away first. SQLite then rewrites every view and
// trigger body that names memory_relations to name the old table, and the DROP of that table takes
// relsync's triggers on it along. Every relsync object that read memory_relations now reads a
// table that does not exist: Verify sees them changed, and the counting views fail.
func TestDriftRenameAwayRebuild(t *testing.T) {
	w, _, b, _ := installedWithRelation(t)
	renameAwayRebuild(w)
	rep, err := relsync.Verify(w.Ctx, w.DB())
	t.Logf("Verify's error: %v", err)
	d := drift(rep)
	for _, name := range []string{"relsync_relation_ai", "relsync_relation_au"} {
		if d[name] != "missing" {
			t.Errorf("%s: %q, want missing", name, d[name])
		}
	}
	for _, name := range []string{"relsync_relation_eligible", "relsync_outbox_payload", "relsync_observation_au", "relsync_session_au"} {
		if d[name] != "changed" {
			t.Errorf("%s: %q, want changed", name, d[name])
		}
	}
	if rep.OK() {
		t.Fatal("Verify says OK")
	}
	checkVerifySQL(w, false, "relsync_relation_ai", "relsync_relation_eligible", "changed", "memory_relations_old")
	// relsync_observation_au, rewritten to read the dropped table, now fails engram's own writes
	// to observations until relsync is repaired or removed.
	_, err = w.DB().ExecContext(w.Ctx, `UPDATE observations SET deleted_at = datetime('now') WHERE sync_id = ?`, b)
	if err == nil || !strings.Contains(err.Error(), "memory_relations_old") {
		t.Fatalf("engram's soft delete after the rebuild: %v, want the dangling trigger's error", err)
	}
	t.Logf("engram's soft delete fails: %v", err)

	// Down removes the dangling objects (DROP … IF EXISTS needs nothing they name), and Up
	// installs them afresh on the new table.
	w.Must(relsync.Down(w.Ctx, w.DB()))
	_, err = w.DB().ExecContext(w.Ctx, `UPDATE observations SET deleted_at = datetime('now') WHERE sync_id = ?`, b)
	w.Must(err)
	w.Up()
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Down and Up after the rebuild: %+v", rep)
	}
}

// A trigger dropped and recreated with another body, and a relsync_* object relsync never made.
func TestDriftChangedTrigger(t *testing.T) {
	w, a, b, rel := installedWithRelation(t)
	w.Exec(`DROP TRIGGER relsync_relation_au`)
	w.Exec(`CREATE TRIGGER relsync_relation_au AFTER UPDATE ON memory_relations BEGIN SELECT 1; END`)
	w.Exec(`CREATE VIEW relsync_extra AS SELECT 1 AS one`)
	expectDrift(w, "with a changed trigger", map[string]string{"relsync_relation_au": "changed", "relsync_extra": "unexpected"})
	checkVerifySQL(w, false, "relsync_relation_au", "changed", "relsync_extra", "unexpected")
	w.Semantic(b, a, testworld.SemVerdict("compatible"))
	w.ExpectCount(rel, 1) // the changed trigger journals nothing: why it must be reported
}

// A column engram adds to memory_relations after this release: the payload does not carry it.
func TestDriftAddedColumn(t *testing.T) {
	w, _, _, _ := installedWithRelation(t)
	w.Exec(`ALTER TABLE memory_relations ADD COLUMN weight REAL`)
	rep := w.Verify()
	if !reflect.DeepEqual(rep.UnjournaledColumns, []string{"weight"}) {
		t.Fatalf("UnjournaledColumns: %v, want [weight]", rep.UnjournaledColumns)
	}
	if d := drift(rep); len(d) != 0 {
		t.Errorf("ADD COLUMN changed relsync objects: %v", d)
	}
	if rep.OK() {
		t.Fatal("Verify says OK with a column the payload does not carry")
	}
	checkVerifySQL(w, false, "memory_relations columns the payload does not carry: weight")
}

// Journal rows left behind for relations that no longer exist (engram never deletes a relation;
// a hand cleanup or a lossy rebuild does).
func TestDriftOrphanJournalRows(t *testing.T) {
	w, a, b, rel := installedWithRelation(t)
	w.Semantic(b, a, testworld.SemVerdict("compatible"))
	w.ExpectRows(rel, 2)
	kept := w.Semantic(a, w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
	if n := w.Verify().OrphanRows; n != 0 {
		t.Fatalf("OrphanRows before: %d", n)
	}
	_, err := w.DB().ExecContext(w.Ctx, `DELETE FROM memory_relations WHERE sync_id = ?`, rel)
	w.Must(err)
	rep := w.Verify()
	if rep.OrphanRows != 2 {
		t.Fatalf("OrphanRows: %d, want the deleted relation's 2 rows", rep.OrphanRows)
	}
	if d := drift(rep); len(d) != 0 {
		t.Errorf("objects: %v", d)
	}
	w.ExpectRows(kept, 1)
	// Reported, not a failure: the rows still push, and Verify.OK ignores them too.
	checkVerifySQL(w, true, "Journal rows whose relation is gone: 2")
}

// Up, at every open, finds relsync's objects dropped or rewritten by a rebuild of
// memory_relations, recreates them from what it recorded, and journals the relations written while
// the triggers were gone. Then the triggers journal again.
func TestUpRepairsAfterRebuild(t *testing.T) {
	rebuilds := map[string]func(w *testworld.World){
		"legacy alter table": legacyRebuild,
		"rename away":        renameAwayRebuild,
	}
	for name, rebuild := range rebuilds {
		t.Run(name, func(t *testing.T) {
			w, a, b, _ := installedWithRelation(t)
			rebuild(w)
			// Written while relsync's triggers are gone: no row yet. (Only memory_relations is
			// written: after the rename-away rebuild, relsync's dangling objects fail engram's
			// journal writes until Up repairs them, which engram's open does right after its
			// schema pass.)
			missed := w.Pending(b, a)
			_, err := w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET judgment_status = 'judged',
				relation = 'related', marked_by_actor = 'claude', marked_by_kind = 'agent',
				updated_at = datetime('now') WHERE sync_id = ?`, missed)
			w.Must(err)
			w.ExpectCount(missed, 0)
			w.Up()
			if rep := w.Verify(); !rep.OK() {
				t.Fatalf("after Up: %v %+v", drift(rep), rep.Projects)
			}
			w.ExpectRows(missed, 1)
			after := w.Semantic(a, w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
			w.ExpectRows(after, 1)
		})
	}
}

// BenchmarkDriftCheckAtOpen measures what checking relsync's objects would add to Up at every
// open: Up's no-op read alone, and the comparison of sqlite_master with relsync_objects.
func BenchmarkDriftCheckAtOpen(b *testing.B) {
	path := b.TempDir() + "/engram.db"
	db, err := engram.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if err := relsync.Up(ctx, db); err != nil {
		b.Fatal(err)
	}
	b.Run("UpNoop", func(b *testing.B) {
		for b.Loop() {
			if err := relsync.Up(ctx, db); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ObjectState", func(b *testing.B) {
		for b.Loop() {
			if n := countNotOK(ctx, b, db); n != 0 {
				b.Fatalf("%d objects drifted", n)
			}
		}
	})
}

func countNotOK(ctx context.Context, b *testing.B, db *sql.DB) int {
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM relsync_object_state WHERE state <> 'ok'`).Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// checkVerifySQL runs scripts/verify.sql in the real sqlite3 shell on the world's file and checks
// its verdict (exit 0, or 1 for NOT OK) and that its output has each of want. It is a subtest of
// its own: without the shell it skips (fails under RELSYNC_REQUIRE_TOOLS=1), the Go checks still run.
func checkVerifySQL(w *testworld.World, wantOK bool, want ...string) {
	w.T.Helper()
	code := 1
	if wantOK {
		code = 0
	}
	w.T.(*testing.T).Run("verify.sql", func(t *testing.T) {
		testtools.ExpectOutput(t, "verify.sql", testtools.VerifySQL(t, w.Path), code, want...)
	})
}

// Without relsync_objects, Up has nothing to compare relsync's objects with: engram's open must
// still succeed.
func TestUpWithoutTheObjectRecord(t *testing.T) {
	w, _, _, _ := installedWithRelation(t)
	w.Exec(`DROP TABLE relsync_objects`)
	w.Up()
}
