// Package tools runs relsync from the terminal: scripts/goose.sh with the real goose CLI at the
// version go.mod pins, scripts/verify.sql in the real sqlite3 shell and scripts/demo.sh, on real
// files that engram keeps open meanwhile. Without a tool its tests skip, or fail under
// RELSYNC_REQUIRE_TOOLS=1 (internal/testtools).
package tools

import (
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// The checkout's migrations as goose sees them, and where a database stands against them.

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
