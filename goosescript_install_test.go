package relsync

import (
	"path/filepath"
	"strings"
	"testing"
)

// goose.sh status and version write nothing, even where relsync's version table does not exist yet
// (goose would create it); the database and its WAL keep every byte.
func TestGooseScriptStatusWritesNothing(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	for _, cmd := range []string{"status", "version"} {
		db, wal := fileBytes(t, w.path)
		r := gooseScript(t, w.path, cmd)
		expectOutput(t, "goose.sh "+cmd+" before the install", r, 0, "relsync is not installed")
		if db2, wal2 := fileBytes(t, w.path); db2 != db || wal2 != wal {
			t.Errorf("goose.sh %s changed the database before the install", cmd)
		}
	}
	if n := w.count(`SELECT count(*) FROM sqlite_master WHERE name = ?`, VersionTable); n != 0 {
		t.Fatalf("goose.sh status created %s", VersionTable)
	}
	w.up()
	for _, cmd := range []string{"status", "version"} {
		db, wal := fileBytes(t, w.path)
		r := gooseScript(t, w.path, cmd)
		expectOutput(t, "goose.sh "+cmd, r, 0)
		if db2, wal2 := fileBytes(t, w.path); db2 != db || wal2 != wal {
			t.Errorf("goose.sh %s changed the database (file %v, WAL %v: %d -> %d bytes)", cmd, db2 != db, wal2 != wal, len(wal), len(wal2))
		}
	}
}

// goose.sh up backs up only before a change, and repairs what drifted (a dropped trigger and the
// relations written while it was gone) instead of saying "no migrations to run".
func TestGooseScriptUpBacksUpOnlyBeforeAChange(t *testing.T) {
	m := buildMixed(t)
	w := m.w
	backups := func() int {
		b, err := filepath.Glob(w.path + ".relsync-backup-*")
		w.must(err)
		return len(b)
	}
	expectOutput(t, "goose.sh up", gooseScript(t, w.path, "up"), 0, "Backup of ")
	for _, key := range m.missing {
		w.expectRows(key, 1)
	}
	r := gooseScript(t, w.path, "up")
	expectOutput(t, "goose.sh up again", r, 0, "nothing to do, no backup written")
	if strings.Contains(r.stdout, "Backup of") || backups() != 1 {
		t.Fatalf("an up with nothing to do wrote a backup (%d in all):\n%v", backups(), r)
	}

	w.exec(`DROP TRIGGER relsync_relation_ai`)
	w.session("s9", "alpha")
	rel := w.semantic(w.obs("s9", ptr("alpha")), w.obs("s9", ptr("alpha")), semVerdict("related"))
	w.expectCount(rel, 0)
	r = gooseScript(t, w.path, "up")
	expectOutput(t, "goose.sh up after a dropped trigger", r, 0, "Backup of ", "Recreating 1 relsync object(s)")
	w.expectRows(rel, 1)
	if rep := w.verify(); !rep.OK() || backups() != 2 {
		t.Fatalf("after goose.sh up: %+v, %d backups", rep, backups())
	}
}
