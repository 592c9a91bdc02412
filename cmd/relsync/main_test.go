package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/demo"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// relsyncCmd runs the command in this process and returns its exit code and output.
func relsyncCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func demoFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "engram.db")
	if err := demo.DB(context.Background(), path, io.Discard); err != nil {
		t.Fatalf("the demo database: %v", err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readOnlyCmd runs `relsync cmd path`, which must leave the database as it was: it fails the test
// if the file changed a byte.
func readOnlyCmd(t *testing.T, cmd, path string) (code int, stdout, stderr string) {
	t.Helper()
	before := readFile(t, path)
	code, stdout, stderr = relsyncCmd(t, cmd, path)
	if !bytes.Equal(readFile(t, path), before) {
		t.Errorf("relsync %s changed the file", cmd)
	}
	return code, stdout, stderr
}

func TestCheckRefusesWhatGooseMustNotTouch(t *testing.T) {
	dir := t.TempDir()
	cases := append(testworld.RefusedFiles(t, dir),
		testworld.RefusedFile{Name: "empty", Path: filepath.Join(dir, "empty.db"), Want: "the database is empty"})
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			if c.Name == "empty" {
				if err := os.WriteFile(c.Path, nil, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var before []byte
			if c.Name != "missing" {
				before = readFile(t, c.Path)
			}
			code, _, stderr := relsyncCmd(t, "check", c.Path)
			if code != 1 || !strings.Contains(stderr, c.Want) {
				t.Errorf("exit %d, stderr %q; want 1 and %q", code, stderr, c.Want)
			}
			if c.Name == "missing" {
				if _, err := os.Stat(c.Path); !os.IsNotExist(err) {
					t.Errorf("check created %s", c.Path)
				}
			} else if !bytes.Equal(readFile(t, c.Path), before) {
				t.Errorf("check changed %s", c.Path)
			}
		})
	}
}

func TestCheckAcceptsEngramBeforeAndAfterInstall(t *testing.T) {
	path := demoFile(t)
	code, stdout, stderr := readOnlyCmd(t, "check", path)
	if code != 0 || !strings.Contains(stdout, "relsync not installed") {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	store, err := engram.New(path, engram.V1163)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := relsync.Up(context.Background(), store.DB); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := relsyncCmd(t, "check", path); code != 0 || !strings.Contains(stdout, "relsync at version") {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
}

func TestBackupIsAConsistentCopyBeside(t *testing.T) {
	path := demoFile(t)
	code, stdout, stderr := relsyncCmd(t, "backup", path)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	copyPath := strings.TrimSpace(stdout)
	if filepath.Dir(copyPath) != filepath.Dir(path) || !strings.HasPrefix(filepath.Base(copyPath), "engram.db.relsync-backup-") {
		t.Fatalf("backup at %q, want beside %s", copyPath, path)
	}
	// A second backup in the same second gets its own name.
	_, second, _ := relsyncCmd(t, "backup", path)
	if strings.TrimSpace(second) == copyPath {
		t.Fatalf("second backup overwrote %s", copyPath)
	}
	count := func(p string) int {
		db, err := sql.Open("sqlite", p)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM memory_relations`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got, want := count(copyPath), count(path); got != want || want == 0 {
		t.Fatalf("backup has %d relations, database %d", got, want)
	}
}

func TestVerifyAndDemoJudge(t *testing.T) {
	path := demoFile(t)
	code, stdout, _ := relsyncCmd(t, "verify", path)
	if code != 1 || !strings.Contains(stdout, "not installed") || !strings.Contains(stdout, "NOT OK") {
		t.Fatalf("verify before install: exit %d\n%s", code, stdout)
	}
	for _, want := range []string{"alpha    5         2          0      3", "beta     3         0          0      3", "missing in beta: rel-"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("verify before install lacks %q:\n%s", want, stdout)
		}
	}
	// Without relsync, v1.16.3's JudgeBySemantic writes no row: the demo's judge says so and fails.
	var judged bytes.Buffer
	if err := demo.Judge(context.Background(), path, &judged); !errors.Is(err, demo.ErrNoJournalRow) ||
		!strings.Contains(judged.String(), "no journal row") {
		t.Fatalf("the demo's judge without relsync: %v\n%s", err, judged.String())
	}
	store, err := engram.New(path, engram.V1163)
	if err != nil {
		t.Fatal(err)
	}
	err = relsync.Up(context.Background(), store.DB)
	store.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = relsyncCmd(t, "verify", path)
	if code != 0 || !strings.Contains(stdout, "OK: every relation") {
		t.Fatalf("verify after install: exit %d\n%s", code, stdout)
	}
	judged.Reset()
	err = demo.Judge(context.Background(), path, &judged)
	if out := judged.String(); err != nil || strings.Count(out, "journal row seq") != 1 || !strings.Contains(out, `"marked_by_actor":"engram"`) {
		t.Fatalf("the demo's judge after install: %v\n%s", err, out)
	}
}

func TestUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"check"}, {"nope", "x"}, {"check", "a", "b"}} {
		if code, _, stderr := relsyncCmd(t, args...); code != 2 || !strings.Contains(stderr, "usage: relsync") {
			t.Errorf("%q: exit %d, %q", args, code, stderr)
		}
	}
}

func TestURIPathEncodesWhatSQLiteWouldMisread(t *testing.T) {
	got := uriPath(`/tmp/a b'c"d?e#f%g/é.db`)
	want := `/tmp/a%20b%27c%22d%3Fe%23f%25g/%C3%A9.db`
	if got != want {
		t.Fatalf("uriPath = %s, want %s", got, want)
	}
}

// The shipped command does not link relsync's replica of engram (cmd/relsync-demo does).
func TestCommandDoesNotLinkTheReplica(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/relsync/relsync/internal/engram") || strings.HasPrefix(pkg, "github.com/relsync/relsync/internal/demo") {
			t.Errorf("cmd/relsync links %s", pkg)
		}
	}
}

// A report whose only problem is a stale row says so on its last line, with the command that fixes it.
func TestVerifyLastLineNamesStaleRows(t *testing.T) {
	var out bytes.Buffer
	printReport(&out, relsync.Report{Version: 6, Latest: 6,
		Projects: []relsync.ProjectCoverage{{Project: "alpha", Eligible: 2, Journaled: 1, Stale: 1}}}, "engram.db")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; last != "NOT OK: 1 relation(s) whose latest journal row is outdated. Fix: relsync repair engram.db" {
		t.Fatalf("last line %q", last)
	}
}
