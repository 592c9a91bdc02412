package bench

// Shared pieces of relsync's benchmarks: the size N, the fixture databases, and the
// measuring helpers. The benchmarks themselves are in the other files of this folder; scripts/bench.sh runs them at
// 10k, 100k and 1M relations and prints the table of BENCHMARKS.md.

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"modernc.org/sqlite"
)

// benchN is the number of eligible relations in the benchmark databases: RELSYNC_BENCH_N, or a
// size small enough for CI to run every benchmark once (`-benchtime=1x`) in seconds.
func benchN(tb testing.TB) int {
	tb.Helper()
	s := os.Getenv("RELSYNC_BENCH_N")
	if s == "" {
		return 2000
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, "_", ""))
	if err != nil || n < 10 {
		tb.Fatalf("RELSYNC_BENCH_N=%q: want an integer >= 10", s)
	}
	return n
}

// benchFixtures hands out copies of the benchmark databases of one size. The databases are built once
// per directory: RELSYNC_BENCH_CACHE when set (scripts/bench.sh sets it so that a 1M database is
// built once for all the benchmarks of a run, and removes it at the end), else the calling
// benchmark's own temporary directory.
type benchFixtures struct {
	dir string
	n   int
}

func newBenchFixtures(b *testing.B) *benchFixtures {
	b.Helper()
	dir := os.Getenv("RELSYNC_BENCH_CACHE")
	if dir == "" {
		dir = b.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	return &benchFixtures{dir: dir, n: benchN(b)}
}

// plain is the path of an engram database with n eligible relations and no relsync, none of them
// journaled (as engram v1.16.3 leaves them): the input of every backfill.
func (f *benchFixtures) plain(b *testing.B) string {
	b.Helper()
	return f.cached(b, fmt.Sprintf("plain-%s-%d.db", benchFixtureVersion, f.n), func(path string) {
		buildBenchFixture(b, path, f.n)
	})
}

// installed is plain with relsync installed (every relation journaled by the backfill). Its name
// carries a hash of the migrations, so that a cache directory never serves an older install.
func (f *benchFixtures) installed(b *testing.B) string {
	b.Helper()
	src := f.plain(b)
	return f.cached(b, fmt.Sprintf("installed-%s-%s-%d.db", benchFixtureVersion, benchMigrationsHash(b), f.n), func(path string) {
		benchCopyFile(b, src, path)
		db := benchOpenEngram(b, path)
		if err := relsync.Up(context.Background(), db); err != nil {
			b.Fatal(err)
		}
		benchCloseCheckpointed(b, db)
	})
}

// cached builds name in f.dir with build unless it is there; build writes a temporary name that is
// renamed at the end, so an interrupted build never leaves a half database behind.
func (f *benchFixtures) cached(b *testing.B, name string, build func(path string)) string {
	b.Helper()
	path := filepath.Join(f.dir, name)
	if _, err := os.Stat(path); err == nil {
		return path
	}
	tmp := path + ".building"
	benchRemoveDB(tmp)
	build(tmp)
	if err := os.Rename(tmp, path); err != nil {
		b.Fatal(err)
	}
	return path
}

// benchWithAndWithout puts two copies of this size's installed database in dir: with relsync, and
// without it (after Down: engram's schema and the same journal rows).
func benchWithAndWithout(b *testing.B, dir string) (with, without string) {
	b.Helper()
	installed := newBenchFixtures(b).installed(b)
	with = benchCopyOf(b, installed, dir)
	without = filepath.Join(dir, "without.db")
	benchCopyFile(b, installed, without)
	db := benchOpenEngram(b, without)
	if err := relsync.Down(context.Background(), db); err != nil {
		b.Fatal(err)
	}
	benchCloseCheckpointed(b, db)
	return with, without
}

// benchCopyOf copies the database src into dir and returns the copy's path.
func benchCopyOf(b *testing.B, src, dir string) string {
	b.Helper()
	dst := filepath.Join(dir, filepath.Base(src))
	benchRemoveDB(dst)
	benchCopyFile(b, src, dst)
	return dst
}

func benchCopyFile(b testing.TB, src, dst string) {
	b.Helper()
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

// benchRemoveDB removes a database file with its WAL, shared-memory and lock files.
func benchRemoveDB(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", relsync.LockFileSuffix} {
		os.Remove(path + suffix)
	}
}

// benchOpenEngram opens path as engram does (one connection, WAL, engram's pragmas and schema pass).
func benchOpenEngram(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := engram.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	return db
}

// benchCloseCheckpointed folds the WAL into the database file and closes it, so that the file can be
// copied alone.
func benchCloseCheckpointed(tb testing.TB, db *sql.DB) {
	tb.Helper()
	if _, err := db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

var (
	benchHashOnce sync.Once
	benchHashText string
)

// benchMigrationsHash names the migrations this build installs.
func benchMigrationsHash(tb testing.TB) string {
	benchHashOnce.Do(func() {
		h := sha256.New()
		fs.WalkDir(relsync.Migrations(), ".", func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				body, _ := fs.ReadFile(relsync.Migrations(), path)
				fmt.Fprintf(h, "%s\n%d\n", path, len(body))
				h.Write(body)
			}
			return nil
		})
		benchHashText = hex.EncodeToString(h.Sum(nil))[:12]
	})
	return benchHashText
}

// benchCount runs a count query and fails the benchmark on error.
func benchCount(tb testing.TB, db *sql.DB, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	return n
}

// benchRelationRows counts relsync's and engram's local relation rows in the journal.
func benchRelationRows(tb testing.TB, db *sql.DB) int {
	tb.Helper()
	return benchCount(tb, db, `SELECT count(*) FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'`)
}

// benchHeapWatch samples the Go heap (live and not yet swept objects) while a measured run goes,
// to show whether a backfill holds its rows in Go memory. SQLite's own memory (modernc allocates it
// outside the Go heap) shows in the process's peak RSS, reset at the start where Linux allows it.
type benchHeapWatch struct {
	before, peak, after uint64
	rssKiB              int64 // peak RSS during the run; 0 when it could not be reset or read
	stop                chan struct{}
	done                sync.WaitGroup
}

const benchHeapMetric = "/memory/classes/heap/objects:bytes"

func benchReadHeap() uint64 {
	s := []metrics.Sample{{Name: benchHeapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// benchWatchHeap collects garbage, then samples the heap every 2 ms until stopSampling.
func benchWatchHeap() *benchHeapWatch {
	runtime.GC()
	w := &benchHeapWatch{before: benchReadHeap(), stop: make(chan struct{})}
	w.peak = w.before
	// Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
	if os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) != nil {
		w.rssKiB = -1
	}
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.peak = max(w.peak, benchReadHeap())
			}
		}
	}()
	return w
}

// stopSampling ends the run's sampling: the peak, then what stays after a collection.
func (w *benchHeapWatch) stopSampling() {
	close(w.stop)
	w.done.Wait()
	w.peak = max(w.peak, benchReadHeap())
	if w.rssKiB == 0 {
		w.rssKiB, _ = benchPeakRSS()
	}
	runtime.GC()
	w.after = benchReadHeap()
}

// report reports, in MB: the heap before the run, its peak during it, what stays after a
// collection, and the process's peak RSS during the run.
func (w *benchHeapWatch) report(b *testing.B) {
	const mb = 1 << 20
	b.ReportMetric(float64(w.before)/mb, "heap-before-MB")
	b.ReportMetric(float64(w.peak)/mb, "heap-peak-MB")
	b.ReportMetric(float64(w.after)/mb, "heap-after-MB")
	if w.rssKiB > 0 {
		b.ReportMetric(float64(w.rssKiB)/1024, "rss-peak-MB")
	}
}

func benchPeakRSS() (int64, bool) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb, err == nil
		}
	}
	return 0, false
}

// benchDurations collects the time of each iteration, for a median (a mean hides the usual case behind
// the odd slow one on a shared machine).
type benchDurations []time.Duration

func (d benchDurations) reportMedian(b *testing.B, unit string) {
	if len(d) == 0 {
		return
	}
	s := slices.Clone(d)
	slices.Sort(s)
	b.ReportMetric(float64(s[len(s)/2].Nanoseconds()), unit)
}

func ptr[T any](v T) *T { return &v }

// benchBackfillAll is the backfill as one statement: what migration 6 runs under the goose CLI.
const benchBackfillAll = `INSERT INTO relsync_backfill_range (size) VALUES (NULL)`

// benchIsBusy reports SQLITE_BUSY and SQLITE_LOCKED (with their extended codes).
func benchIsBusy(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code()&0xff == 5 || e.Code()&0xff == 6)
}
