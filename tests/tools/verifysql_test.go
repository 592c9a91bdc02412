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
	"github.com/relsync/relsync/internal/engram"
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

// "A version's last row decides" is written twice: in Go (relsync's readState, behind
// relsync.Version) and in verify.sql (view relsync_verify_version). goose appends a row to
// relsync_db_version per apply and per rollback; on an installed database, each history below
// ends with both reading the same version.
func TestVersionLastRowDecides(t *testing.T) {
	latest, prev := checkoutLatest(t), checkoutPrevious(t)
	type row struct {
		version int64
		applied bool
		stamp   string // goose's tstamp; "" for now
	}
	for _, c := range []struct {
		name    string
		history []row
		want    int64
	}{
		{"as installed", nil, latest},
		{"newest rolled back", []row{{latest, false, ""}}, prev},
		{"newest rolled back, then applied again", []row{{latest, false, ""}, {latest, true, ""}}, latest},
		{"both rolled back", []row{{latest, false, ""}, {prev, false, ""}}, 0},
		{"both rolled back, the older applied again", []row{{latest, false, ""}, {prev, false, ""}, {prev, true, ""}}, prev},
		{"newest applied twice", []row{{latest, true, ""}}, latest},
		// The rows' order decides, not their stamps.
		{"rolled back with an older stamp", []row{{latest, false, "2000-01-01 00:00:00"}}, prev},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := testworld.New(t, engram.V117)
			w.Up()
			for _, r := range c.history {
				_, err := w.DB().ExecContext(w.Ctx, `INSERT INTO `+relsync.VersionTable+` (version_id, is_applied, tstamp)
					VALUES (?, ?, coalesce(nullif(?, ''), datetime('now')))`, r.version, r.applied, r.stamp)
				w.Must(err)
			}
			goVersion := version(w)
			r := testtools.VerifySQL(t, w.Path)
			m := regexp.MustCompile(`(?m)^relsync version (\d+) installed`).FindStringSubmatch(r.Stdout)
			if m == nil {
				t.Fatalf("verify.sql names no installed version:\n%v", r)
			}
			if m[1] != strconv.FormatInt(goVersion, 10) || goVersion != c.want {
				t.Errorf("verify.sql says version %s, relsync.Version %d; want both %d\n%v", m[1], goVersion, c.want, r)
			}
		})
	}
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
