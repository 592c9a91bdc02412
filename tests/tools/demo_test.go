package tools

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// The README's first command, run to the end as a user runs it: scripts/demo.sh builds its own
// cmd/relsync and runs goose through `go run` at the version go.mod pins. It is slow, so it is one test.
func TestDemo(t *testing.T) {
	testtools.NeedTool(t, "bash")
	// The same compile as `go run` with the same tags: afterwards the demo's go run only links.
	testtools.GooseCLI(t)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RELSYNC_GOOSE=") && !strings.HasPrefix(kv, "RELSYNC_CMD=") &&
			!strings.HasPrefix(kv, "TMPDIR=") {
			env = append(env, kv)
		}
	}
	run := func(t *testing.T, shell string) string {
		r := testtools.Run(t, append(env, "TMPDIR="+t.TempDir(), "RELSYNC_SQLITE3="+shell), "", "bash", testworld.File(t, "scripts/demo.sh"))
		testtools.ExpectOutput(t, "scripts/demo.sh", r, 0,
			"1. An engram v1.16.3 database (", "written by relsync's replica of engram v1.16.3",
			"3 judged by JudgeBySemantic (path A) -> no journal row",
			"then beta was enrolled (path B)      -> no journal row",
			"relsync: not installed", "alpha    5         2          0      3", "beta     3         0          0      3", "NOT OK",
			"Backup of ", "goose: successfully migrated database to version: ",
			"engram v1.16.3 JudgeBySemantic judged rel-", "journal row seq ", `"marked_by_actor":"engram"`,
			"Done. Every relation that belongs in the cloud has its journal row.")
		if strings.Contains(r.Stderr, "demo failed") {
			t.Errorf("demo reported a failed step")
		}
		// The database the demo left: complete, and the new relation journaled once.
		m := regexp.MustCompile(`Database: (.*)\n`).FindStringSubmatch(r.Stdout)
		rel := regexp.MustCompile(`judged (rel-[0-9a-f]{16})`).FindStringSubmatch(r.Stdout)
		if m == nil || rel == nil {
			t.Fatal("the demo did not name its database and new relation")
		}
		db, err := sql.Open(engram.DriverName, engram.DSN(m[1]))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		w := &testworld.World{T: t, Ctx: context.Background(), Path: m[1], S: &engram.Store{DB: db, Version: engram.V1163}}
		if rep := w.Verify(); !rep.OK() {
			t.Errorf("the demo's database after the demo: %+v", rep)
		}
		w.ExpectRows(rel[1], 1)
		return r.Stdout
	}
	if _, err := exec.LookPath("sqlite3"); err == nil || os.Getenv("RELSYNC_REQUIRE_TOOLS") == "1" {
		out := run(t, testtools.NeedTool(t, "sqlite3"))
		for _, want := range []string{"4. Check with the sqlite3 shell", "OK: relsync is installed as it should be"} {
			if !strings.Contains(out, want) {
				t.Errorf("demo output lacks %q", want)
			}
		}
		if testing.Short() {
			return
		}
	} else {
		t.Log("no sqlite3 shell: the demo runs its Go fallback only")
	}
	out := run(t, "/nonexistent/sqlite3")
	for _, want := range []string{"no sqlite3 shell here, so the same views through Go", "OK: every relation"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output without the shell lacks %q", want)
		}
	}
}
