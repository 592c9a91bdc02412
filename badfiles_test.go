package relsync_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/sqlitecode"
	"github.com/relsync/relsync/internal/testworld"
)

// Bad files and bad states: each gets a clear error and leaves the database as it
// was. badinput_test.go has the first ones (no engram tables, a text file, a newer relsync).

// sameDatabase runs fn and fails if the database file or its WAL changed a byte. An absent WAL and
// an empty one are the same content: SQLite creates an empty WAL when it opens a WAL database.
func sameDatabase(t *testing.T, path string, fn func()) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return b
	}
	db, wal := read(path), read(path+"-wal")
	fn()
	if !bytes.Equal(read(path), db) {
		t.Errorf("%s changed", filepath.Base(path))
	}
	if !bytes.Equal(read(path+"-wal"), wal) {
		t.Errorf("%s-wal changed", filepath.Base(path))
	}
}

// openNoWAL opens path with a busy timeout and nothing else: no journal_mode pragma, which would
// itself write (an empty file becomes a WAL database, a rollback one converts).
func openNoWAL(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(engram.DriverName, path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// An empty file is what a plain path leaves when the host opens the wrong one: SQLite reads it as
// a database with no tables. relsync refuses it as not engram's and writes nothing: it stays 0 bytes.
func TestEmptyFileIsNotEngramAndStaysEmpty(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engram.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := openNoWAL(t, path)
	ctx := context.Background()
	var upErr, downErr, verifyErr error
	var status int
	unchanged(t, dir, func() {
		upErr = relsync.Up(ctx, db)
		downErr = relsync.Down(ctx, db)
		st, err := relsync.Status(ctx, db)
		if err != nil {
			t.Errorf("Status: %v", err)
		}
		for _, s := range st {
			if s.State == "applied" {
				status++
			}
		}
		_, verifyErr = relsync.Verify(ctx, db)
	})
	if !errors.Is(upErr, relsync.ErrNotEngram) || !strings.Contains(upErr.Error(), "empty") {
		t.Errorf("Up: %v, want ErrNotEngram saying the database is empty", upErr)
	}
	if downErr != nil {
		t.Errorf("Down on a database without relsync: %v, want a no-op", downErr)
	}
	if status != 0 {
		t.Errorf("Status: %d migrations applied on an empty file", status)
	}
	if !errors.Is(verifyErr, relsync.ErrNotEngram) {
		t.Errorf("Verify on an empty file: %v, want ErrNotEngram", verifyErr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file is no longer empty: %v %v", fi.Size(), err)
	}
}

// An engram too old for relsync: its journal predates cloud enrollment (no sync_enrolled_projects)
// or per-project journaling (no sync_mutations.project). Up names what is missing, writes nothing.
func TestEngramTooOldIsRefusedAndUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name, downgrade, missing string
	}{
		{"no enrollment table", `DROP TABLE sync_enrolled_projects`, "table sync_enrolled_projects"},
		{"no journal project column",
			`DROP INDEX idx_sync_mutations_project; ALTER TABLE sync_mutations DROP COLUMN project`,
			"column sync_mutations.project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t, engram.V1163)
			w.Session("s1", "alpha")
			a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
			w.Semantic(a, b, testworld.SemVerdict("related"))
			_, err := w.DB().Exec(tc.downgrade)
			w.Must(err)
			w.Must(w.DB().Close())
			db := openPlain(t, w.Path)
			unchanged(t, filepath.Dir(w.Path), func() { err = relsync.Up(w.Ctx, db) })
			if !errors.Is(err, relsync.ErrNotEngram) {
				t.Fatalf("Up: %v, want ErrNotEngram", err)
			}
			if !strings.Contains(err.Error(), tc.missing) {
				t.Errorf("Up's error %q does not name %q", err, tc.missing)
			}
			if strings.Count(err.Error(), "not an engram database") > 1 {
				t.Errorf("Up's error repeats itself: %q", err)
			}
			if _, err := relsync.Verify(w.Ctx, db); !errors.Is(err, relsync.ErrNotEngram) {
				t.Errorf("Verify on an engram too old: %v, want ErrNotEngram", err)
			}
		})
	}
}

// A database migrated by a newer relsync: Up and Verify refuse it (badinput_test.go); Status,
// Version and Down must refuse it too, and Down must not run this build's Down SQL over objects it
// does not know.
func TestNewerDatabaseStatusAndDownRefuse(t *testing.T) {
	w := testworld.New(t, engram.V117)
	w.Up()
	_, err := w.DB().Exec(`INSERT INTO ` + relsync.VersionTable + ` (version_id, is_applied) VALUES (999, 1)`)
	w.Must(err)
	before := w.Schema()
	sameDatabase(t, w.Path, func() {
		if _, err := relsync.Status(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
			t.Errorf("Status: %v, want ErrNewerDatabase", err)
		}
		if _, _, err := relsync.Version(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) || !strings.Contains(err.Error(), "999") {
			t.Errorf("Version: %v, want ErrNewerDatabase naming version 999", err)
		}
		if err := relsync.Down(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
			t.Errorf("Down: %v, want ErrNewerDatabase", err)
		}
	})
	if w.Schema() != before {
		t.Fatal("Down on a newer database changed the schema")
	}
}

// Read-only files. As root (CI), chmod stops nothing, so the check runs in a child process (this
// test binary, copied where any user can run it) that drops to uid/gid 65534; as another user the
// modes alone hold. Before Up, the child tries the forbidden write itself and reports that the OS
// refused it, so each test proves it really ran against a file or directory it could not write.
// TestReadOnlyConnection does the same in-process with SQLite's own read-only mode (?mode=ro).

const childDSNEnv = "RELSYNC_CHILD_DSN" // "host": engram.DSN (WAL pragma); "plain": busy timeout only

// readOnlyUp is what the child saw: which writes the OS refused it, and Up's error.
type readOnlyUp struct {
	Uid                   int
	FileDenied, DirDenied bool
	Err                   string
	ReadOnly, Permission  bool // errors.Is ErrReadOnly, fs.ErrPermission
}

var _ = registerChild("readonly-up", func() (any, error) {
	path := os.Getenv(childDBEnv)
	res := readOnlyUp{Uid: os.Geteuid()}
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		f.Close()
	} else {
		res.FileDenied = errors.Is(err, fs.ErrPermission)
	}
	if f, err := os.CreateTemp(filepath.Dir(path), "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
	} else {
		res.DirDenied = errors.Is(err, fs.ErrPermission)
	}
	dsn := path + "?_pragma=busy_timeout(5000)"
	if os.Getenv(childDSNEnv) == "host" {
		dsn = engram.DSN(path)
	}
	db, err := sql.Open(engram.DriverName, dsn)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := relsync.Up(context.Background(), db); err != nil {
		res.Err = err.Error()
		res.ReadOnly, res.Permission = errors.Is(err, relsync.ErrReadOnly), errors.Is(err, fs.ErrPermission)
	}
	return res, nil
})

// asRoot says that the child must drop privileges for file modes to bind it.
var asRoot = os.Geteuid() == 0

const nobody = 65534

// giveToChild makes path the child's own when the test runs as root (as a user's engram.db is its
// user's); otherwise it already is.
func giveToChild(t *testing.T, path string) {
	t.Helper()
	if asRoot {
		if err := os.Chown(path, nobody, nobody); err != nil {
			t.Fatal(err)
		}
	}
}

// chmod sets a mode and restores a removable one when the test ends.
func chmod(t *testing.T, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(path, 0o755) })
}

// reachable lets another user traverse t.TempDir's parent, which is created 0700.
func reachable(t *testing.T, dir string) string {
	t.Helper()
	if err := os.Chmod(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runReadOnlyUp runs Up on path in a child process, as uid 65534 when the test runs as root.
func runReadOnlyUp(t *testing.T, path, dsn string) readOnlyUp {
	t.Helper()
	reachable(t, filepath.Dir(path))
	work := reachable(t, t.TempDir())
	chmod(t, work, 0o777) // the child writes its result here
	bin := filepath.Join(work, "relsync.test")
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(work, "result")
	cmd := exec.Command(bin, "-test.run=^TestChildProcess$", "-test.count=1", "-test.timeout=2m")
	cmd.Env = append(os.Environ(), childRoleEnv+"=readonly-up", childDBEnv+"="+path,
		childResultEnv+"="+result, childDSNEnv+"="+dsn)
	if asRoot {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	b, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	var res readOnlyUp
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if asRoot && res.Uid != nobody {
		t.Fatalf("child ran as uid %d, want %d", res.Uid, nobody)
	}
	t.Logf("child uid %d: Up: %s", res.Uid, res.Err)
	return res
}

// engramFile is an engram database with relations that the backfill would journal, closed cleanly
// (checkpointed, no WAL beside it) in journal mode mode.
func engramFile(t *testing.T, mode string) string {
	t.Helper()
	w := testworld.New(t, engram.V1163)
	w.Session("s1", "alpha")
	a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
	w.Enroll("alpha")
	w.Semantic(a, b, testworld.SemVerdict("related"))
	_, err := w.DB().Exec(`PRAGMA journal_mode = ` + mode)
	w.Must(err)
	w.Must(w.DB().Close())
	return w.Path
}

func TestReadOnlyFile(t *testing.T) {
	path := engramFile(t, "WAL")
	giveToChild(t, filepath.Dir(path)) // the directory is writable, the file is not
	chmod(t, path, 0o444)
	var res readOnlyUp
	sameDatabase(t, path, func() { res = runReadOnlyUp(t, path, "host") })
	if !res.FileDenied {
		t.Fatalf("the child could open the file for writing: the test proves nothing (%+v)", res)
	}
	if !res.ReadOnly {
		t.Fatalf("Up on a read-only file: %q, want ErrReadOnly", res.Err)
	}
}

func TestReadOnlyDirectory(t *testing.T) {
	for _, tc := range []struct {
		name, journal, dsn string
		lockFile           bool // left by an earlier Up and Down, so that relsync's lock opens
		permissionIsClear  bool // lock.go reports the lock file it cannot create (not ErrReadOnly)
	}{
		// Engram's own case: a WAL database needs its -wal and -shm beside it even to read.
		{name: "WAL", journal: "WAL", dsn: "host"},
		// A rollback-journal file reads fine and takes the write lock; only its first write needs
		// the journal file beside it.
		{name: "rollback journal", journal: "DELETE", dsn: "plain", lockFile: true},
		{name: "rollback journal, no lock file", journal: "DELETE", dsn: "plain", permissionIsClear: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := engramFile(t, tc.journal)
			dir := filepath.Dir(path)
			if tc.lockFile {
				db := openNoWAL(t, path)
				if err := relsync.Up(context.Background(), db); err != nil {
					t.Fatal(err)
				}
				if err := relsync.Down(context.Background(), db); err != nil {
					t.Fatal(err)
				}
				db.Close()
				giveToChild(t, path+relsync.LockFileSuffix)
			}
			giveToChild(t, path) // the file is writable, the directory is not
			chmod(t, dir, 0o555)
			var res readOnlyUp
			sameDatabase(t, path, func() { res = runReadOnlyUp(t, path, tc.dsn) })
			if !res.DirDenied || res.FileDenied {
				t.Fatalf("the child's rights are not those of a read-only directory: %+v", res)
			}
			switch {
			case res.ReadOnly:
			case tc.permissionIsClear && res.Permission && strings.Contains(res.Err, relsync.LockFileSuffix):
			default:
				t.Fatalf("Up in a read-only directory: %q, want ErrReadOnly", res.Err)
			}
		})
	}
}

// TestReadOnlyConnection: SQLite's read-only mode, in this process, on engram's live file.
func TestReadOnlyConnection(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	w.Session("s1", "alpha")
	a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
	w.Enroll("alpha")
	w.Semantic(a, b, testworld.SemVerdict("related"))
	ro, err := sql.Open(engram.DriverName, "file:"+w.Path+"?mode=ro&_pragma=busy_timeout(5000)")
	w.Must(err)
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	sameDatabase(t, w.Path, func() { err = relsync.Up(w.Ctx, ro) })
	if !errors.Is(err, relsync.ErrReadOnly) {
		t.Fatalf("Up on a read-only connection: %v, want ErrReadOnly", err)
	}
	w.Up() // the writable connection installs
}

// A writer that holds the write lock longer than the busy timeout: Up gives up with SQLite's busy
// error once the timeout has passed, writes nothing, and installs once the writer is gone.
var _ = registerChild("hold-write-lock", func() (any, error) {
	db, err := sql.Open(engram.DriverName, engram.DSN(os.Getenv(childDBEnv)))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		return nil, err
	}
	if err := childReady(); err != nil { // holds the lock until the parent releases it
		return nil, err
	}
	_, err = conn.ExecContext(context.Background(), `ROLLBACK`)
	return nil, err
})

func TestLockedByAnotherWriter(t *testing.T) {
	path := engramFile(t, "WAL")
	work := t.TempDir()
	holder := startChild(t, "hold-write-lock", path, work, "holder")
	waitReady(t, []*child{holder})

	db, err := sql.Open(engram.DriverName, path+"?_pragma=busy_timeout(250)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	sameDatabase(t, path, func() {
		done := make(chan error, 1)
		go func() { done <- relsync.Up(ctx, db) }()
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute): // a guard against a hang, far beyond the 250 ms timeout
			t.Fatal("Up hangs behind a writer that holds the lock")
		}
	})
	if err == nil || !sqlitecode.IsBusy(err) {
		t.Fatalf("Up behind a writer: %v, want SQLite's busy error", err)
	}
	if !strings.Contains(err.Error(), "write lock") {
		t.Errorf("Up's error %q does not say it waited for the write lock", err)
	}

	release(t, work)
	holder.wait(t)
	if err := relsync.Up(ctx, db); err != nil {
		t.Fatalf("Up once the writer is gone: %v", err)
	}
	rep, err := relsync.Verify(ctx, db)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}
