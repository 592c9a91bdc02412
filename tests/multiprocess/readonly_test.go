package multiprocess

import (
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

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// Read-only files. As root (CI), chmod stops nothing, so the check runs in a child process (this
// test binary, copied where any user can run it) that drops to uid/gid 65534; as another user the
// modes alone hold. Before Up, the child tries the forbidden write itself and reports that the OS
// refused it, so each test proves it really ran against a file or directory it could not write.
// TestReadOnlyConnection (relsync's root) does the same in-process with SQLite's own read-only
// mode (?mode=ro).

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
	a, b := w.Pair("alpha")
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
	testworld.SameDatabase(t, path, func() { res = runReadOnlyUp(t, path, "host") })
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
				db := testworld.OpenNoWAL(t, path)
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
			testworld.SameDatabase(t, path, func() { res = runReadOnlyUp(t, path, tc.dsn) })
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
