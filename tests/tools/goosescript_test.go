package tools

import (
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// scripts/goose.sh: it refuses what goose would spoil, copes with awkward paths and open files,
// writes nothing for status, backs up only before a change, and waits for relsync's lock.

func TestGooseScriptRefusesWhatGooseWouldSpoil(t *testing.T) {
	dir := t.TempDir()
	for _, c := range testworld.RefusedFiles(t, dir) {
		for _, cmd := range []string{"up", "status", "down"} {
			t.Run(c.Name+"/"+cmd, func(t *testing.T) {
				var r testtools.Result
				testworld.Unchanged(t, dir, func() { r = testtools.GooseScript(t, c.Path, cmd) })
				testtools.ExpectOutput(t, "goose.sh "+cmd, r, 1, c.Want, "goose.sh: refusing to run goose on")
				if strings.Contains(r.Stdout, "Backup") {
					t.Errorf("a backup was written of a refused file:\n%v", r)
				}
			})
		}
	}
	t.Run("unsupported command", func(t *testing.T) {
		w := testworld.New(t, engram.V1163)
		before, _ := os.ReadDir(testworld.File(t, "migrations"))
		r := testtools.GooseScript(t, w.Path, "create", "evil", "sql")
		testtools.ExpectOutput(t, "goose.sh create", r, 1, "unsupported goose command 'create'")
		if after, _ := os.ReadDir(testworld.File(t, "migrations")); len(after) != len(before) {
			t.Errorf("goose create wrote into migrations/")
		}
	})
}

// fileDSN opens any path through a file: URI, as a second engram process would; engram's own plain
// path cannot name a file whose path holds '?'.
func fileDSN(path string) string {
	return (&url.URL{Scheme: "file", Path: path}).String() +
		"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(ON)"
}

func TestGooseScriptMigratesAnAwkwardPathWhileEngramHasItOpen(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	plain := w.Path
	w.DB().Close()
	dir := filepath.Join(t.TempDir(), `dir with spaces 'single' "double" #hash ?q %25`)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "engram é.db")
	if err := os.Rename(plain, path); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open(engram.DriverName, fileDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	w = &testworld.World{T: t, Ctx: w.Ctx, Path: path, S: &engram.Store{DB: db, Version: engram.V1163}}
	m.W = w // the same database, moved and opened again
	before := w.RelationRows()
	latest := checkoutLatest(t)

	r := testtools.GooseScript(t, path, "up")
	testtools.ExpectOutput(t, "goose.sh up", r, 0, "Backup of "+path+" written to ",
		fmt.Sprintf("successfully migrated database to version: %d", latest-1), // goose installs, short of the backfill
		fmt.Sprintf("relsync is at version %d", latest))
	backup := regexp.MustCompile(`written to (.*)\n`).FindStringSubmatch(r.Stdout)
	if backup == nil || filepath.Dir(backup[1]) != dir {
		t.Fatalf("no backup beside the database:\n%v", r)
	}
	copyDB, err := sql.Open(engram.DriverName, fileDSN(backup[1]))
	if err != nil {
		t.Fatal(err)
	}
	defer copyDB.Close()
	if cur, _, err := relsync.Version(w.Ctx, copyDB); err != nil || cur != 0 {
		t.Errorf("the backup has relsync version %d (%v): not taken before the migration", cur, err)
	}

	// engram's connection, open since before goose ran, sees the install.
	m.ExpectNewRows(before, "goose up")
	m.ExpectBackfilled()
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after goose up: %+v", rep)
	}
	rel := m.JudgeNew()
	w.ExpectRows(rel, 1)

	expectGooseStatus(t, testtools.GooseScript(t, path, "status"), int(latest))

	rows := w.RelationRows()
	r = testtools.GooseScript(t, path, "down")
	testtools.ExpectOutput(t, "goose.sh down", r, 0, "Backup of ", "journal rows stay")
	if v, want := version(w), checkoutPrevious(t); v != want {
		t.Fatalf("after down: version %d, want %d", v, want)
	}
	r = testtools.GooseScript(t, "--no-backup", path, "down-to", "0")
	testtools.ExpectOutput(t, "goose.sh down-to 0", r, 0, "journal rows stay")
	if strings.Contains(r.Stdout, "Backup") {
		t.Errorf("--no-backup wrote a backup:\n%v", r)
	}
	if v, n := version(w), relsyncObjects(w); v != 0 || n != 0 {
		t.Fatalf("after down-to 0: version %d, %d relsync objects", v, n)
	}
	if w.RelationRows() != rows {
		t.Fatal("down removed journal rows")
	}
}

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
	rel := m.JudgeNew()
	w.ExpectCount(rel, 0)
	r = testtools.GooseScript(t, w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up after a dropped trigger", r, 0, "Backup of ", "Recreating 1 relsync object(s)")
	w.ExpectRows(rel, 1)
	if rep := w.Verify(); !rep.OK() || backups() != 2 {
		t.Fatalf("after goose.sh up: %+v, %d backups", rep, backups())
	}
}

// goose has no SQLite locker: goose.sh runs goose under the lock file relsync.Up takes, so the
// terminal and engram's processes never install at once.
func TestGooseScriptWaitsForRelsyncLock(t *testing.T) {
	testtools.NeedTool(t, "flock")
	w := testworld.New(t, engram.V1163)
	lock := flock.New(w.Path + relsync.LockFileSuffix)
	if err := lock.Lock(); err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	env := []string{"RELSYNC_LOCK_WAIT=1"}
	r := testtools.GooseScriptEnv(t, env, "--no-backup", w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up while relsync's lock is held", r, 1, "another process holds "+w.Path+relsync.LockFileSuffix)
	if v := version(w); v != 0 {
		t.Fatalf("goose migrated to %d while the lock was held", v)
	}
	lock.Unlock()
	r = testtools.GooseScriptEnv(t, env, "--no-backup", w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up after the lock was released", r, 0)
	if v := version(w); v != checkoutLatest(t) {
		t.Fatalf("version %d after goose up", v)
	}
}
