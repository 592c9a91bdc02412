package tools

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// goose.sh status and version write nothing, even where relsync's version table does not exist yet
// (goose would create it); the database and its WAL keep every byte.
func TestGooseScriptStatusWritesNothing(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	for _, cmd := range []string{"status", "version"} {
		db, wal := testtools.FileBytes(t, w.Path)
		r := testtools.GooseScript(t, w.Path, cmd)
		testtools.ExpectOutput(t, "goose.sh "+cmd+" before the install", r, 0, "relsync is not installed")
		if db2, wal2 := testtools.FileBytes(t, w.Path); db2 != db || wal2 != wal {
			t.Errorf("goose.sh %s changed the database before the install", cmd)
		}
	}
	if n := w.Count(`SELECT count(*) FROM sqlite_master WHERE name = ?`, relsync.VersionTable); n != 0 {
		t.Fatalf("goose.sh status created %s", relsync.VersionTable)
	}
	w.Up()
	for _, cmd := range []string{"status", "version"} {
		db, wal := testtools.FileBytes(t, w.Path)
		r := testtools.GooseScript(t, w.Path, cmd)
		testtools.ExpectOutput(t, "goose.sh "+cmd, r, 0)
		if db2, wal2 := testtools.FileBytes(t, w.Path); db2 != db || wal2 != wal {
			t.Errorf("goose.sh %s changed the database (file %v, WAL %v: %d -> %d bytes)", cmd, db2 != db, wal2 != wal, len(wal), len(wal2))
		}
	}
}

// goose.sh up backs up only before a change, and repairs what drifted (a dropped trigger and the
// relations written while it was gone) instead of saying "no migrations to run".
func TestGooseScriptUpBacksUpOnlyBeforeAChange(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	backups := func() int {
		b, err := filepath.Glob(w.Path + ".relsync-backup-*")
		w.Must(err)
		return len(b)
	}
	testtools.ExpectOutput(t, "goose.sh up", testtools.GooseScript(t, w.Path, "up"), 0, "Backup of ")
	m.ExpectJournaled()
	r := testtools.GooseScript(t, w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up again", r, 0, "nothing to do, no backup written")
	if strings.Contains(r.Stdout, "Backup of") || backups() != 1 {
		t.Fatalf("an up with nothing to do wrote a backup (%d in all):\n%v", backups(), r)
	}

	w.Exec(`DROP TRIGGER relsync_relation_ai`)
	w.Session("s9", "alpha")
	rel := w.Semantic(w.Obs("s9", testworld.Ptr("alpha")), w.Obs("s9", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
	w.ExpectCount(rel, 0)
	r = testtools.GooseScript(t, w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up after a dropped trigger", r, 0, "Backup of ", "Recreating 1 relsync object(s)")
	w.ExpectRows(rel, 1)
	if rep := w.Verify(); !rep.OK() || backups() != 2 {
		t.Fatalf("after goose.sh up: %+v, %d backups", rep, backups())
	}
}
