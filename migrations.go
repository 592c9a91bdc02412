package relsync

import (
	"embed"
	"io/fs"
	"sync"

	"github.com/relsync/relsync/internal/migfile"
)

//go:embed migrations/*.sql
var embedded embed.FS

// VersionTable is relsync's own goose version table. It is not goose_db_version, so that a host
// that uses goose itself never mistakes its versions for relsync's. Goose CLI users pass it with
// `-table relsync_db_version`.
const VersionTable = "relsync_db_version"

// Migrations returns relsync's goose SQL migrations, the files at the root of the returned FS.
func Migrations() fs.FS {
	sub, err := fs.Sub(embedded, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}

var (
	readOnce sync.Once
	files    []migfile.File
	readErr  error
)

// embeddedMigrations reads the embedded migrations once per process, in version order.
func embeddedMigrations() ([]migfile.File, error) {
	readOnce.Do(func() { files, readErr = migfile.Read(Migrations()) })
	return files, readErr
}

// sections returns the statements named name, across the migrations in version order.
func sections(name string) ([]string, error) {
	ms, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	return migfile.Sections(ms, name)
}

// section returns the one statement named name.
func section(name string) (string, error) {
	ms, err := embeddedMigrations()
	if err != nil {
		return "", err
	}
	return migfile.Section(ms, name)
}
