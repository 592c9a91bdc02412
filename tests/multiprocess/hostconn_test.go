package multiprocess

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
	"github.com/relsync/relsync/internal/sqlitecode"
	"github.com/relsync/relsync/internal/testworld"
)

// Up on the host's own *sql.DB: engram allows one connection, and a host may hold a transaction
// while it calls Up. Up must finish, or fail with a clear error; it must never hang.

// hostWatchdog turns a hang into a test failure instead of a test-binary timeout. It is not a
// performance bound: every wait below ends far sooner or not at all.
const hostWatchdog = time.Minute

// upAsync runs Up in a goroutine; the channel gets its error.
func upAsync(ctx context.Context, db *sql.DB) <-chan error {
	done := make(chan error, 1)
	go func() { done <- relsync.Up(ctx, db) }()
	return done
}

func awaitUp(t *testing.T, done <-chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(hostWatchdog):
		t.Fatalf("Up did not return within %v: it hangs", hostWatchdog)
		return nil
	}
}

// hostWorld is an engram database on a file with relations waiting for the backfill.
func hostWorld(t *testing.T) *testworld.World {
	w := testworld.New(t, engram.V1163)
	w.Session("s1", "alpha")
	for i := 0; i < 5; i++ {
		w.Semantic(w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha")), testworld.SemVerdict("related"))
	}
	w.Enroll("alpha")
	return w
}

func expectVerifyOK(t *testing.T, db *sql.DB) {
	t.Helper()
	rep, err := relsync.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || testworld.TotalMissing(rep) != 0 {
		t.Fatalf("Verify: %+v", rep)
	}
}

// Engram's own pool (one connection), busy with the host's writes while Up installs: the writes
// queue for the connection behind Up's migration and Up behind them, and both finish.
func TestUpOnSingleConnectionHostWhileItWrites(t *testing.T) {
	w := hostWorld(t)
	if n := w.DB().Stats().MaxOpenConnections; n != 1 {
		t.Fatalf("engram's pool allows %d connections, want 1", n)
	}
	a, b := w.Obs("s1", testworld.Ptr("alpha")), w.Obs("s1", testworld.Ptr("alpha"))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes int
	var writeErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			rel, err := w.S.SavePendingRelation(w.Ctx, a, b)
			if err == nil {
				_, err = w.S.JudgeRelation(w.Ctx, rel, testworld.Verdict())
			}
			if err != nil {
				writeErr = err
				return
			}
			writes++
		}
	}()
	ctx, cancel := context.WithTimeout(w.Ctx, hostWatchdog)
	defer cancel()
	err := awaitUp(t, upAsync(ctx, w.DB()))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	if writeErr != nil {
		t.Fatalf("host write beside Up: %v", writeErr)
	}
	t.Logf("%d host writes went through the one connection while Up ran", writes)
	expectVerifyOK(t, w.DB())
	if n := w.Count(`SELECT count(*) FROM (SELECT entity_key FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'
		GROUP BY entity_key HAVING count(*) > 1)`); n != 0 {
		t.Fatalf("%d relations judged once have more than one local row", n)
	}
}

// The host holds a transaction on its only connection and calls Up from the same process: Up
// cannot get a connection until that transaction ends. With a deadline it returns ctx's error
// and leaves the host's transaction alone; without one it waits, and finishes once the host
// commits.
func TestUpWhileHostHoldsItsOnlyConnection(t *testing.T) {
	w := hostWorld(t)
	tx, err := w.DB().BeginTx(w.Ctx, nil)
	w.Must(err)
	_, err = tx.ExecContext(w.Ctx, `UPDATE sessions SET summary = 'held' WHERE id = 's1'`)
	w.Must(err)

	ctx, cancel := context.WithTimeout(w.Ctx, 200*time.Millisecond)
	defer cancel()
	err = awaitUp(t, upAsync(ctx, w.DB()))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Up with a deadline while the host holds its only connection: %v, want context.DeadlineExceeded", err)
	}

	// Without a deadline Up waits for the connection.
	done := upAsync(context.Background(), w.DB())
	select {
	case err := <-done:
		t.Fatalf("Up returned (%v) while the host still held its only connection", err)
	case <-time.After(300 * time.Millisecond):
	}
	var summary string
	w.Must(tx.QueryRowContext(w.Ctx, `SELECT summary FROM sessions WHERE id = 's1'`).Scan(&summary))
	if summary != "held" {
		t.Fatalf("the host's transaction lost its write: %q", summary)
	}
	w.Must(tx.Commit())
	if err := awaitUp(t, done); err != nil {
		t.Fatalf("Up after the host committed: %v", err)
	}
	expectVerifyOK(t, w.DB())
}

// openTwoConnections opens the world's file as a host with two connections, each with engram's
// pragmas but the busy timeout given.
func openTwoConnections(t *testing.T, path string, busyMillis int) *sql.DB {
	t.Helper()
	db, err := sql.Open(engram.DriverName, fmt.Sprintf("%s?_pragma=busy_timeout(%d)"+
		"&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)", path, busyMillis))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(2)
	t.Cleanup(func() { db.Close() })
	return db
}

// A read transaction on the host's other connection does not stop Up (WAL: readers never block
// the writer), and that transaction keeps its snapshot: it does not see relsync appear.
func TestUpWhileHostHoldsAReadTransaction(t *testing.T) {
	w := hostWorld(t)
	db := openTwoConnections(t, w.Path, 5000)
	tx, err := db.BeginTx(w.Ctx, nil)
	w.Must(err)
	defer tx.Rollback()
	before := countRelsync(t, tx)

	ctx, cancel := context.WithTimeout(w.Ctx, hostWatchdog)
	defer cancel()
	if err := awaitUp(t, upAsync(ctx, db)); err != nil {
		t.Fatalf("Up beside the host's read transaction: %v", err)
	}
	if after := countRelsync(t, tx); after != before {
		t.Fatalf("the host's read transaction saw relsync objects go from %d to %d", before, after)
	}
	w.Must(tx.Commit())
	expectVerifyOK(t, db)
}

func countRelsync(t *testing.T, tx *sql.Tx) int {
	t.Helper()
	var n int
	if err := tx.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name LIKE 'relsync%'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A write transaction on the host's other connection that lasts longer than the busy timeout:
// Up waits the busy timeout once, then fails with SQLITE_BUSY and leaves the file as it was, both
// for a fresh install and for an upgrade. Once the host commits, Up installs. The busy timeout
// here is 1 s rather than engram's 5 s, only to keep the test short.
func TestUpWhileHostHoldsTheWriteLock(t *testing.T) {
	for _, upgrade := range []bool{false, true} {
		name := "fresh"
		if upgrade {
			name = "upgrade"
		}
		t.Run(name, func(t *testing.T) {
			w := hostWorld(t)
			if upgrade {
				testworld.InstallPrerelease(t, w.DB(), 4)
			}
			db := openTwoConnections(t, w.Path, 1000)
			version := func() int64 {
				v, _, err := relsync.Version(w.Ctx, db)
				w.Must(err)
				return v
			}
			before := version()
			conn, err := db.Conn(w.Ctx)
			w.Must(err)
			defer conn.Close()
			_, err = conn.ExecContext(w.Ctx, `BEGIN IMMEDIATE`)
			w.Must(err)

			began := time.Now()
			err = awaitUp(t, upAsync(context.Background(), db))
			if err == nil || !sqlitecode.IsBusy(err) {
				t.Fatalf("Up while the host holds the write lock: %v, want SQLITE_BUSY", err)
			}
			t.Logf("Up gave up after %v: %v", time.Since(began).Round(time.Millisecond), err)
			_, err = conn.ExecContext(w.Ctx, `COMMIT`)
			w.Must(err)
			if v := version(); v != before {
				t.Fatalf("version went from %d to %d although Up failed", before, v)
			}

			// A deadline shorter than the busy timeout does not cut SQLite's wait for the lock short
			// (an interrupt does not reach the busy handler): Up returns ctx's error once it ends.
			_, err = conn.ExecContext(w.Ctx, `BEGIN IMMEDIATE`)
			w.Must(err)
			ctx, cancel := context.WithTimeout(w.Ctx, 100*time.Millisecond)
			defer cancel()
			began = time.Now()
			err = awaitUp(t, upAsync(ctx, db))
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Up with a deadline while the host held the write lock: %v, want context.DeadlineExceeded", err)
			}
			t.Logf("Up with a 100 ms deadline gave up after %v: %v", time.Since(began).Round(time.Millisecond), err)
			_, err = conn.ExecContext(w.Ctx, `COMMIT`)
			w.Must(err)

			if err := relsync.Up(w.Ctx, db); err != nil {
				t.Fatalf("Up after the host committed: %v", err)
			}
			expectVerifyOK(t, db)
		})
	}
}

// Engram calls Up at every open, while its other processes write: on a current database Up must
// not need the write lock. Another connection holds it (BEGIN IMMEDIATE) and engram's connection
// waits for no one (busy_timeout 0), so any write attempt of Up would fail at once.
func TestUpOnCurrentDatabaseTakesNoWriteLock(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	a, b := testworld.EnrolledPair(w) // relsync installed
	w.Semantic(a, b, testworld.SemVerdict("related"))

	holder, err := testworld.OpenPlain(t, w.Path).Conn(w.Ctx)
	w.Must(err)
	defer holder.Close()
	_, err = holder.ExecContext(w.Ctx, `BEGIN IMMEDIATE`)
	w.Must(err)
	defer holder.ExecContext(context.Background(), `ROLLBACK`)

	_, err = w.DB().Exec(`PRAGMA busy_timeout = 0`)
	w.Must(err)
	// The lock is really held: a write transaction on engram's connection is refused.
	if _, err := w.DB().Exec(`BEGIN IMMEDIATE`); !sqlitecode.IsBusy(err) {
		if err == nil {
			w.DB().Exec(`ROLLBACK`)
		}
		t.Fatalf("BEGIN IMMEDIATE while another connection holds the write lock: %v, want SQLITE_BUSY", err)
	}
	if err := relsync.Up(w.Ctx, w.DB()); err != nil {
		t.Fatalf("Up on a current database while another connection writes: %v", err)
	}
	if _, err := relsync.Verify(w.Ctx, w.DB()); err != nil {
		t.Fatalf("Verify while another connection writes: %v", err)
	}
}
