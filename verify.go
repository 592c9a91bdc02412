package relsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"strings"

	"github.com/relsync/relsync/internal/sqlrows"
)

// MissingSampleSize is how many missing sync_ids Verify lists per project.
const MissingSampleSize = 20

// Report is what Verify found.
type Report struct {
	Version, Latest int64 // relsync version of the database (0: not installed) and of this build
	Objects         []ObjectState
	// UnjournaledColumns are memory_relations columns that the payload does not carry and that
	// this release does not know: engram added them after it.
	UnjournaledColumns []string
	Projects           []ProjectCoverage
	OrphanRows         int // local relation rows in the journal whose relation is gone
}

// ObjectState is one relsync object and how it stands.
type ObjectState struct {
	Name, Type string
	State      ObjectStatus
}

// ObjectStatus is how a relsync object stands against what relsync recorded when it installed it.
type ObjectStatus string

// The statuses relsync_object_state reports.
const (
	ObjectOK         ObjectStatus = "ok"
	ObjectMissing    ObjectStatus = "missing"
	ObjectChanged    ObjectStatus = "changed"    // its SQL differs from what relsync installed
	ObjectUnexpected ObjectStatus = "unexpected" // a relsync_* object relsync did not install
)

// ProjectCoverage counts, for one enrolled project, the relations that belong in the journal
// (docs/engram.md §6 without its last clause) and what the journal has of them.
type ProjectCoverage struct {
	Project   string
	Eligible  int
	Journaled int // their latest local relation row carries them as they are now
	Stale     int // their latest local relation row is outdated (they changed while ineligible, or moved)
	Missing   int // have none, and did not come from the cloud
	FromCloud int // have none, but arrived from the cloud after relsync was installed
	Unacked   int // local relation rows not yet pushed that engram will push
	// Held are local relation rows not yet pushed that engram v3 holds back (disposition other
	// than 'pending': it quarantined them). Engram counts them as present, and so does relsync:
	// their relation is not journaled again until it changes. Zero before engram v3.
	Held   int
	Sample []string // up to MissingSampleSize missing sync_ids, sorted
}

// AtLatest says that the database has relsync at this build's version.
func (r Report) AtLatest() bool { return r.Version == r.Latest }

// OK says that relsync is installed and unchanged and no eligible relation lacks its row.
func (r Report) OK() bool {
	if !r.AtLatest() || len(r.UnjournaledColumns) > 0 {
		return false
	}
	for _, o := range r.Objects {
		if o.State != ObjectOK {
			return false
		}
	}
	for _, p := range r.Projects {
		if p.Missing > 0 || p.Stale > 0 {
			return false
		}
	}
	return true
}

// Verify reports whether relsync's objects are installed and unchanged and, per enrolled project,
// how many relations belong in the journal and how many are missing from it. It changes nothing.
// On a database without relsync it still counts, with this build's rule, what an install would
// backfill: it defines relsync's views as TEMP objects inside a transaction it rolls back.
func Verify(ctx context.Context, db *sql.DB) (Report, error) {
	st, err := readState(ctx, db)
	if err != nil {
		return Report{}, err
	}
	rep := Report{Version: st.version(), Latest: st.latest()}
	if !st.anyApplied() {
		if err := checkEngramTables(ctx, db); err != nil {
			return rep, err
		}
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return rep, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
		return rep, err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `ROLLBACK`)

	// Behind this build (or not installed), the views may be missing or older: count with this
	// build's, defined as TEMP objects; the objects are only compared at this build's version.
	if st.current() {
		if rep.Objects, err = objectStates(ctx, conn); err != nil {
			return rep, err
		}
	} else if err := defineTempViews(ctx, conn); err != nil {
		return rep, err
	}
	if rep.UnjournaledColumns, err = sqlrows.Column[string](ctx, conn, `SELECT name FROM relsync_unjournaled_columns ORDER BY name`); err != nil {
		return rep, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM relsync_journal_orphans`).Scan(&rep.OrphanRows); err != nil {
		return rep, err
	}
	rep.Projects, err = coverage(ctx, conn)
	return rep, err
}

func objectStates(ctx context.Context, conn *sql.Conn) ([]ObjectState, error) {
	return sqlrows.Scan(ctx, conn, `SELECT name, type, state FROM relsync_object_state ORDER BY name`,
		func(rows *sql.Rows, o *ObjectState) error { return rows.Scan(&o.Name, &o.Type, &o.State) })
}

func coverage(ctx context.Context, conn *sql.Conn) ([]ProjectCoverage, error) {
	out, err := sqlrows.Scan(ctx, conn, `SELECT project, eligible, journaled, stale, missing, from_cloud, unacked
		FROM relsync_coverage ORDER BY project`, func(rows *sql.Rows, p *ProjectCoverage) error {
		return rows.Scan(&p.Project, &p.Eligible, &p.Journaled, &p.Stale, &p.Missing, &p.FromCloud, &p.Unacked)
	})
	if err != nil {
		return nil, err
	}
	index := map[string]int{}
	for i, p := range out {
		index[p.Project] = i
	}
	if err := heldRows(ctx, conn, out, index); err != nil {
		return nil, err
	}
	return out, missingSamples(ctx, conn, out, index)
}

// heldQuery counts, per project, the unpushed local relation rows that engram v3's pusher skips
// (relsync_local_row, the one home of "a relation's local row", joined back for the disposition).
// It lives here, not in a migration's view, because it names a column that only engram v3 adds
// (after relsync may be installed): it runs only where the column exists.
const heldQuery = `SELECT m.project, count(*) FROM relsync_local_row AS m JOIN sync_mutations AS d ON d.seq = m.seq
	WHERE m.acked_at IS NULL AND d.disposition IS NOT 'pending'
	GROUP BY m.project`

// heldRows moves the rows engram v3 will not push from Unacked to Held.
func heldRows(ctx context.Context, conn *sql.Conn, out []ProjectCoverage, index map[string]int) error {
	var v3 bool
	if err := conn.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pragma_table_info('sync_mutations')
		WHERE name = 'disposition')`).Scan(&v3); err != nil || !v3 {
		return err
	}
	rows, err := conn.QueryContext(ctx, heldQuery)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var project string
		var n int
		if err := rows.Scan(&project, &n); err != nil {
			return err
		}
		if i, ok := index[project]; ok {
			out[i].Held = n
			out[i].Unacked -= n
		}
	}
	return rows.Err()
}

// missingSamples fills each project's Sample. Listing them is a second pass over every relation,
// so it runs only when a project has missing rows, and reads only those projects.
func missingSamples(ctx context.Context, conn *sql.Conn, out []ProjectCoverage, index map[string]int) error {
	var projects []string
	for _, p := range out {
		if p.Missing > 0 {
			projects = append(projects, p.Project)
		}
	}
	if len(projects) == 0 {
		return nil
	}
	list, err := json.Marshal(projects)
	if err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, `SELECT project, entity_key FROM relsync_relation_missing
		WHERE n <= ? AND project IN (SELECT value FROM json_each(?)) ORDER BY project, n`,
		MissingSampleSize, string(list))
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var project, key string
		if err := rows.Scan(&project, &key); err != nil {
			return err
		}
		if i, ok := index[project]; ok {
			out[i].Sample = append(out[i].Sample, key)
		}
	}
	return rows.Err()
}

// defineTempViews creates the migration's sections named view (the views and tables Verify
// counts with) as TEMP objects, so that Verify can count on a database where relsync is not
// installed, or is behind this build. The caller rolls the transaction back.
func defineTempViews(ctx context.Context, conn *sql.Conn) error {
	views, err := sections("view")
	if err != nil {
		return err
	}
	for _, stmt := range views {
		if _, err := conn.ExecContext(ctx, strings.Replace(stmt, "CREATE ", "CREATE TEMP ", 1)); err != nil {
			return err
		}
	}
	return nil
}
