package relsync

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/relsync/relsync/internal/sqlrows"
)

// Engram may rebuild memory_relations one day (create a new table, copy, drop, rename): SQLite then
// drops the table's triggers without a word, and relsync would stop journaling — the very bug it
// exists to fix. So Up checks, at every open, that relsync's objects are as it installed them
// (a read of sqlite_master against relsync_objects) and, if one is missing or changed, recreates it
// from the SQL it recorded and journals what was missed meanwhile.

// countDrifted counts relsync objects that are missing or whose SQL differs from what relsync recorded.
// Before relsync_objects exists (not installed) there is nothing to compare.
func countDrifted(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, `SELECT count(*) FROM relsync_objects AS o
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master AS m
		                  WHERE m.name = o.name AND m.type = o.type AND m.sql = o.sql)`).Scan(&n)
	if err != nil && strings.Contains(err.Error(), "no such table: relsync_objects") {
		// The record itself is gone: nothing to compare with, and no reason to fail engram's
		// open; Verify reports the objects it cannot vouch for.
		return 0, nil
	}
	return n, err
}

// repair recreates drifted objects in one transaction, in the order tables, views, triggers (a
// trigger reads the views), and restarts the backfill, which then journals the relations that were
// written while the triggers were gone (Backfill runs it). Without drift it does nothing, unless
// always is set (Repair: a journal row may have gone without any object changing).
func repair(ctx context.Context, db *sql.DB, always bool) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN IMMEDIATE`); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)
		}
	}()
	if n, err := countDrifted(ctx, conn); err != nil || (n == 0 && !always) {
		return err
	}
	type object struct {
		name, kind, sql string
		exists          bool
	}
	todo, err := sqlrows.Scan(ctx, conn, `SELECT o.name, o.type, o.sql, m.name IS NOT NULL
		FROM relsync_objects AS o LEFT JOIN sqlite_master AS m ON m.name = o.name AND m.type = o.type
		WHERE m.sql IS NOT o.sql
		ORDER BY CASE o.type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 ELSE 3 END, o.name`,
		func(rows *sql.Rows, o *object) error { return rows.Scan(&o.name, &o.kind, &o.sql, &o.exists) })
	if err != nil {
		return err
	}
	for _, o := range todo {
		if o.exists {
			if _, err := conn.ExecContext(ctx, fmt.Sprintf(`DROP %s "%s"`, strings.ToUpper(o.kind), o.name)); err != nil {
				return fmt.Errorf("relsync: repair: drop %s: %w", o.name, err)
			}
		}
		if _, err := conn.ExecContext(ctx, o.sql); err != nil {
			return fmt.Errorf("relsync: repair: recreate %s: %w", o.name, err)
		}
	}
	restart, err := section("backfill-restart")
	if err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, restart); err != nil {
		return fmt.Errorf("relsync: repair: restart the backfill: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
		return err
	}
	done = true
	return nil
}
