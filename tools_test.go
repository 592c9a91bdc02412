package relsync_test

import (
	"database/sql"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gofrs/flock"
	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// relsync from the terminal: scripts/goose.sh with the real goose CLI at the version go.mod pins, and
// scripts/verify.sql in the real sqlite3 shell, on real files that engram keeps open meanwhile.

// migrationNames are the files goose sees in migrations/.
func migrationNames(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(relsync.Migrations(), "*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("migrations: %v %v", names, err)
	}
	return names
}

// gooseStatus reads `goose status`: migration file -> applied.
func gooseStatus(t *testing.T, r testtools.Result) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, line := range strings.Split(r.Stdout+r.Stderr, "\n") {
		if _, name, ok := strings.Cut(line, " -- "); ok && strings.HasSuffix(name, ".sql") {
			out[name] = !strings.Contains(line, "Pending")
		}
	}
	return out
}

// expectGooseStatus checks that goose lists every migration, the first applied of them applied.
func expectGooseStatus(t *testing.T, r testtools.Result, applied int) {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("goose status: %v", r)
	}
	got := gooseStatus(t, r)
	for i, name := range migrationNames(t) {
		if a, ok := got[name]; !ok || a != (i < applied) {
			t.Errorf("goose status: %s listed %v, applied %v; want applied %v\n%v", name, ok, a, i < applied, r)
		}
	}
}

func version(w *testworld.World) int64 {
	w.T.Helper()
	cur, _, err := relsync.Version(w.Ctx, w.DB())
	w.Must(err)
	return cur
}

func checkoutLatest(t *testing.T) int64 {
	t.Helper()
	names := migrationNames(t)
	v, err := strconv.ParseInt(strings.SplitN(names[len(names)-1], "_", 2)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// checkoutPrevious is the version one goose down leaves: the migration before the newest, or 0.
func checkoutPrevious(t *testing.T) int64 {
	t.Helper()
	names := migrationNames(t)
	if len(names) < 2 {
		return 0
	}
	v, err := strconv.ParseInt(strings.SplitN(names[len(names)-2], "_", 2)[0], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func relsyncObjects(w *testworld.World) int {
	return w.Count(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'relsync%' AND name <> ?`, relsync.VersionTable)
}

func TestGooseScriptRefusesWhatGooseWouldSpoil(t *testing.T) {
	dir := t.TempDir()
	text := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(text, []byte(strings.Repeat("not sqlite\n", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other.db")
	db := testworld.OpenPlain(t, other)
	if _, err := db.Exec(`CREATE TABLE memory_relations (id INTEGER PRIMARY KEY, sync_id TEXT)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	for _, c := range []struct{ name, path, want string }{
		{"missing", filepath.Join(dir, "nothere.db"), "no such file (goose would create an empty database there)"},
		{"not sqlite", text, "notes.txt is not an SQLite database"},
		{"not engram", other, "not an engram database (or one older than relsync supports): missing column memory_relations.source_id"},
	} {
		for _, cmd := range []string{"up", "status", "down"} {
			t.Run(c.name+"/"+cmd, func(t *testing.T) {
				var r testtools.Result
				unchanged(t, dir, func() { r = testtools.GooseScript(t, c.path, cmd) })
				testtools.ExpectOutput(t, "goose.sh "+cmd, r, 1, c.want, "goose.sh: refusing to run goose on")
				if strings.Contains(r.Stdout, "Backup") {
					t.Errorf("a backup was written of a refused file:\n%v", r)
				}
			})
		}
	}
	t.Run("unsupported command", func(t *testing.T) {
		w := testworld.New(t, engram.V1163)
		before, _ := os.ReadDir("migrations")
		r := testtools.GooseScript(t, w.Path, "create", "evil", "sql")
		testtools.ExpectOutput(t, "goose.sh create", r, 1, "unsupported goose command 'create'")
		if after, _ := os.ReadDir("migrations"); len(after) != len(before) {
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
	m := testworld.BuildMixed(t)
	plain := m.W.Path
	m.W.DB().Close()
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
	w := &testworld.World{T: t, Ctx: m.W.Ctx, Path: path, S: &engram.Store{DB: db, Version: engram.V1163}}
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
	if got := w.RelationRows() - before; got != len(m.Missing) {
		t.Fatalf("goose up journaled %d relations, want %d", got, len(m.Missing))
	}
	for _, key := range m.Missing {
		w.ExpectRows(key, 1)
	}
	for _, key := range m.Never {
		w.ExpectCount(key, 0)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after goose up: %+v", rep)
	}
	w.Session("s9", "alpha")
	rel := w.Semantic(w.Obs("s9", testworld.Ptr("alpha")), w.Obs("s9", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
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

func TestEmbeddedUpThenGooseCLIAgree(t *testing.T) {
	m := testworld.BuildMixed(t)
	w := m.W
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
	m := testworld.BuildMixed(t)
	w := m.W
	latest := checkoutLatest(t)
	r := testtools.GooseScript(t, "--no-backup", w.Path, "up")
	testtools.ExpectOutput(t, "goose.sh up", r, 0)
	cur, buildLatest, err := relsync.Version(w.Ctx, w.DB())
	w.Must(err)
	if cur != latest || buildLatest != latest {
		t.Fatalf("relsync.Version after goose up: %d of %d, want %d", cur, buildLatest, latest)
	}
	for _, key := range m.Missing {
		w.ExpectRows(key, 1)
	}
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

func TestVerifySQLNotInstalled(t *testing.T) {
	m := testworld.BuildMixed(t)
	r := testtools.VerifyUnchanged(t, m.W)
	testtools.ExpectOutput(t, "verify.sql", r, 1, "relsync is not installed in this database", "go run ./cmd/relsync up <db>")
}

func TestVerifySQLHealthy(t *testing.T) {
	m := testworld.BuildMixed(t)
	m.W.Up()
	r := testtools.VerifyUnchanged(t, m.W)
	testtools.ExpectOutput(t, "verify.sql", r, 0, fmt.Sprintf("relsync version %d installed\n", checkoutLatest(t)),
		"objects as relsync installed them",
		"OK: relsync is installed as it should be, and every relation that belongs in the journal has its row")
	if strings.Contains(r.Stdout, "Missing") || strings.Contains(r.Stdout, "this checkout has") {
		t.Errorf("healthy database reported a problem:\n%v", r)
	}
	testtools.ExpectSameAsVerify(t, m.W, r)
}

func TestVerifySQLMissingRows(t *testing.T) {
	m := testworld.BuildMixed(t)
	w := m.W
	w.Up()
	gone := m.Missing[0]
	w.Exec(`DELETE FROM sync_mutations WHERE entity = 'relation' AND entity_key = '` + gone + `'`)
	r := testtools.VerifyUnchanged(t, w)
	testtools.ExpectOutput(t, "verify.sql", r, 1, "Missing journal rows (up to 20 sync_ids per project):", gone,
		"NOT OK: 1 relation(s) without their journal row")
	testtools.ExpectSameAsVerify(t, w, r)
}

func TestVerifySQLDrifted(t *testing.T) {
	m := testworld.BuildMixed(t)
	w := m.W
	w.Up()
	w.Exec(`DROP TRIGGER relsync_relation_ai`)
	w.Session("s9", "alpha")
	rel := w.Semantic(w.Obs("s9", testworld.Ptr("alpha")), w.Obs("s9", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
	r := testtools.VerifyUnchanged(t, w)
	testtools.ExpectOutput(t, "verify.sql", r, 1, "relsync_relation_ai  trigger  missing", rel,
		"NOT OK: 1 relsync object(s) missing, changed or unexpected; 1 relation(s) without their journal row")
	testtools.ExpectSameAsVerify(t, w, r)
}

func TestVerifySQLBehindThisCheckout(t *testing.T) {
	m := testworld.BuildMixed(t)
	latest := checkoutLatest(t)
	testworld.InstallPrerelease(t, m.W.DB(), 4)
	r := testtools.VerifyUnchanged(t, m.W)
	testtools.ExpectOutput(t, "verify.sql", r, 1,
		fmt.Sprintf("relsync version 4 installed (this checkout has version %d)", latest),
		fmt.Sprintf("NOT OK: relsync is at version 4, this checkout has %d", latest))
}

// With no process left on the file, the shell is the last connection to close: SQLite would then
// checkpoint the WAL into the database and delete it, unless told not to.
func TestVerifySQLChangesNoFileWhenAlone(t *testing.T) {
	m := testworld.BuildMixed(t)
	w := m.W
	w.Up()
	// A crash image: the database and its unmerged WAL, with no process holding them.
	crashed := filepath.Join(t.TempDir(), "engram.db")
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(w.Path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(crashed+suffix, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, wal := testtools.FileBytes(t, crashed)
	if wal == "" {
		t.Fatal("no WAL to keep")
	}
	testtools.ExpectOutput(t, "verify.sql on a crash image", testtools.VerifySQL(t, crashed), 0, "OK: relsync is installed")
	if db2, wal2 := testtools.FileBytes(t, crashed); db2 != db || wal2 != wal {
		t.Error("verify.sql changed the crash image or its WAL")
	}

	// Closed cleanly: no WAL. The shell may leave an empty one behind, never a change.
	w.DB().Close()
	db, wal = testtools.FileBytes(t, w.Path)
	if wal != "" {
		t.Fatal("engram's close left a WAL")
	}
	testtools.ExpectOutput(t, "verify.sql on a closed file", testtools.VerifySQL(t, w.Path), 0, "OK: relsync is installed")
	if db2, wal2 := testtools.FileBytes(t, w.Path); db2 != db || wal2 != "" {
		t.Error("verify.sql changed the closed database or wrote a WAL")
	}
}

// verify.sql cannot list migrations/, so it names the newest version itself.
func TestVerifySQLKnowsTheNewestMigration(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("scripts", "verify.sql"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) AS latest`).FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/verify.sql names no latest version")
	}
	if got, want := string(m[1]), strconv.FormatInt(checkoutLatest(t), 10); got != want {
		t.Fatalf("scripts/verify.sql says the newest migration is %s, migrations/ has %s: update its `AS latest`", got, want)
	}
}

// verify.sql lists as many missing sync_ids per project as Verify does (MissingSampleSize).
func TestVerifySQLSampleSizeIsVerifys(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("scripts", "verify.sql"))
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.Itoa(relsync.MissingSampleSize)
	for _, re := range []string{`\(up to (\d+) sync_ids per project\)`, `AND n <= (\d+) AND`} {
		m := regexp.MustCompile(re).FindSubmatch(script)
		if m == nil {
			t.Fatalf("scripts/verify.sql has no %s", re)
		}
		if string(m[1]) != want {
			t.Errorf("scripts/verify.sql samples %s sync_ids (%s), Verify %s", m[1], re, want)
		}
	}
}
