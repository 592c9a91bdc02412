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
// It opens the file as v1.16.3 and v1.17 do (Open); see CreateVersion.
func Create(path string) (*sql.DB, error) {
	return CreateVersion(path, V1163)
}

// CreateVersion is Create, then OpenVersion(path, v).
func CreateVersion(path string, v Version) (*sql.DB, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("engram: create: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("engram: create: %w", err)
	}
	return OpenVersion(path, v)
}

// Open opens (creating if needed) the engram database at path the way engram
// v1.16.3 and v1.17 do: a plain path, one connection, engram's pragmas, then the idempotent
// schema pass and the journal fix-up that engram runs at every open.
// It does not run the start-up repair, which depends on the engram version:
// see New and Store.StartupRepair.
func Open(path string) (*sql.DB, error) {
	return OpenVersion(path, V1163)
}

// OpenVersion opens path the way engram v opens it. For v1.16.3 and v1.17
// that is Open. For v3: the DSN of DSNVersion(path, V3) (every transaction
// BEGIN IMMEDIATE), one connection, engram's pragmas, the v1 schema pass,
// then, holding the process lock file <dir of path>/.migrate.lock (60 s
// timeout), MigrateV3, then the journal fix-up.
func OpenVersion(path string, v Version) (*sql.DB, error) {
	ctx := context.Background()
	dsn := path
	if v.v3() {
		dsn = DSNVersion(path, v)
	}
	db, err := sql.Open(DriverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("engram: open %s: %w", path, err)
	}
	// One connection: engram serializes its own statements through it, and
	// the pragmas below are per connection.
	db.SetMaxOpenConns(1)
	if err := initialize(ctx, db, path, v); err != nil {
		db.Close()
		return nil, fmt.Errorf("engram: open %s: %w", path, err)
	}
	return db, nil
}

// DSN returns a data source name for path that makes modernc.org/sqlite apply
// engram's pragmas to every connection it opens. It is for other clients of
// the same file (a migration runner, a test reading behind engram's back) that
// do not pin one connection as engram does; engram v1 itself opens the plain
// path (v3 opens DSNVersion's).
func DSN(path string) string {
	return path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)"
}

// DSNVersion is DSN for clients that open the file as engram v does: for v3
// it adds _txlock=immediate, so every transaction is BEGIN IMMEDIATE.
func DSNVersion(path string, v Version) string {
	if v.v3() {
		return DSN(path) + "&_txlock=immediate"
	}
	return DSN(path)
}

func initialize(ctx context.Context, db *sql.DB, path string, v Version) error {
	for _, p := range openPragmas {
		if _, err := db.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	if _, err := db.ExecContext(ctx, schemaSQL); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if v.v3() {
		if err := migrateLocked(ctx, db, path); err != nil {
			return err
		}
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
