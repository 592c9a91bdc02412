package relsync_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// goldenSchema is relsync's whole installed program as SQLite stores it: what every engram
// connection parses, and what a reviewer reads in one place.
var goldenSchema = filepath.Join("testdata", "schema.golden.sql")

// installedSchema lists relsync's objects in sqlite_master, each with its stored SQL.
func installedSchema(t testing.TB, w *testworld.World) string {
	t.Helper()
	rows, err := w.DB().QueryContext(w.Ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE name LIKE 'relsync\_%' ESCAPE '\' AND sql IS NOT NULL ORDER BY type, name`)
	w.Must(err)
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var kind, name, sql string
		w.Must(rows.Scan(&kind, &name, &sql))
		fmt.Fprintf(&b, "-- %s %s\n%s;\n\n", kind, name, sql)
	}
	w.Must(rows.Err())
	return b.String()
}

// The installed schema equals testdata/schema.golden.sql. RELSYNC_UPDATE_GOLDEN=1 rewrites the
// file after a deliberate change to the migrations; the diff is then the review.
func TestInstalledSchemaMatchesGolden(t *testing.T) {
	w := testworld.New(t, engram.V117)
	w.Up()
	got := installedSchema(t, w)
	if os.Getenv("RELSYNC_UPDATE_GOLDEN") == "1" {
		w.Must(os.WriteFile(goldenSchema, []byte(got), 0o644))
	}
	want, err := os.ReadFile(goldenSchema)
	w.Must(err)
	if got != string(want) {
		t.Fatalf("the installed schema differs from %s (RELSYNC_UPDATE_GOLDEN=1 rewrites it):\n%s", goldenSchema, got)
	}
	var size int
	w.Must(w.DB().QueryRow(`SELECT sum(length(sql)) FROM sqlite_master WHERE name LIKE 'relsync\_%' ESCAPE '\'`).Scan(&size))
	t.Logf("relsync's schema SQL: %d bytes", size)
}

// expectUpgrade lets engram write on w, where an older relsync is installed, runs Up, and checks
// what every upgrade leaves: every journal row byte for byte, this build's version and schema
// (testdata/schema.golden.sql), Verify OK, and one journal row per change engram writes, before
// the upgrade and after it.
func expectUpgrade(t *testing.T, w *testworld.World) {
	t.Helper()
	// engram writes while the older version is installed.
	w.Session("s8", "alpha")
	a, b := w.Obs("s8", testworld.Ptr("alpha")), w.Obs("s8", testworld.Ptr("alpha"))
	before := w.Semantic(a, b, testworld.SemVerdict("related"))
	w.ExpectRows(before, 1)
	// A relation pulled from the cloud: an older relsync remembers it, and the upgrade must keep
	// that, or its backfill would journal the cloud's relation.
	pulled := engram.RelationPayload{SyncID: "rel-00000000000000fe", SourceID: b, TargetID: a,
		Relation: "compatible", JudgmentStatus: "judged", MarkedByActor: testworld.Ptr("other"),
		MarkedByKind: testworld.Ptr("agent"), Project: "alpha", CreatedAt: "2026-01-02 03:04:05", UpdatedAt: "2026-01-02 03:04:05"}
	if out, err := w.S.ApplyRemoteRelation(w.Ctx, pulled, engram.CloudPull); err != nil || out != engram.Applied {
		t.Fatalf("pull before the upgrade: %v, %v", out, err)
	}
	kept := journal(w)

	w.Up()
	keptRows(t, "upgrade", kept, journal(w))
	if cur, latest, err := relsync.Version(w.Ctx, w.DB()); err != nil || cur != latest {
		t.Fatalf("after the upgrade: version %d of %d, %v", cur, latest, err)
	}
	golden, err := os.ReadFile(goldenSchema)
	w.Must(err)
	if got := installedSchema(t, w); got != string(golden) {
		t.Fatalf("after the upgrade the schema differs from %s:\n%s", goldenSchema, got)
	}
	if rep := w.Verify(); !rep.OK() {
		t.Fatalf("Verify after the upgrade: %+v", rep)
	}
	w.ExpectCount(pulled.SyncID, 0)
	rel := w.Semantic(w.Obs("s8", testworld.Ptr("alpha")), w.Obs("s8", testworld.Ptr("alpha")), testworld.SemVerdict("compatible"))
	w.ExpectRows(rel, 1)
	w.Judge(before, testworld.Verdict())
	w.ExpectRows(before, 2)
}

// Every pre-release version (the files in testdata/prerelease) upgrades to this build's baseline:
// its objects are replaced, its version rows give way to the baseline's, every journal row stays
// byte for byte, and engram's writes after the upgrade are journaled once.
func TestUpgradeFromEveryPrerelease(t *testing.T) {
	versions := testworld.PrereleaseVersions(t)
	for _, v := range versions {
		t.Run(fmt.Sprintf("from%d", v), func(t *testing.T) {
			_, w := testworld.BuildMixed(t)
			testworld.InstallPrerelease(t, w.DB(), v)
			expectUpgrade(t, w)
			if got := w.Count(`SELECT count(*) FROM `+relsync.VersionTable+` WHERE version_id BETWEEN ? AND ?`,
				versions[0], versions[len(versions)-1]); got != 0 {
				t.Errorf("%d pre-release version rows left", got)
			}
		})
	}
}

// Every version of this build's migrations below the newest, installed as goose leaves it (a
// build whose newest migration that was, or a goose CLI stopped there), upgrades as the
// pre-releases do, and the relations it left without their row are journaled once. Once relsync
// has released, migrations are only appended: this then covers every released version.
func TestUpgradeFromEveryEarlierVersion(t *testing.T) {
	versions := testworld.Versions(t, relsync.Migrations())
	for _, v := range versions[:len(versions)-1] {
		t.Run(fmt.Sprintf("from%d", v), func(t *testing.T) {
			m, w := testworld.BuildMixed(t)
			testworld.InstallUpTo(t, w.DB(), relsync.Migrations(), v)
			expectUpgrade(t, w)
			m.ExpectBackfilled()
		})
	}
}
