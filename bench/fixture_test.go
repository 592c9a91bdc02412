package bench

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/relsync/relsync/internal/engram"
)

// benchFixtureVersion names the shape buildBenchFixture makes; change it when the shape changes, so that a
// cache directory never serves an older one.
const benchFixtureVersion = "f1"

// The fixture's text. Relations carry a reason of 250 and evidence of 400 characters, so that with
// their other fields a payload is about 1 KB; one in ten starts with non-ASCII text; the text has
// the characters Go's encoder escapes (< > & " \ and control characters).
const (
	benchLorem = `The <service> retries & backs off when the "upstream" times out; the cache keeps ` +
		`stale entries for 30s.\tMigrations run at start-up, before the HTTP server binds its port. ` +
		`Tests use a real SQLite file: C:\temp\engram.db on Windows, /tmp/engram.db elsewhere.` + "\n" +
		`Config is read from ENGRAM_HOME, then ~/.engram; flags win over both. The sync worker pushes ` +
		`unacked rows in seq order and stops at the first 4xx. Relations are judged by an agent ` +
		`(mem_judge) or by the semantic scan, which compares embeddings & records a verdict. ` +
		`A project rename moves observations, sessions and prompts; a merge normalizes the name. ` +
		`Deleted observations keep their relations, marked orphaned, so history stays readable. ` +
		`The <config> loader rejects unknown keys & prints the path it read. Timestamps are UTC. ` +
		`Build with go 1.25; the CI matrix covers linux, darwin and windows on amd64 and arm64.`
	benchNonASCII = `Café naïve résumé — “quoted” ✓ 日本語のメモ: `
)

// benchProjects is how many projects the fixture spreads its data over, all enrolled.
const benchProjects = 8

// benchStep is one statement of the fixture's build.
type benchStep struct {
	sql  string
	args []any
}

// benchQueryPairs reads a two-column text result.
func benchQueryPairs(tb testing.TB, q interface {
	Query(string, ...any) (*sql.Rows, error)
}, query string) [][2]string {
	tb.Helper()
	rows, err := q.Query(query)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var p [2]string
		if err := rows.Scan(&p[0], &p[1]); err != nil {
			tb.Fatal(err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// buildBenchFixture writes at path an engram database with n eligible relations, none journaled: what
// engram v1.16.3 leaves after semantic judgments, judged before enrollment. It is built with
// set-based SQL in one transaction, so that 1M relations take a minute, not an hour:
//   - n/50 sessions over benchProjects enrolled projects (names already normalized);
//   - 2n observations (relation k pairs observations 2k-1 and 2k), one in ten without a project of
//     its own (the payload takes its session's), with random-looking sync_ids as engram's are;
//   - the journal rows engram wrote for every session and observation, acked;
//   - n judged relations, a third by engram/system with no session, two thirds by an agent,
//     confidences with 2 and 17 significant digits, one in twenty without one.
func buildBenchFixture(tb testing.TB, path string, n int) {
	tb.Helper()
	start := time.Now()
	// engram's schema, then a connection of our own for the load: no rollback journal, no sync,
	// no foreign-key checks (the rows are consistent by construction), a large cache; the file
	// goes back to WAL, engram's mode, at the end.
	benchCloseCheckpointed(tb, benchOpenEngram(tb, path))
	db, err := sql.Open(engram.DriverName, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, p := range []string{"journal_mode = OFF", "synchronous = OFF", "foreign_keys = OFF",
		"cache_size = -524288", "temp_store = MEMORY"} {
		if _, err := db.Exec("PRAGMA " + p); err != nil {
			tb.Fatal(err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		tb.Fatal(err)
	}
	obs := 2 * n
	sessions := (obs + 99) / 100
	steps := []benchStep{
		{`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
		  INSERT INTO sessions (id, project, directory, started_at)
		  SELECT printf('ses-%08x', i), 'proj-' || ((i - 1) % ?2), '/home/dev/proj-' || ((i - 1) % ?2),
		         datetime('2026-01-01', '+' || i || ' minutes')
		  FROM k`, []any{sessions, benchProjects}},
		{`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
		  INSERT INTO observations (sync_id, session_id, type, title, content, project, scope, created_at, updated_at)
		  SELECT printf('obs-%08x%08x', (i * 2654435761) % 4294967291, (i * 40503 + 12345) % 4294967291),
		         printf('ses-%08x', (i - 1) / 100 + 1), 'manual',
		         'Observation ' || i || ': ' || substr(?2, 1 + i % 200, 60),
		         substr(?2, 1 + i % 300, 400),
		         CASE WHEN i % 10 = 3 THEN NULL ELSE 'proj-' || (((i - 1) / 100) % ?3) END,
		         'project', datetime('2026-01-01', '+' || i || ' seconds'), datetime('2026-01-01', '+' || i || ' seconds')
		  FROM k`, []any{obs, benchLorem, benchProjects}},
		{`INSERT INTO sync_state (target_key, lifecycle) VALUES ('cloud', 'healthy')
		  ON CONFLICT (target_key) DO UPDATE SET lifecycle = excluded.lifecycle`, nil},
		{`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, occurred_at, acked_at, project)
		  SELECT 'cloud', 'session', id, 'upsert', json_object('id', id, 'project', project, 'directory', directory),
		         'local', started_at, started_at, project
		  FROM sessions ORDER BY rowid`, nil},
		{`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, occurred_at, acked_at, project)
		  SELECT 'cloud', 'observation', o.sync_id, 'upsert',
		         json_object('sync_id', o.sync_id, 'session_id', o.session_id, 'type', o.type, 'title', o.title,
		                     'content', o.content, 'project', o.project, 'scope', o.scope),
		         'local', o.created_at, o.created_at, ifnull(o.project, s.project)
		  FROM observations AS o JOIN sessions AS s ON s.id = o.session_id ORDER BY o.id`, nil},
		{`INSERT INTO sync_state (target_key, lifecycle, last_enqueued_seq, last_acked_seq)
		  SELECT 'cloud:' || project, 'healthy', max(seq), max(seq) FROM sync_mutations GROUP BY project`, nil},
		{`UPDATE sync_state SET last_enqueued_seq = (SELECT max(seq) FROM sync_mutations),
		         last_acked_seq = (SELECT max(seq) FROM sync_mutations) WHERE target_key = 'cloud'`, nil},
		{`WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < ?1)
		  INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, evidence, confidence,
		      judgment_status, marked_by_actor, marked_by_kind, marked_by_model, session_id, created_at, updated_at)
		  SELECT printf('rel-%08x%08x', (i * 2246822519) % 4294967291, (i * 3266489917) % 4294967291),
		         s.sync_id, t.sync_id,
		         CASE i % 5 WHEN 0 THEN 'related' WHEN 1 THEN 'compatible' WHEN 2 THEN 'scoped'
		                    WHEN 3 THEN 'conflicts_with' ELSE 'supersedes' END,
		         CASE WHEN i % 10 = 7 THEN ?3 ELSE '' END || substr(?2, 1 + i % 97, 250),
		         substr(?2, 1 + i % 89, 400),
		         CASE WHEN i % 20 = 0 THEN NULL WHEN i % 2 = 0 THEN round((i % 100) / 100.0, 2)
		              ELSE (i % 9973) / 9973.0 END,
		         'judged',
		         CASE WHEN i % 3 = 0 THEN 'engram' ELSE 'claude' END,
		         CASE WHEN i % 3 = 0 THEN 'system' ELSE 'agent' END,
		         CASE WHEN i % 3 = 0 THEN 'text-embedding-3-small' ELSE 'claude-opus-4' END,
		         CASE WHEN i % 3 = 0 THEN NULL ELSE s.session_id END,
		         datetime('2026-01-01', '+' || (i * 7) || ' seconds'),
		         datetime('2026-01-01', '+' || (i * 7 + 60) || ' seconds')
		  FROM k JOIN observations AS s ON s.id = 2 * k.i - 1 JOIN observations AS t ON t.id = 2 * k.i`,
			[]any{n, benchLorem, benchNonASCII}},
		{`WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i < ?1 - 1)
		  INSERT INTO sync_enrolled_projects (project, enrolled_at)
		  SELECT 'proj-' || i, '2026-01-01 00:00:00' FROM k`, []any{benchProjects}},
	}
	// Bulk loading is much faster without the indexes and triggers of the tables it fills: they
	// are dropped, and recreated from their own SQL once the rows are in (SQLite then builds each
	// index by sorting), in their order of creation: without statistics, the query planner breaks
	// ties between indexes by that order, so plans stay those of engram's own file. The full-text index of observations stays empty: relsync never reads it,
	// filling it took most of the build, and no benchmark updates or deletes a fixture observation
	// (which would ask FTS5 to remove words it never indexed).
	deferred := benchQueryPairs(tb, tx, `SELECT name, sql FROM sqlite_master
		WHERE type IN ('index', 'trigger') AND sql IS NOT NULL
		  AND tbl_name IN ('sessions', 'observations', 'sync_mutations', 'memory_relations')
		ORDER BY rowid`)
	for _, o := range deferred {
		kind := "INDEX"
		if strings.HasPrefix(strings.ToUpper(o[1]), "CREATE TRIGGER") {
			kind = "TRIGGER"
		}
		steps = append([]benchStep{{sql: "DROP " + kind + " " + o[0]}}, steps...)
		steps = append(steps, benchStep{sql: o[1]})
	}
	for _, st := range steps {
		if _, err := tx.Exec(st.sql, st.args...); err != nil {
			tx.Rollback()
			tb.Fatalf("fixture: %v\n%s", err, st.sql)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.Exec(`PRAGMA journal_mode = WAL`); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	check := benchOpenEngram(tb, path)
	if got := benchCount(tb, check, `SELECT count(*) FROM memory_relations`); got != n {
		tb.Fatalf("fixture: %d relations, want %d", got, n)
	}
	benchCloseCheckpointed(tb, check)
	tb.Logf("fixture of %d relations built in %v", n, time.Since(start).Round(time.Millisecond))
}
