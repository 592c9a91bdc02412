package tools

import (
	"fmt"
	"os/exec"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// The stock goose CLI and relsync's embedded migrations: either may install, the other then agrees.

func TestEmbeddedUpThenGooseCLIAgree(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	w.Up()
	latest := version(w)
	versionRows := func() int { return w.Count(`SELECT count(*) FROM ` + relsync.VersionTable) }
	rows, marks := w.RelationRows(), versionRows()

	// goose reads its driver, database and table from the environment too: goose.sh ignores them.
	foreign := []string{"GOOSE_DRIVER=postgres", "GOOSE_DBSTRING=host=nowhere", "GOOSE_TABLE=goose_db_version"}
	expectGooseStatus(t, testtools.GooseScriptEnv(t, foreign, w.Path, "status"), int(latest))
	r := testtools.GooseScript(t, "--no-backup", w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up after relsync.Up", r, 0, fmt.Sprintf("relsync is up to date (version %d", latest),
		"nothing to do, no backup written")
	if w.RelationRows() != rows || versionRows() != marks {
		t.Fatal("goose up applied again what relsync.Up had applied")
	}

	r = testtools.GooseScript(t, "--no-backup", w.Path, "down")
	testtools.ExpectOutput(t, "goose.sh down", r, 0)
	if v, want := version(w), checkoutPrevious(t); v != want {
		t.Fatalf("relsync.Version after goose down: %d, want %d", v, want)
	}
	w.Up()
	if v := version(w); v != latest {
		t.Fatalf("relsync.Up after goose down: version %d", v)
	}
	if rep := w.Verify(); !rep.OK() || w.RelationRows() != rows {
		t.Fatalf("after goose down and relsync.Up: %+v, %d rows, want %d", rep, w.RelationRows(), rows)
	}
	expectGooseStatus(t, testtools.GooseScript(t, w.Path, "status"), int(latest))
}

func TestGooseCLIUpThenEmbeddedAgree(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	latest := checkoutLatest(t)
	r := testtools.GooseScript(t, "--no-backup", w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up", r, 0)
	cur, buildLatest, err := relsync.Version(w.Ctx, w.DB())
	w.Must(err)
	if cur != latest || buildLatest != latest {
		t.Fatalf("relsync.Version after goose up: %d of %d, want %d", cur, buildLatest, latest)
	}
	m.ExpectJournaled()
	schema, rows := w.Schema(), w.RelationRows()
	w.Up()
	if w.Schema() != schema || w.RelationRows() != rows {
		t.Fatal("relsync.Up after goose up changed the database")
	}
	w.Must(relsync.Down(w.Ctx, w.DB()))
	if v, n := version(w), relsyncObjects(w); v != 0 || n != 0 {
		t.Fatalf("after relsync.Down: version %d, %d relsync objects", v, n)
	}
	if w.RelationRows() != rows {
		t.Fatal("relsync.Down removed journal rows")
	}
	expectGooseStatus(t, testtools.GooseScript(t, w.Path, "status"), 0)
	testtools.ExpectOutput(t, "goose.sh up again", testtools.GooseScript(t, "--no-backup", w.Path, "up"), 0)
	if rep := w.Verify(); !rep.OK() || w.RelationRows() != rows {
		t.Fatalf("after goose up again: %+v, %d rows, want %d", rep, w.RelationRows(), rows)
	}
}

// The README's raw goose command, without goose.sh or relsync's Go: migration 6 journals what the
// install left, in one statement.
func TestRawGooseCLIJournalsEverything(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	dir := testworld.File(t, "migrations")
	out, err := exec.Command(testtools.GooseCLI(t), "-env=none", "-dir", dir, "-table", relsync.VersionTable, "sqlite3",
		"file:"+w.Path+"?mode=rw&_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_txlock=immediate", "up").CombinedOutput()
	if err != nil {
		t.Fatalf("goose up: %v\n%s", err, out)
	}
	m.ExpectJournaled()
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after the raw goose CLI: %+v\n%s", rep, out)
	}
}
