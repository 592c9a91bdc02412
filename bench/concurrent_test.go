package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// BenchmarkBackfillBesideWriter journals the n eligible relations of a database that has none
// journaled while another process's writer behaves as engram v3 does (its own connection,
// _txlock=immediate, busy_timeout 5000, a write retried after 10/25/50/100/200 ms when SQLite says
// busy, a write every 20 ms), each contender on its own copy of the same file:
//
//	steps       relsync.Up: relsync.Install, then Backfill's short transactions;
//	one-statement  relsync.Install, then the whole backfill as one statement (what migration 6 does for the
//	            goose CLI, and what the baseline migration did before the backfill had steps).
//
// It reports rows/s, failed-writes (the writer gave up: SQLite's busy error after its retries),
// writes, max-wait-ms (the writer's longest wait from its first try to its commit) and
// max-relsync-tx-ms (the longest relsync transaction, lock wait included).
func BenchmarkBackfillBesideWriter(b *testing.B) {
	fx := newBenchFixtures(b)
	plain := fx.plain(b)
	n := fx.n
	ctx := context.Background()
	for _, c := range []struct {
		name string
		run  func(db *sql.DB) time.Duration // returns the longest relsync transaction
	}{
		{"steps", func(db *sql.DB) time.Duration {
			var longest time.Duration
			if err := relsync.Up(ctx, db, relsync.WithProgress(func(p relsync.Progress) { longest = p.Longest })); err != nil {
				b.Fatal(err)
			}
			return longest
		}},
		{"one-statement", func(db *sql.DB) time.Duration {
			if err := relsync.Install(ctx, db); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			if _, err := db.Exec(benchBackfillAll); err != nil {
				b.Fatal(err)
			}
			longest := time.Since(start)
			if err := relsync.Up(ctx, db); err != nil { // applies migration 6, which finds nothing left
				b.Fatal(err)
			}
			return longest
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var (
				mu             sync.Mutex
				failed, writes int
				maxWait, maxTx time.Duration
			)
			benchEachCopy(b, plain, n, nil, func(db *sql.DB) {
				w := startBenchWriter(b, benchPathOf(b, db))
				tx := c.run(db)
				f, wr, wait := w.stop()
				mu.Lock()
				failed, writes = failed+f, writes+wr
				maxWait, maxTx = max(maxWait, wait), max(maxTx, tx)
				mu.Unlock()
			}, func(db *sql.DB) {
				if got := benchRelationRows(b, db); got != n {
					b.Fatalf("%s journaled %d relations, want %d", c.name, got, n)
				}
			})
			b.ReportMetric(float64(failed), "failed-writes")
			b.ReportMetric(float64(writes), "writes")
			b.ReportMetric(float64(maxWait.Microseconds())/1000, "max-wait-ms")
			b.ReportMetric(float64(maxTx.Microseconds())/1000, "max-relsync-tx-ms")
		})
	}
}

// benchPathOf is the main file of db.
func benchPathOf(b *testing.B, db *sql.DB) string {
	var seq int
	var name, path string
	err := db.QueryRow(`SELECT seq, name, file FROM pragma_database_list WHERE name = 'main'`).Scan(&seq, &name, &path)
	if err != nil || path == "" {
		b.Fatalf("no file behind the database (%v)", err)
	}
	return path
}

// benchWriter writes as engram v3 does, on its own connection, until stopped.
type benchWriter struct {
	done    chan struct{}
	wg      sync.WaitGroup
	failed  int
	writes  int
	maxWait time.Duration
}

func startBenchWriter(b *testing.B, path string) *benchWriter {
	db, err := sql.Open(engram.DriverName, "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	w := &benchWriter{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer db.Close()
		for i := 0; ; i++ {
			select {
			case <-w.done:
				return
			case <-time.After(20 * time.Millisecond):
			}
			start := time.Now()
			err := benchV3Write(db, i)
			if err != nil {
				w.failed++
			}
			w.writes++
			w.maxWait = max(w.maxWait, time.Since(start))
		}
	}()
	return w
}

func (w *benchWriter) stop() (failed, writes int, maxWait time.Duration) {
	close(w.done)
	w.wg.Wait()
	return w.failed, w.writes, w.maxWait
}

// benchV3Write is one engram v3 write: BEGIN IMMEDIATE (the DSN's _txlock), a journal-sized
// insert, commit; retried after 10, 25, 50, 100 and 200 ms when SQLite answers busy.
func benchV3Write(db *sql.DB, i int) error {
	var err error
	for _, pause := range []time.Duration{10, 25, 50, 100, 200, -1} {
		err = func() error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			defer tx.Rollback()
			if _, err := tx.Exec(`INSERT INTO sync_state (target_key) VALUES (?) ON CONFLICT (target_key) DO UPDATE
				SET updated_at = datetime('now')`, fmt.Sprintf("bench-writer-%d", i%50)); err != nil {
				return err
			}
			return tx.Commit()
		}()
		if err == nil || !benchIsBusy(err) || pause < 0 {
			return err
		}
		time.Sleep(pause * time.Millisecond)
	}
	return errors.Join(err, errors.New("unreachable"))
}
