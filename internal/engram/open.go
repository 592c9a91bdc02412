package engram

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"os"

	_ "modernc.org/sqlite" // registers the "sqlite" driver engram uses
)

// DriverName is the database/sql driver engram opens its file with.
const DriverName = "sqlite"

//go:embed schema.sql
var schemaSQL string

// openPragmas are engram's, in engram's order, run once on its only connection.
var openPragmas = []string{
	"PRAGMA journal_mode = WAL",
	"PRAGMA busy_timeout = 5000",
	"PRAGMA synchronous = NORMAL",
	"PRAGMA foreign_keys = ON",
}

// Create makes a new engram database at path and fails if the file exists,
// so a test never replays engram's writes onto a stale file by accident.
func Create(path string) (*sql.DB, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("engram: create: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("engram: create: %w", err)
	}
	return Open(path)
}

// Open opens (creating if needed) the engram database at path the way engram
// does: a plain path, one connection, engram's pragmas, then the idempotent
// schema pass and the journal fix-up that engram runs at every open.
// It does not run the start-up repair, which depends on the engram version:
// see New and Store.StartupRepair.
func Open(path string) (*sql.DB, error) {
	db, err := sql.Open(DriverName, path)
	if err != nil {
		return nil, fmt.Errorf("engram: open %s: %w", path, err)
	}
	// One connection: engram serializes its own statements through it, and
	// the pragmas below are per connection.
	db.SetMaxOpenConns(1)
	if err := initialize(context.Background(), db); err != nil {
		db.Close()
		return nil, fmt.Errorf("engram: open %s: %w", path, err)
	}
	return db, nil
}

// DSN returns a data source name for path that makes modernc.org/sqlite apply
// engram's pragmas to every connection it opens. It is for other clients of
// the same file (a migration runner, a test reading behind engram's back) that
// do not pin one connection as engram does; engram itself opens the plain path.
func DSN(path string) string {
	return path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
}

func initialize(ctx context.Context, db *sql.DB) error {
	for _, p := range openPragmas {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	return fixMutationProjects(ctx, db)
}

// selectProjectlessMutations reads, through SQLite's JSON functions as engram
// does, the project that journal rows lacking one should carry. A payload
// those functions cannot parse fails the query, and with it every open.
const selectProjectlessMutations = `
SELECT m.seq,
       COALESCE(json_extract(m.payload, '$.project'), ''),
       COALESCE((SELECT s.project FROM sessions s
                 WHERE s.id = json_extract(m.payload, '$.session_id')), '')
FROM sync_mutations m
WHERE m.project = ''
ORDER BY m.seq`

const updateMutationProject = `UPDATE sync_mutations SET project = ? WHERE seq = ? AND project = ''`

// fixMutationProjects is engram's open-time fix-up: journal rows whose project
// column is empty take the payload's project, else the payload session's.
func fixMutationProjects(ctx context.Context, db *sql.DB) error {
	type fix struct {
		seq     int64
		project string
	}
	rows, err := db.QueryContext(ctx, selectProjectlessMutations)
	if err != nil {
		return fmt.Errorf("journal project fix-up: %w", err)
	}
	var fixes []fix
	for rows.Next() {
		var seq int64
		var payloadProject, sessionProject string
		if err := rows.Scan(&seq, &payloadProject, &sessionProject); err != nil {
			rows.Close()
			return fmt.Errorf("journal project fix-up: %w", err)
		}
		p := NormalizeProject(payloadProject)
		if p == "" {
			p = NormalizeProject(sessionProject)
		}
		if p != "" {
			fixes = append(fixes, fix{seq, p})
		}
	}
	if err := rows.Close(); err != nil {
		return err
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journal project fix-up: %w", err)
	}
	for _, f := range fixes {
		if _, err := db.ExecContext(ctx, updateMutationProject, f.project, f.seq); err != nil {
			return fmt.Errorf("journal project fix-up: %w", err)
		}
	}
	return nil
}
