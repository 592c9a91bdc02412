package relsync

import (
	"embed"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"

	"github.com/pressly/goose/v3"
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

// migration is one embedded file, known by the version goose reads from its name.
type migration struct {
	version int64
	name    string
	body    string
}

var (
	readOnce sync.Once
	files    []migration
	readErr  error
)

// embeddedMigrations reads the embedded migrations once per process, in version order.
func embeddedMigrations() ([]migration, error) {
	readOnce.Do(func() { files, readErr = readMigrations(Migrations()) })
	return files, readErr
}

func readMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			continue // goose skips it too
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: name, body: string(body)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("relsync: no migrations embedded")
	}
	slices.SortFunc(out, func(a, b migration) int { return int(a.version - b.version) })
	return out, nil
}

// sectionMark names a statement of a migration that Go runs itself: it is the first line of a
// goose StatementBegin block, and the block up to StatementEnd is the statement.
const sectionMark = "-- relsync:"

// sections returns the statements named name, across the migrations in version order.
func sections(name string) ([]string, error) {
	ms, err := embeddedMigrations()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, m := range ms {
		for _, block := range strings.Split(m.body, "-- +goose StatementBegin\n")[1:] {
			first, rest, _ := strings.Cut(block, "\n")
			if strings.TrimSpace(first) != sectionMark+name {
				continue
			}
			stmt, _, ok := strings.Cut(rest, "-- +goose StatementEnd")
			if !ok {
				return nil, fmt.Errorf("relsync: %s: section %s has no StatementEnd", m.name, name)
			}
			out = append(out, strings.TrimSpace(stmt))
		}
	}
	return out, nil
}

// section returns the one statement named name.
func section(name string) (string, error) {
	s, err := sections(name)
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("relsync: %d sections named %s in the migrations, want 1", len(s), name)
	}
	return s[0], nil
}
