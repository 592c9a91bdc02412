package multiprocess

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/migfile"
	"github.com/relsync/relsync/internal/sqlrows"
	"github.com/relsync/relsync/internal/testworld"
)

// A process killed with SIGKILL at a random moment while Up installs relsync on a large database
// leaves the file sound: each migration applied whole with its version row or not at all, the
// journal without a duplicated row, and the lock file no obstacle to the next Up, which finishes.

const (
	crashTrialsEnv   = "RELSYNC_CRASH_TRIALS" // trials; default crashTrialsShort
	crashTrialsShort = 10
	crashSizeEnv     = "RELSYNC_CRASH_RELATIONS" // eligible relations; default crashRelations
	crashRelations   = 10_000                    // 200_000 takes 20 times as long: set the env var
	crashJournaled   = 1_000                     // eligible relations that have their local row before the install
	crashPending     = 10_000                    // relations that must never get one
)

func TestCrashDuringUp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a large database and kills processes: skipped with -short")
	}
	dir := t.TempDir()
	golden := filepath.Join(dir, "golden.db")
	eligible := envInt(crashSizeEnv, crashRelations)
	buildCrashDatabase(t, golden, eligible)

	// One Up to completion, in a child as in the trials, to learn how long a whole install takes.
	whole := crashTrialDir(t, dir, golden, 0)
	up := startChild(t, "up", filepath.Join(whole, "engram.db"), whole, "up")
	waitReady(t, []*child{up})
	started := time.Now()
	release(t, whole)
	up.wait(t)
	took := time.Since(started)
	checkUpSucceeded(t, up)
	crashCheckInstalled(t, filepath.Join(whole, "engram.db"), eligible)

	trials := envInt(crashTrialsEnv, crashTrialsShort)
	stages := map[string]int{}
	for i := 1; i <= trials; i++ {
		t.Run(fmt.Sprintf("trial%d", i), func(t *testing.T) {
			stage, finished := crashTrial(t, dir, golden, i, eligible, took)
			stages[stage]++
			if finished > 0 {
				took = min(took, finished) // aim the next kills inside a whole install
			}
		})
	}
	t.Logf("%d eligible relations, whole install %v; %d trials, killed: %v", eligible, took.Round(time.Millisecond), trials, stages)
}

// crashTrial kills an Up at a random moment within 1.1 times a whole install, checks the file,
// runs Up again in a new process and checks the result. It returns where the kill caught Up and,
// when Up finished first, how long it took.
func crashTrial(t *testing.T, dir, golden string, n, eligible int, whole time.Duration) (string, time.Duration) {
	trial := crashTrialDir(t, dir, golden, n)
	path := filepath.Join(trial, "engram.db")
	victim := startChild(t, "up", path, trial, "victim")
	waitReady(t, []*child{victim})
	delay := time.Duration(rand.Int64N(int64(whole) * 11 / 10))
	released := time.Now()
	release(t, trial)
	var stage string
	var finished time.Duration
	select {
	case <-victim.done:
		finished = time.Since(released)
		stage = "none: Up had returned"
		checkUpSucceeded(t, victim)
	case <-time.After(delay):
		victim.cmd.Process.Signal(syscall.SIGKILL)
		<-victim.done
		switch {
		case !victim.killed():
			stage = "none: Up had returned"
			checkUpSucceeded(t, victim)
		case !exists(path + relsync.LockFileSuffix):
			stage = "before Up took the lock"
			crashCheckAfterKill(t, path, eligible)
		default:
			stage = crashCheckAfterKill(t, path, eligible)
		}
	}
	t.Logf("kill after %v: %s", delay.Round(time.Millisecond), stage)

	// The next process: Up finishes (the dead holder's lock file does not stop it).
	next := filepath.Join(trial, "next")
	if err := os.Mkdir(next, 0o755); err != nil {
		t.Fatal(err)
	}
	again := startChild(t, "up", path, next, "again")
	waitReady(t, []*child{again})
	release(t, next)
	again.wait(t)
	checkUpSucceeded(t, again)
	crashCheckInstalled(t, path, eligible)
	if !t.Failed() {
		os.RemoveAll(trial) // a copy per trial adds up: 100 MB each at 200k relations
	}
	return stage, finished
}

// killed says the child died of SIGKILL rather than exiting.
func (c *child) killed() bool {
	ws, ok := c.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

func checkUpSucceeded(t *testing.T, c *child) {
	t.Helper()
	c.wait(t)
	var rep upReport
	c.decode(t, &rep)
	if rep.Err != "" {
		t.Fatalf("Up: %s", rep.Err)
	}
}

// crashTrialDir is a fresh directory holding a copy of the golden database.
func crashTrialDir(t *testing.T, dir, golden string, n int) string {
	t.Helper()
	trial := filepath.Join(dir, fmt.Sprintf("trial%d", n))
	if err := os.Mkdir(trial, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(golden)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.Create(filepath.Join(trial, "engram.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	return trial
}

// buildCrashDatabase makes an engram database, set-based: one enrolled project, eligible relations
// with no journal row (as engram v1.16.3 leaves them), crashJournaled more with their row, and
// pending ones. It checkpoints and closes it, so that the file alone is the database.
func buildCrashDatabase(t *testing.T, path string, eligible int) {
	t.Helper()
	db, err := engram.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	const observations = 20_000
	stmts := []string{
		`INSERT INTO sessions (id, project, directory) VALUES ('s-big', 'big', '/home/dev/big')`,
		`INSERT INTO sync_enrolled_projects (project) VALUES ('big')`,
		`INSERT OR IGNORE INTO sync_state (target_key) VALUES ('cloud'), ('cloud:big')`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
		 INSERT INTO observations (sync_id, session_id, type, title, content, project)
		 SELECT printf('obs-big-%06d', i), 's-big', 'manual', 'title', 'content', 'big' FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?2)
		 INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, confidence,
		     judgment_status, marked_by_actor, marked_by_kind, marked_by_model, created_at, updated_at)
		 SELECT printf('rel-%016x', i), printf('obs-big-%06d', i % ?1), printf('obs-big-%06d', (i * 7 + 1) % ?1),
		     'related', 'same topic', (i % 1000) / 1000.0, 'judged', 'claude', 'agent', 'opus',
		     '2025-01-01 00:00:00', '2025-01-02 00:00:00'
		 FROM n`,
		`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?3)
		 INSERT INTO memory_relations (sync_id, source_id, target_id)
		 SELECT printf('rel-p%015x', i), printf('obs-big-%06d', i % ?1), printf('obs-big-%06d', (i + 3) % ?1) FROM n`,
		// Engram journals every observation when it saves it.
		`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
		 SELECT 'cloud', 'observation', sync_id, 'upsert', json_object('sync_id', sync_id, 'project', 'big'), 'local', 'big'
		 FROM observations`,
		// Rows engram's Go code wrote before the install: their relations get no second row.
		`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
		 SELECT 'cloud', 'relation', sync_id, 'upsert', json_object('sync_id', sync_id, 'relation', relation,
		     'confidence', confidence, 'judgment_status', judgment_status, 'project', 'big', 'updated_at', updated_at), 'local', 'big'
		 FROM memory_relations WHERE id % (?2 / ?4) = 0 AND judgment_status = 'judged' LIMIT ?4`,
		`PRAGMA wal_checkpoint(TRUNCATE)`,
	}
	for _, q := range stmts {
		if _, err := db.Exec(q, observations, eligible, crashPending, crashJournaled); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var journaled int
	if err := db.QueryRow(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation'`).Scan(&journaled); err != nil || journaled != crashJournaled {
		t.Fatalf("built %d journaled relations (%v), want %d", journaled, err, crashJournaled)
	}
}

// crashCheckAfterKill checks the file a killed Up left: sound, each migration whole or absent, the
// backfill whole or absent, no duplicated row. It returns the versions applied.
func crashCheckAfterKill(t *testing.T, path string, eligible int) string {
	t.Helper()
	db := testworld.OpenPlain(t, path)
	defer db.Close()
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check: %q %v", integrity, err)
	}
	applied := crashAppliedVersions(t, db)
	var want []string
	byVersion := crashObjectsByVersion(t)
	for _, v := range applied {
		want = append(want, byVersion[v]...)
	}
	sort.Strings(want)
	want = slices.Compact(want) // a later migration may replace an object under the same name
	if got := crashObjects(t, db); !slices.Equal(got, want) {
		t.Errorf("versions %v applied, relsync objects\n got %v\nwant %v", applied, got, want)
	}
	rows := crashLocalRows(t, db)
	if len(applied) == 0 && rows != crashJournaled {
		t.Errorf("nothing applied: %d local relation rows, want %d", rows, crashJournaled)
	}
	if len(applied) > 0 {
		// The backfill commits a range of relation ids per step, with its cursor: every judged
		// relation below the cursor has its row, none above it has one it did not have before.
		var next sql.NullInt64
		if err := db.QueryRow(`SELECT next_id FROM relsync_backfill`).Scan(&next); err != nil {
			t.Fatal(err)
		}
		var below int
		if err := db.QueryRow(`SELECT count(*) FROM memory_relations AS r WHERE r.judgment_status = 'judged'
			AND (?1 IS NULL OR r.id < ?1) AND NOT EXISTS (SELECT 1 FROM sync_mutations AS m WHERE m.target_key = 'cloud'
			AND m.entity = 'relation' AND m.entity_key = r.sync_id AND m.source = 'local')`, next).Scan(&below); err != nil {
			t.Fatal(err)
		}
		if below != 0 {
			t.Errorf("versions %v applied, backfill cursor %v: %d judged relations below it without their row", applied, next, below)
		}
		if rows < crashJournaled || rows > eligible || (!next.Valid && rows != eligible) {
			t.Errorf("versions %v applied, backfill cursor %v: %d local relation rows, want %d..%d", applied, next, rows, crashJournaled, eligible)
		}
	}
	crashNoDuplicateRows(t, db)
	return fmt.Sprintf("holding the lock, versions %v applied", applied)
}

// crashCheckInstalled checks a database after a completed Up: Verify OK, each eligible relation has
// exactly one local row, no pending one has any.
func crashCheckInstalled(t *testing.T, path string, eligible int) {
	t.Helper()
	db := testworld.OpenPlain(t, path)
	defer db.Close()
	rep, err := relsync.Verify(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Errorf("Verify after Up: %+v", rep)
	}
	if rows := crashLocalRows(t, db); rows != eligible {
		t.Errorf("%d local relation rows after Up, want %d", rows, eligible)
	}
	crashNoDuplicateRows(t, db)
	var missing int
	if err := db.QueryRow(`SELECT count(*) FROM memory_relations AS r
		WHERE (r.judgment_status = 'judged') <> EXISTS (SELECT 1 FROM sync_mutations AS m
			WHERE m.target_key = 'cloud' AND m.entity = 'relation' AND m.entity_key = r.sync_id AND m.source = 'local')`).Scan(&missing); err != nil {
		t.Fatal(err)
	}
	if missing != 0 {
		t.Errorf("%d relations with a row they must not have, or without the row they must have", missing)
	}
}

func crashAppliedVersions(t *testing.T, db *sql.DB) []int64 {
	t.Helper()
	var tables int
	if err := db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name = ?`, relsync.VersionTable).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables == 0 {
		return nil
	}
	type record struct {
		version int64
		n       int
	}
	records, err := sqlrows.Scan(t.Context(), db, `SELECT version_id, count(*) FROM `+relsync.VersionTable+
		` WHERE version_id > 0 AND is_applied GROUP BY version_id ORDER BY version_id`,
		func(rows *sql.Rows, r *record) error { return rows.Scan(&r.version, &r.n) })
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, r := range records {
		if r.n != 1 {
			t.Errorf("version %d recorded %d times", r.version, r.n)
		}
		out = append(out, r.version)
	}
	return out
}

// crashObjectsByVersion lists, per migration, the objects that installing up to it creates in
// main, beyond those of the versions before it, read from fresh installs.
func crashObjectsByVersion(t *testing.T) map[int64][]string {
	t.Helper()
	ms, err := migfile.Read(relsync.Migrations())
	if err != nil {
		t.Fatal(err)
	}
	backfill := backfillVersion(t)
	out := map[int64][]string{}
	seen := map[string]bool{}
	for _, m := range ms {
		w := testworld.New(t, engram.V117)
		testworld.InstallUpTo(t, w.DB(), relsync.Migrations(), m.Version)
		for _, name := range crashObjects(t, w.DB()) {
			if !seen[name] {
				seen[name] = true
				out[m.Version] = append(out[m.Version], name)
			}
		}
		if len(out[m.Version]) == 0 && m.Version != backfill {
			t.Fatalf("migration %s creates no relsync object that this test can see", m.Name)
		}
	}
	return out
}

// backfillVersion is the migration that finishes the backfill, as relsync reports it.
func backfillVersion(t *testing.T) int64 {
	w := testworld.New(t, engram.V117)
	in, err := relsync.Inspect(w.Ctx, w.DB())
	w.Must(err)
	return in.BackfillVersion
}

func crashObjects(t *testing.T, db *sql.DB) []string {
	t.Helper()
	out, err := sqlrows.Column[string](t.Context(), db, `SELECT name FROM sqlite_master WHERE name LIKE 'relsync\_%' ESCAPE '\'
		AND name <> ? ORDER BY name`, relsync.VersionTable)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func crashLocalRows(t *testing.T, db *sql.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func crashNoDuplicateRows(t *testing.T, db *sql.DB) {
	t.Helper()
	var dups sql.NullString
	if err := db.QueryRow(`SELECT group_concat(entity_key, ' ') FROM (SELECT entity_key FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'
		GROUP BY entity_key HAVING count(*) > 1 LIMIT 5)`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups.Valid && strings.TrimSpace(dups.String) != "" {
		t.Errorf("relations with more than one local row: %s", dups.String)
	}
}
