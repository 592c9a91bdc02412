package testworld

import (
	"context"
	"database/sql"
	"io/fs"
	"os"
	"testing"

	"github.com/relsync/relsync/internal/migfile"
)

// InstallPrerelease installs relsync's pre-release migrations (kept in testdata/prerelease:
// PrereleaseVersions) up to version, with goose itself, as pre-release builds left databases.
func InstallPrerelease(t testing.TB, db *sql.DB, version int64) {
	t.Helper()
	InstallUpTo(t, db, os.DirFS(PrereleaseDir(t)), version)
}

// InstallUpTo applies the goose migrations in fsys up to version, with goose itself (Provider),
// as a build whose newest migration that is left the database.
func InstallUpTo(t testing.TB, db *sql.DB, fsys fs.FS, version int64) {
	t.Helper()
	if _, err := Provider(t, db, fsys).UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
}

// PrereleaseVersions are the versions of the files in testdata/prerelease, in order, read by the
// parser relsync reads its own migrations with.
func PrereleaseVersions(t testing.TB) []int64 {
	t.Helper()
	return Versions(t, os.DirFS(PrereleaseDir(t)))
}

// Versions are the versions of the goose migrations in fsys, in order.
func Versions(t testing.TB, fsys fs.FS) []int64 {
	t.Helper()
	ms, err := migfile.Read(fsys)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, m := range ms {
		out = append(out, m.Version)
	}
	return out
}

// PrereleaseDir is testdata/prerelease as an absolute path (child processes run elsewhere).
func PrereleaseDir(t testing.TB) string {
	t.Helper()
	return File(t, "testdata/prerelease")
}
