package testworld

import (
	"context"
	"database/sql"
	"os"
	"testing"
)

// InstallPrerelease installs relsync's pre-release migrations (versions 1 to 4, kept in
// testdata/prerelease) up to version, with goose itself, as pre-release builds left databases.
func InstallPrerelease(t testing.TB, db *sql.DB, version int64) {
	t.Helper()
	if _, err := Provider(t, db, os.DirFS(PrereleaseDir(t))).UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
}

// PrereleaseDir is testdata/prerelease as an absolute path (child processes run elsewhere).
func PrereleaseDir(t testing.TB) string {
	t.Helper()
	return File(t, "testdata/prerelease")
}
