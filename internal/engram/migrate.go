package engram

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"regexp"
	"time"

	"github.com/gofrs/flock"
)

// SchemaVersionV3 is the PRAGMA user_version engram v3 stamps (its schema
// version 1). A database stamped higher was migrated by a newer engram: v3
// leaves it alone.
const SchemaVersionV3 = 1

// MigrateLockName is the process lock file engram v3 holds, in the database's
// directory, while it migrates.
const MigrateLockName = ".migrate.lock"

// migrateLockTimeout is how long v3 waits for the migrate lock file.
const migrateLockTimeout = 60 * time.Second

// v3Columns are the columns engram v3 adds by ALTER TABLE when missing, in
// the order it adds them.
var v3Columns = []struct{ table, column, decl string }{
	{"sync_mutations", "disposition", "TEXT NOT NULL DEFAULT 'pending'"},
	{"sync_mutations", "disposition_reason", "TEXT"},
	{"sync_mutations", "disposition_evidence", "TEXT"},
	{"sync_mutations", "disposition_at", "TEXT"},
	{"sync_state", "last_success_at", "TEXT"},
	{"sessions", "ownership_mode", "TEXT"},
	{"sessions", "runtime_lease_expires_at", "TEXT"},
	{"sessions", "local_creation_project", "TEXT"},
}

// v3FTSTriggers are v3's FTS update triggers: the old row leaves the index
// BEFORE UPDATE, the new one enters AFTER it. The *_fts_update triggers of v1
// (AFTER UPDATE, both steps) are rebuilt when they are not BEFORE UPDATE.
var v3FTSTriggers = []struct{ name, sql string }{
	{"obs_fts_update", `CREATE TRIGGER obs_fts_update BEFORE UPDATE ON observations BEGIN
    INSERT INTO observations_fts(observations_fts, rowid, title, content, tool_name, type, project, topic_key)
    VALUES ('delete', old.id, old.title, old.content, old.tool_name, old.type, old.project, old.topic_key);
END`},
	{"obs_fts_update_insert", `CREATE TRIGGER obs_fts_update_insert AFTER UPDATE ON observations BEGIN
    INSERT INTO observations_fts(rowid, title, content, tool_name, type, project, topic_key)
    VALUES (new.id, new.title, new.content, new.tool_name, new.type, new.project, new.topic_key);
END`},
	{"prompt_fts_update", `CREATE TRIGGER prompt_fts_update BEFORE UPDATE ON user_prompts BEGIN
    INSERT INTO prompts_fts(prompts_fts, rowid, content, project)
    VALUES ('delete', old.id, old.content, old.project);
END`},
	{"prompt_fts_update_insert", `CREATE TRIGGER prompt_fts_update_insert AFTER UPDATE ON user_prompts BEGIN
    INSERT INTO prompts_fts(rowid, content, project)
    VALUES (new.id, new.content, new.project);
END`},
}

// v3Statements are migrate()'s idempotent statements after the columns and
// triggers, in order.
var v3Statements = []string{
	`CREATE INDEX IF NOT EXISTS idx_sync_mutations_transport ON sync_mutations(target_key, disposition, acked_at, seq)`,
	`CREATE INDEX IF NOT EXISTS idx_obs_project_lower ON observations(lower(project))`,
	// The reserved inbox target, seeded and reset at every open.
	`INSERT INTO sync_state (target_key, lifecycle, last_enqueued_seq, last_acked_seq, last_pulled_seq)
VALUES ('cloud:inbox', 'inbox', 0, 0, 0)
ON CONFLICT(target_key) DO UPDATE SET
    lifecycle = 'inbox', last_enqueued_seq = 0, last_acked_seq = 0, last_pulled_seq = 0`,
	`UPDATE sync_mutations SET disposition = 'pending' WHERE disposition IS NULL OR disposition = ''`,
	// Observation fix-ups: legacy rows without a sync id get one; an empty
	// topic key is no topic key.
	`UPDATE observations SET sync_id = 'obs-' || lower(hex(randomblob(8))) WHERE sync_id IS NULL OR sync_id = ''`,
	`UPDATE observations SET topic_key = NULL WHERE topic_key = ''`,
}

var beforeUpdate = regexp.MustCompile(`(?i)\bBEFORE\s+UPDATE\b`)

// MigrateV3 is engram v3's migrate() pass, which v3 runs at every open after
// its schema pass: in one BEGIN IMMEDIATE transaction on one connection of
// db, it adds v3's columns, index and FTS triggers when missing, seeds and
// resets sync_state 'cloud:inbox', sets empty journal dispositions to
// 'pending', runs its observation fix-ups and raises PRAGMA user_version to
// SchemaVersionV3 (never lowers it). It does nothing when user_version is
// above SchemaVersionV3. It is idempotent, and runs on any database that
// holds the v1 schema, with other objects (relsync's) beside it. It does
// not take the migrate lock file (OpenVersion does). It needs a connection
// of db that nobody holds (with SetMaxOpenConns(1), no open transaction).
func MigrateV3(ctx context.Context, db *sql.DB) (err error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("engram v3 migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return fmt.Errorf("engram v3 migrate: %w", err)
	}
	defer func() {
		if err != nil {
			conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
			err = fmt.Errorf("engram v3 migrate: %w", err)
		}
	}()
	if err := migrateV3(ctx, conn); err != nil {
		return err
	}
	_, err = conn.ExecContext(ctx, "COMMIT")
	return err
}

func migrateV3(ctx context.Context, q Querier) error {
	var version int
	if err := q.QueryRowContext(ctx, "PRAGMA user_version").Scan(&version); err != nil {
		return err
	}
	if version > SchemaVersionV3 {
		return nil
	}
	for _, c := range v3Columns {
		var has bool
		err := q.QueryRowContext(ctx,
			`SELECT EXISTS (SELECT 1 FROM pragma_table_info(?) WHERE name = ?)`, c.table, c.column).Scan(&has)
		if err != nil {
			return err
		}
		if has {
			continue
		}
		if _, err := q.ExecContext(ctx, "ALTER TABLE "+c.table+" ADD COLUMN "+c.column+" "+c.decl); err != nil {
			return fmt.Errorf("add %s.%s: %w", c.table, c.column, err)
		}
	}
	for _, tr := range v3FTSTriggers {
		var body sql.NullString
		err := q.QueryRowContext(ctx,
			`SELECT (SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?)`, tr.name).Scan(&body)
		if err != nil {
			return err
		}
		if body.Valid && beforeUpdate.MatchString(body.String) == beforeUpdate.MatchString(tr.sql) {
			continue
		}
		if _, err := q.ExecContext(ctx, "DROP TRIGGER IF EXISTS "+tr.name); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, tr.sql); err != nil {
			return fmt.Errorf("trigger %s: %w", tr.name, err)
		}
	}
	for _, stmt := range v3Statements {
		if _, err := q.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	if version < SchemaVersionV3 {
		if _, err := q.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", SchemaVersionV3)); err != nil {
			return err
		}
	}
	return nil
}

// migrateLocked runs MigrateV3 holding the migrate lock file beside path.
func migrateLocked(ctx context.Context, db *sql.DB, path string) error {
	lock := flock.New(filepath.Join(filepath.Dir(path), MigrateLockName))
	lctx, cancel := context.WithTimeout(ctx, migrateLockTimeout)
	defer cancel()
	ok, err := lock.TryLockContext(lctx, 10*time.Millisecond)
	if err != nil || !ok {
		return fmt.Errorf("engram v3 migrate lock %s: %v", lock.Path(), err)
	}
	defer lock.Unlock()
	return MigrateV3(ctx, db)
}
