package tools

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// scripts/verify.sql in the real sqlite3 shell: the README's read-only check, against relsync.Verify.

func TestVerifySQLNotInstalled(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	r := testtools.VerifyUnchanged(t, w)
	testtools.ExpectOutput(t, "verify.sql", r, 1, "relsync is not installed in this database", "go run ./cmd/relsync up <db>")
}

func TestVerifySQLHealthy(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	w.Up()
	r := testtools.VerifyAgrees(t, w, 0, fmt.Sprintf("relsync version %d installed\n", checkoutLatest(t)),
		"objects as relsync installed them",
		"OK: relsync is installed as it should be, and every relation that belongs in the journal has its row")
	if strings.Contains(r.Stdout, "Missing") || strings.Contains(r.Stdout, "this checkout has") {
		t.Errorf("healthy database reported a problem:\n%v", r)
	}
}

func TestVerifySQLMissingRows(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	w.Up()
	gone := m.Missing[0]
	w.DeleteRows(gone)
	testtools.VerifyAgrees(t, w, 1, "Missing journal rows (up to 20 sync_ids per project):", gone,
		"NOT OK: 1 relation(s) without their journal row")
}

func TestVerifySQLDrifted(t *testing.T) {
	m, w := testworld.BuildMixed(t)
	w.Up()
	w.Exec(`DROP TRIGGER relsync_relation_ai`)
	rel := m.JudgeNew()
	testtools.VerifyAgrees(t, w, 1, "relsync_relation_ai  trigger  missing", rel,
		"NOT OK: 1 relsync object(s) missing, changed or unexpected; 1 relation(s) without their journal row")
}

func TestVerifySQLBehindThisCheckout(t *testing.T) {
	_, w := testworld.BuildMixed(t)
	latest := checkoutLatest(t)
	testworld.InstallPrerelease(t, w.DB(), 4)
	r := testtools.VerifyUnchanged(t, w)
	testtools.ExpectOutput(t, "verify.sql", r, 1,
		fmt.Sprintf("relsync version 4 installed (this checkout has version %d)", latest),
		fmt.Sprintf("NOT OK: relsync is at version 4, this checkout has %d", latest))
}

// With no process left on the file, the shell is the last connection to close: SQLite would then
// checkpoint the WAL into the database and delete it, unless told not to.
func TestVerifySQLChangesNoFileWhenAlone(t *testing.T) {
	_, w := testworld.BuildMixed(t)
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
	script, err := os.ReadFile(testworld.File(t, "scripts/verify.sql"))
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
	script, err := os.ReadFile(testworld.File(t, "scripts/verify.sql"))
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
