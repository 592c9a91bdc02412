package testworld

import (
	"database/sql"
	"io/fs"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/migfile"
)

// Section returns the one statement of relsync's migrations named name (`-- relsync:NAME`), read
// by the parser relsync itself uses.
func Section(name string) (string, error) {
	ms, err := migfile.Read(relsync.Migrations())
	if err != nil {
		return "", err
	}
	return migfile.Section(ms, name)
}

// Provider is a goose provider on the migrations in fsys, set up as relsync sets up its own:
// relsync's version table, goose's global registry left out.
func Provider(t testing.TB, db *sql.DB, fsys fs.FS) *goose.Provider {
	t.Helper()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys,
		goose.WithTableName(relsync.VersionTable), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}
