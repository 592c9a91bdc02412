package testtools

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/testworld"
)

// VerifySQL runs the README's `sqlite3 -readonly <db> < scripts/verify.sql` in the real shell.
func VerifySQL(t *testing.T, db string) Result {
	t.Helper()
	return Run(t, nil, testworld.File(t, "scripts/verify.sql"), NeedTool(t, "sqlite3"), "-readonly", db)
}

// coverageTable reads verify.sql's per-project table: project -> eligible, journaled, missing,
// from_cloud, unacked.
func coverageTable(out string) map[string][6]int {
	table := map[string][6]int{}
	_, rest, ok := strings.Cut(out, "project  eligible")
	if !ok {
		return table
	}
	lines := strings.Split(rest, "\n")
	for _, line := range lines[2:] { // the rest of the header line, the dashes
		f := strings.Fields(line)
		if len(f) != 7 {
			break
		}
		var n [6]int
		for i := range n {
			n[i], _ = strconv.Atoi(f[i+1])
		}
		table[f[0]] = n
	}
	return table
}

// ExpectSameAsVerify checks that the shell's table says what relsync.Verify says.
func ExpectSameAsVerify(t *testing.T, w *testworld.World, r Result) {
	t.Helper()
	want := map[string][6]int{}
	for _, p := range w.Verify().Projects {
		want[p.Project] = [6]int{p.Eligible, p.Journaled, p.Stale, p.Missing, p.FromCloud, p.Unacked}
	}
	if got := coverageTable(r.Stdout); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("verify.sql's table %v, relsync.Verify %v\n%v", got, want, r)
	}
}

// VerifyAgrees runs verify.sql as VerifyUnchanged does and checks its exit code (as ExpectOutput
// does), that its output has each of want, and that its table counts what relsync.Verify counts.
func VerifyAgrees(t *testing.T, w *testworld.World, code int, want ...string) Result {
	t.Helper()
	r := VerifyUnchanged(t, w)
	ExpectOutput(t, "verify.sql", r, code, want...)
	ExpectSameAsVerify(t, w, r)
	return r
}

// VerifyUnchanged runs verify.sql while engram keeps the file open with its WAL unmerged, and
// checks that the database and its WAL keep every byte.
func VerifyUnchanged(t *testing.T, w *testworld.World) Result {
	t.Helper()
	db, wal := FileBytes(t, w.Path)
	if wal == "" {
		t.Fatal("the WAL is empty: the test would not see a checkpoint")
	}
	r := VerifySQL(t, w.Path)
	if db2, wal2 := FileBytes(t, w.Path); db2 != db || wal2 != wal {
		t.Errorf("verify.sql changed the database or its WAL")
	}
	return r
}

// FileBytes reads the database and its WAL ("" when absent): what must not change.
func FileBytes(t *testing.T, path string) (db, wal string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := os.ReadFile(path + "-wal")
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return string(b), string(w)
}
