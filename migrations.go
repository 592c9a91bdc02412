package relsync

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// migration is one parsed SQL file: its version and the statements of its Up section.
type migration struct {
	version int64
	name    string
	up      []string
}

var (
	parsedOnce sync.Once
	parsed     []migration
	parseErr   error
)

// migrationFiles parses the embedded migrations once per process.
func migrationFiles() ([]migration, error) {
	parsedOnce.Do(func() { parsed, parseErr = parseMigrations(Migrations()) })
	return parsed, parseErr
}

// latestVersion is the highest version this build can install.
func latestVersion() (int64, error) {
	ms, err := migrationFiles()
	if err != nil {
		return 0, err
	}
	return ms[len(ms)-1].version, nil
}

func parseMigrations(fsys fs.FS) ([]migration, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		if !ok {
			return nil, fmt.Errorf("relsync: migration %s: no version prefix", name)
		}
		v, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("relsync: migration %s: %w", name, err)
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: path.Base(name), up: upStatements(string(body))})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("relsync: no migrations embedded")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	return out, nil
}

// upStatements splits the Up section of a goose SQL file the way goose does for relsync's files:
// a block between StatementBegin and StatementEnd is one statement, elsewhere a line ending in ';'
// ends one. Comment-only lines are dropped.
func upStatements(body string) []string {
	var stmts []string
	var cur strings.Builder
	inUp, inBlock := false, false
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			stmts = append(stmts, s)
		}
		cur.Reset()
	}
	for _, line := range strings.Split(body, "\n") {
		trimmed := strings.TrimSpace(line)
		switch strings.ToLower(trimmed) {
		case "-- +goose up":
			inUp = true
			continue
		case "-- +goose down":
			flush()
			return stmts
		case "-- +goose statementbegin":
			inBlock = true
			continue
		case "-- +goose statementend":
			inBlock = false
			flush()
			continue
		}
		if !inUp || (strings.TrimSpace(cur.String()) == "" && (trimmed == "" || strings.HasPrefix(trimmed, "--"))) {
			cur.Reset()
			continue
		}
		cur.WriteString(line)
		cur.WriteString("\n")
		if !inBlock && strings.HasSuffix(trimmed, ";") {
			flush()
		}
	}
	flush()
	return stmts
}
