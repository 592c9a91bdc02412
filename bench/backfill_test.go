package bench

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// BenchmarkBackfill journals the n eligible relations of a database that has none journaled, each
// contender on its own copy of the same file:
//
//	relsync  relsync.Up on the database (relsync.Install, then Backfill's steps of about 50 ms, each
//	         followed by a pause half as long: slower than one statement, by design;
//	         BenchmarkBackfillBesideWriter has the one-statement figure beside it);
//	relsync-one-statement  relsync.Install, then the backfill as one statement (what migration 6 runs
//	         under the goose CLI): the trigger program's own speed, with no pause and no step;
//	go       engram v1.17's relation backfill (collect the keys, then read, encode and journal
//	         each relation through Go's journal path), internal/engram's BackfillRelations;
//	limit    the same journal rows, computed beforehand into a table, copied into sync_mutations
//	         (with engram's indexes) by one INSERT … SELECT on the same driver: what writing the
//	         rows costs, with nothing left to compute;
//	rerun    relsync.Up after relsync.Down on a database where every relation is journaled: the backfill
//	         finds nothing to write, the price of the pass itself;
//	derive-eligibility  what relsync computes per row to decide, read without writing anything:
//	         which relations belong in the journal (one pass over relsync_relation_eligible). The
//	         payload is built by a trigger (relsync_outbox_payload), so it has no read-only pass.
//
// Each reports rows/s and ns/row (of the n relations) and, for relsync and go, the Go heap and the
// process's peak RSS during the run.
func BenchmarkBackfill(b *testing.B) {
	fx := newBenchFixtures(b)
	plain := fx.plain(b)
	n := fx.n
	ctx := context.Background()

	b.Run("relsync", func(b *testing.B) {
		benchEachCopy(b, plain, n, nil, func(db *sql.DB) {
			if err := relsync.Up(ctx, db); err != nil {
				b.Fatal(err)
			}
		}, func(db *sql.DB) {
			if got := benchRelationRows(b, db); got != n {
				b.Fatalf("relsync journaled %d relations, want %d", got, n)
			}
		})
	})

	b.Run("relsync-one-statement", func(b *testing.B) {
		benchEachCopy(b, plain, n, nil, func(db *sql.DB) {
			if err := relsync.Install(ctx, db); err != nil {
				b.Fatal(err)
			}
			if _, err := db.ExecContext(ctx, benchBackfillAll); err != nil {
				b.Fatal(err)
			}
		}, func(db *sql.DB) {
			if got := benchRelationRows(b, db); got != n {
				b.Fatalf("relsync's statement journaled %d relations, want %d", got, n)
			}
		})
	})

	b.Run("go", func(b *testing.B) {
		benchEachCopy(b, plain, n, nil, func(db *sql.DB) {
			wrote, err := (&engram.Store{DB: db, Version: engram.V117}).BackfillRelations(ctx)
			if err != nil || wrote != n {
				b.Fatalf("Go backfill wrote %d rows (%v), want %d", wrote, err, n)
			}
		}, nil)
	})

	b.Run("limit", func(b *testing.B) {
		installed := fx.installed(b)
		prepare := func(db *sql.DB) {
			// The rows relsync wrote, keyed and ordered as it wrote them.
			if _, err := db.Exec(`ATTACH DATABASE ? AS done`, installed); err != nil {
				b.Fatal(err)
			}
			for _, q := range []string{
				`CREATE TABLE bench_precomputed AS SELECT entity_key, payload, project FROM done.sync_mutations
				 WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local' ORDER BY seq`,
				`DETACH DATABASE done`,
				`PRAGMA wal_checkpoint(TRUNCATE)`,
			} {
				if _, err := db.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
		}
		benchEachCopy(b, plain, n, prepare, func(db *sql.DB) {
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tx.Exec(`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
				SELECT 'cloud', 'relation', entity_key, 'upsert', payload, 'local', project
				FROM bench_precomputed ORDER BY rowid`); err != nil {
				b.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
		}, func(db *sql.DB) {
			if got := benchRelationRows(b, db); got != n {
				b.Fatalf("limit copied %d rows, want %d", got, n)
			}
		})
	})

	for _, derive := range []struct{ name, query string }{
		{"derive-eligibility", `SELECT count(*) FROM relsync_relation_eligible`},
	} {
		b.Run(derive.name, func(b *testing.B) {
			benchEachCopy(b, fx.installed(b), n, nil, func(db *sql.DB) {
				if got := benchCount(b, db, derive.query); got != n {
					b.Fatalf("%s counted %d, want %d", derive.name, got, n)
				}
			}, nil)
		})
	}

	b.Run("rerun", func(b *testing.B) {
		installed := fx.installed(b)
		prepare := func(db *sql.DB) {
			if err := relsync.Down(ctx, db); err != nil {
				b.Fatal(err)
			}
			if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
				b.Fatal(err)
			}
		}
		benchEachCopy(b, installed, n, prepare, func(db *sql.DB) {
			if err := relsync.Up(ctx, db); err != nil {
				b.Fatal(err)
			}
		}, func(db *sql.DB) {
			if got := benchRelationRows(b, db); got != n {
				b.Fatalf("rerun left %d relation rows, want %d", got, n)
			}
		})
	})
}

// benchEachCopy runs, b.N times, run on a fresh copy of src opened as engram opens it; prepare
// (before) and check (after) are not timed. It reports rows/s and ns/row for the n relations, and
// the memory of the last run.
func benchEachCopy(b *testing.B, src string, n int, prepare, run, check func(db *sql.DB)) {
	b.Helper()
	dir := b.TempDir()
	var measured time.Duration
	var watch *benchHeapWatch
	b.StopTimer()
	b.ResetTimer() // the databases the caller built are not part of the run
	for i := 0; i < b.N; i++ {
		path := benchCopyOf(b, src, dir)
		db := benchOpenEngram(b, path)
		if prepare != nil {
			prepare(db)
		}
		watch = benchWatchHeap()
		start := time.Now()
		b.StartTimer()
		run(db)
		b.StopTimer()
		measured += time.Since(start)
		watch.stopSampling()
		if check != nil {
			check(db)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		benchRemoveDB(path)
	}
	rows := float64(n) * float64(b.N)
	b.ReportMetric(rows/measured.Seconds(), "rows/s")
	b.ReportMetric(float64(measured.Nanoseconds())/rows, "ns/row")
	watch.report(b)
}
