package engram

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/relsync/relsync/internal/sqlrows"
)

func userVersion(t *testing.T, db *sql.DB) int { return count(t, db, "PRAGMA user_version") }

func hasColumn(t *testing.T, db *sql.DB, table, column string) bool {
	return count(t, db, `SELECT count(*) FROM pragma_table_info(?) WHERE name = ?`, table, column) == 1
}

func TestV3OpenMigrates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engram.db")
	// A v1.16.3 database with data, and an object of someone else's
	// (standing in for relsync's triggers) beside engram's.
	s := &Store{Version: V1163}
	var err error
	if s.DB, err = Create(path); err != nil {
		t.Fatal(err)
	}
	session(t, s, "s1", "alpha")
	obs := observation(t, s, "s1", ptr("alpha"))
	exec(t, s.DB, `INSERT INTO observations (sync_id, session_id, type, title, content, topic_key)
		VALUES (NULL, 's1', 'manual', 'legacy', 'no sync id', '')`)
	exec(t, s.DB, `CREATE TABLE side_log (what TEXT)`)
	exec(t, s.DB, `CREATE TRIGGER side_obs AFTER UPDATE ON observations BEGIN
		INSERT INTO side_log VALUES ('obs ' || new.id); END`)
	s.DB.Close()

	db, err := OpenVersion(path, V3)
	if err != nil {
		t.Fatal(err)
	}
	if userVersion(t, db) != SchemaVersionV3 {
		t.Fatalf("user_version %d", userVersion(t, db))
	}
	if _, err := os.Stat(filepath.Join(dir, MigrateLockName)); err != nil {
		t.Fatalf("migrate lock file: %v", err)
	}
	if n := count(t, db, `SELECT count(*) FROM sync_mutations WHERE disposition <> 'pending'`); n != 0 {
		t.Fatalf("%d journal rows without disposition 'pending'", n)
	}
	if count(t, db, `SELECT count(*) FROM observations WHERE ifnull(sync_id, '') = '' OR topic_key = ''`) != 0 {
		t.Fatal("observation fix-ups did not run")
	}
	// Two fix-ups, each updating the legacy row once.
	if count(t, db, `SELECT count(*) FROM side_log`) != 2 || count(t, db, `SELECT count(*) FROM sqlite_master WHERE name = 'side_obs'`) != 1 {
		t.Fatal("the UPDATE observations of migrate did not fire the foreign trigger, or dropped it")
	}
	// FTS follows an update through the BEFORE/AFTER pair.
	exec(t, db, `UPDATE observations SET title = 'zebra' WHERE sync_id = ?`, obs)
	if count(t, db, `SELECT count(*) FROM observations_fts WHERE observations_fts MATCH 'zebra'`) != 1 ||
		count(t, db, `SELECT count(*) FROM observations_fts WHERE observations_fts MATCH 'title'`) != 0 {
		t.Fatal("observations_fts out of step after an update")
	}
	exec(t, db, `INSERT INTO user_prompts (sync_id, session_id, content) VALUES ('prompt-1', 's1', 'giraffe')`)
	exec(t, db, `UPDATE user_prompts SET content = 'okapi'`)
	if count(t, db, `SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH 'okapi'`) != 1 ||
		count(t, db, `SELECT count(*) FROM prompts_fts WHERE prompts_fts MATCH 'giraffe'`) != 0 {
		t.Fatal("prompts_fts out of step after an update")
	}
	// Every open resets the inbox target and empty dispositions.
	exec(t, db, `UPDATE sync_state SET lifecycle = 'pending', last_enqueued_seq = 9, last_pulled_seq = 4 WHERE target_key = 'cloud:inbox'`)
	exec(t, db, `UPDATE sync_mutations SET disposition = ''`)
	db.Close()

	if db, err = OpenVersion(path, V3); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if st, _ := syncState(t, db, "cloud:inbox"); st != (syncStateRow{Lifecycle: "inbox"}) {
		t.Fatalf("cloud:inbox %+v", st)
	}
	if n := count(t, db, `SELECT count(*) FROM sync_mutations WHERE disposition <> 'pending'`); n != 0 {
		t.Fatalf("%d empty dispositions left", n)
	}
	// Idempotent: the schema and the data stay as they are.
	before := describeSchema(t, db)
	updates := count(t, db, `SELECT count(*) FROM side_log`)
	if err := MigrateV3(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	if err := MigrateV3(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	after := describeSchema(t, db)
	if missing, unexpected := schemaDiff(before, after); len(missing)+len(unexpected) != 0 {
		t.Fatalf("migrate is not idempotent: lost %q, gained %q", missing, unexpected)
	}
	if n := count(t, db, `SELECT count(*) FROM side_log`); n != updates {
		t.Fatalf("idempotent migrate updated observations %d times", n)
	}
}

func TestV3MigrateSkipsNewerAndNeverLowers(t *testing.T) {
	path, db := createDB(t, V1163)
	exec(t, db, `PRAGMA user_version = 2`) // a newer engram's database
	db.Close()
	db, err := OpenVersion(path, V3)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if userVersion(t, db) != 2 || hasColumn(t, db, "sync_mutations", "disposition") ||
		count(t, db, `SELECT count(*) FROM sync_state WHERE target_key = 'cloud:inbox'`) != 0 {
		t.Fatal("v3 migrated a database stamped by a newer engram")
	}
}

func TestV3TransactionsAreImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engram.db")
	if !strings.Contains(DSNVersion(path, V3), "_txlock=immediate") || strings.Contains(DSNVersion(path, V117), "_txlock") {
		t.Fatal("DSNVersion")
	}
	s := newStoreAt(t, path, V3)
	tx, err := s.DB.BeginTx(t.Context(), nil) // no statement yet: IMMEDIATE holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	other, err := sql.Open(DriverName, path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if _, err := other.Exec(`INSERT INTO sync_enrolled_projects (project) VALUES ('x')`); err == nil {
		t.Fatal("another connection wrote while a v3 transaction was open")
	}
}

func newStoreAt(t *testing.T, path string, v Version) *Store {
	t.Helper()
	db, err := CreateVersion(path, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &Store{DB: db, Version: v}
}

func TestV3NewDefersRepairToPrePush(t *testing.T) {
	path, db := createDB(t, V3)
	w := buildBackfillWorld(t, &Store{DB: db, Version: V1163})
	exec(t, db, `DELETE FROM sync_mutations WHERE entity = 'session'`)
	rowsBefore := count(t, db, `SELECT count(*) FROM sync_mutations`)
	db.Close()

	s, err := New(path, V3)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if count(t, s.DB, `SELECT count(*) FROM sync_mutations`) != rowsBefore {
		t.Fatal("v3's New ran a repair")
	}
	if err := s.PrePushRepair(t.Context()); err != nil {
		t.Fatal(err)
	}
	keys := relationKeys(t, s)
	if !slices.Equal(keys, []string{w.eligible, w.remote}) || len(journal(t, s.DB, EntitySession)) != 1 {
		t.Fatalf("pre-push repair journaled relations %v and %d sessions", keys, len(journal(t, s.DB, EntitySession)))
	}
	// Memoized: a second call does nothing, even with work to do.
	exec(t, s.DB, `DELETE FROM sync_mutations WHERE entity = 'relation'`)
	if err := s.PrePushRepair(t.Context()); err != nil || len(journal(t, s.DB, EntityRelation)) != 0 {
		t.Fatalf("second pre-push repair ran (%v)", err)
	}

	// v3's rule: only a local row that is pending or quarantined counts.
	fresh := func() []string {
		t.Helper()
		exec(t, s.DB, `DELETE FROM sync_mutations WHERE entity = 'relation' AND source = 'local' AND disposition = 'pending'`)
		st := &Store{DB: s.DB, Version: V3}
		if err := st.PrePushRepair(t.Context()); err != nil {
			t.Fatal(err)
		}
		got, err := sqlrows.Column[string](t.Context(), s.DB,
			`SELECT entity_key FROM sync_mutations WHERE entity = 'relation' AND disposition = 'pending' ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	insertRow := func(key, source, disposition string) {
		exec(t, s.DB, `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project, disposition)
			VALUES ('cloud', 'relation', ?, 'upsert', '{}', ?, 'alpha', ?)`, key, source, disposition)
	}
	insertRow(w.eligible, SourceLocal, DispositionSuperseded)
	insertRow(w.remote, "remirror:1700000000000000000", DispositionPending)
	if got := fresh(); !slices.Equal(got, []string{w.remote, w.eligible, w.remote}) {
		t.Fatalf("superseded and remirror rows must not count: pending rows %v", got)
	}
	exec(t, s.DB, `DELETE FROM sync_mutations WHERE entity = 'relation'`)
	insertRow(w.eligible, SourceLocal, DispositionQuarantined)
	if got := fresh(); !slices.Equal(got, []string{w.remote}) {
		t.Fatalf("a quarantined row counts as present: pending rows %v", got)
	}
}

func TestV3CentralEnrollmentGate(t *testing.T) {
	s, a, b := newPair(t, V3, "beta", unenrolled)
	if _, err := s.AddPrompt(t.Context(), "s1", ptr("beta"), "hi"); err != nil {
		t.Fatal(err)
	}
	if err := s.SoftDeleteObservation(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := s.HardDeleteObservation(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(t.Context(), "s1", ptr("done")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s.DB, `SELECT count(*) FROM sync_mutations`); n != 0 {
		t.Fatalf("v3 journaled %d rows of unenrolled beta", n)
	}
	if st, _ := syncState(t, s.DB, TargetCloud); st.Lifecycle != "idle" {
		t.Fatalf("sync_state cloud %+v", st)
	}

	enroll(t, s, "beta") // backfills what exists
	if got := journalOrder(t, s); len(got) != 3 || got[0] != "session:s1:upsert" {
		t.Fatalf("enrollment backfill %v", got)
	}
	c := observation(t, s, "s1", ptr("beta"))
	rows := journal(t, s.DB, EntityObservation)
	if last := rows[len(rows)-1]; last.EntityKey != c || last.Proj != "beta" {
		t.Fatalf("enrolled observation journal %+v", last)
	}
	rel := pending(t, s, b, c)
	seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict())
	if err != nil || seq == 0 {
		t.Fatalf("enrolled relation: seq %d, %v", seq, err)
	}
}

func TestV3InboxTarget(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		s := newStore(t, v)
		err := s.EnrollProject(t.Context(), " Inbox ")
		if v == V3 {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("v3 enrolled inbox: %v", err)
			}
			exec(t, s.DB, `INSERT INTO sync_enrolled_projects (project) VALUES ('inbox')`) // from an older engram
		} else if err != nil {
			t.Fatal(err)
		}
		session(t, s, "s1", "inbox")
		rows := journal(t, s.DB, EntitySession)
		if len(rows) != 1 || rows[0].Proj != "inbox" {
			t.Fatalf("session journal %+v", rows)
		}
		st, _ := syncState(t, s.DB, "cloud:inbox")
		if v == V3 {
			if st != (syncStateRow{Lifecycle: "inbox"}) {
				t.Fatalf("v3 set the reserved target: %+v", st)
			}
		} else if st.Lifecycle != "pending" || st.Enqueued != rows[0].Seq {
			t.Fatalf("cloud:inbox %+v", st)
		}
		checkLastEnqueued(t, s.DB, rows[0].Seq, "")
	})
}

var (
	secondStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$`)
	nanoStamp   = regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{9}$`)
)

// TestTimestamps guards the rule relsync's triggers lean on: every relation
// write is stamped datetime('now'), also in v3, whose Go stamps sessions with
// nanoseconds.
func TestTimestamps(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		s := newStore(t, v)
		session(t, s, "s1", "alpha")
		enroll(t, s, "alpha")
		if err := s.EndSession(t.Context(), "s1", nil); err != nil {
			t.Fatal(err)
		}
		var started, ended string
		if err := s.DB.QueryRow(`SELECT started_at, ended_at FROM sessions WHERE id = 's1'`).Scan(&started, &ended); err != nil {
			t.Fatal(err)
		}
		sessionStamp := map[bool]*regexp.Regexp{true: nanoStamp, false: secondStamp}[v.v3()]
		if !sessionStamp.MatchString(started) || !sessionStamp.MatchString(ended) {
			t.Fatalf("session stamps %q %q", started, ended)
		}
		if v.v3() {
			at, err := time.Parse(NanoStamp, started)
			if err != nil || time.Since(at) > time.Minute || time.Since(at) < -time.Minute {
				t.Fatalf("started_at %q is not UTC now (%v)", started, err)
			}
		}
		a, b, c := observation(t, s, "s1", ptr("alpha")), observation(t, s, "s1", ptr("alpha")), observation(t, s, "s1", ptr("alpha"))
		judge(t, s, pending(t, s, a, b), humanVerdict())
		if _, _, err := s.JudgeBySemantic(t.Context(), b, c, semanticVerdict()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.JudgeBySemantic(t.Context(), a, b, semanticVerdict()); err != nil { // existing pair
			t.Fatal(err)
		}
		if err := s.HardDeleteObservation(t.Context(), c); err != nil {
			t.Fatal(err)
		}
		stamps, err := sqlrows.Column[string](t.Context(), s.DB,
			`SELECT created_at FROM memory_relations UNION ALL SELECT updated_at FROM memory_relations`)
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range stamps {
			if !secondStamp.MatchString(st) {
				t.Fatalf("relation stamp %q is not datetime('now')", st)
			}
		}
	})
}

func TestV3RenameAndMergeCarryJournalAndEnrollment(t *testing.T) {
	t.Run("rename", func(t *testing.T) {
		s, a, b := newPair(t, V3, "old", enrolled)
		rel := pending(t, s, a, b)
		seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict())
		if err != nil || seq == 0 {
			t.Fatalf("judge: %d %v", seq, err)
		}
		if _, err := s.AckMutations(t.Context(), 1); err != nil { // the session row, acked
			t.Fatal(err)
		}
		// A row engram did not write (relsync's, say) and one of another project.
		exec(t, s.DB, `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
			VALUES ('cloud', 'relation', 'rel-foreign', 'upsert', '{"sync_id":"rel-foreign","project":"old"}', 'relsync', 'old'),
			       ('cloud', 'relation', 'rel-other', 'upsert', '{"project":"other"}', 'local', 'other')`)
		if err := s.MigrateProject(t.Context(), "old", "New--Name"); err != nil {
			t.Fatal(err)
		}
		got, err := sqlrows.Column[string](t.Context(), s.DB, `
			SELECT entity_key || ' ' || project || ' ' || ifnull(json_extract(payload, '$.project'), '-')
			FROM sync_mutations ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		want := []string{
			"s1 old old", // acked: left alone
			a + " new-name New--Name", b + " new-name New--Name",
			rel + " new-name New--Name",
			"rel-foreign new-name New--Name", "rel-other other other",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("journal after rename\n got %q\nwant %q", got, want)
		}
		enrolled, _ := sqlrows.Column[string](t.Context(), s.DB, selectEnrolledProjects)
		if !slices.Equal(enrolled, []string{"New--Name"}) {
			t.Fatalf("enrollment not carried: %v", enrolled)
		}
	})
	t.Run("merge", func(t *testing.T) {
		s := newStore(t, V3)
		session(t, s, "s1", "a")
		session(t, s, "s2", "b")
		enroll(t, s, "a")
		obs := observation(t, s, "s1", nil)
		if err := s.MergeProjects(t.Context(), []string{"a", "b"}, "Canon"); err != nil {
			t.Fatal(err)
		}
		enrolled, _ := sqlrows.Column[string](t.Context(), s.DB, selectEnrolledProjects)
		if !slices.Equal(enrolled, []string{"canon"}) {
			t.Fatalf("enrollment after merge: %v", enrolled)
		}
		// a's rows were rewritten; b, unenrolled, had none; the backfill
		// journals b's session under canon.
		got, err := sqlrows.Column[string](t.Context(), s.DB,
			`SELECT entity_key || ' ' || project || ' ' || json_extract(payload, '$.project') FROM sync_mutations ORDER BY seq`)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, []string{"s1 canon canon", obs + " canon canon", "s2 canon canon"}) {
			t.Fatalf("journal after merge %q", got)
		}
	})
	t.Run("unenrolled rename enrolls nothing", func(t *testing.T) {
		s := newStore(t, V3)
		session(t, s, "s1", "old")
		if err := s.MigrateProject(t.Context(), "old", "new"); err != nil {
			t.Fatal(err)
		}
		if count(t, s.DB, `SELECT count(*) FROM sync_enrolled_projects`)+count(t, s.DB, `SELECT count(*) FROM sync_mutations`) != 0 {
			t.Fatal("an unenrolled rename enrolled or journaled")
		}
	})
}

func TestPushSelectionAndQuarantine(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		ctx := context.Background()
		s := newStore(t, v)
		session(t, s, "s1", "alpha")
		enroll(t, s, "alpha")
		a := observation(t, s, "s1", ptr("alpha"))
		exec(t, s.DB, `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, project)
			VALUES ('cloud', 'relation', 'rel-beta', 'upsert', '{}', 'beta'),
			       ('cloud', 'relation', 'rel-none', 'upsert', '{}', '')`)
		keys := func() []string {
			ms, err := s.PushableMutations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range ms {
				out = append(out, m.EntityKey)
			}
			return out
		}
		if got := keys(); !slices.Equal(got, []string{"s1", a, "rel-none"}) {
			t.Fatalf("pushable %v", got)
		}
		if n, err := s.AckMutations(ctx, 1); err != nil || n != 1 {
			t.Fatalf("ack: %d %v", n, err)
		}
		if st, _ := syncState(t, s.DB, TargetCloud); count(t, s.DB, `SELECT last_acked_seq FROM sync_state WHERE target_key = 'cloud'`) != 1 {
			t.Fatalf("last_acked_seq: %+v", st)
		}
		err := s.QuarantineMutation(ctx, 2, "cannot repair")
		if !v.v3() {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("quarantine before v3: %v", err)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		var disp, reason, at string
		if err := s.DB.QueryRow(`SELECT disposition, disposition_reason, disposition_at FROM sync_mutations WHERE seq = 2`).
			Scan(&disp, &reason, &at); err != nil {
			t.Fatal(err)
		}
		if disp != DispositionQuarantined || reason != "cannot repair" || !nanoStamp.MatchString(at) {
			t.Fatalf("quarantined row: %s %q %s", disp, reason, at)
		}
		if got := keys(); !slices.Equal(got, []string{"rel-none"}) {
			t.Fatalf("pushable after quarantine %v", got)
		}
		if n, err := s.AckMutations(ctx, 2); err != nil || n != 0 {
			t.Fatalf("acked a quarantined row: %d %v", n, err)
		}
		if err := s.QuarantineMutation(ctx, 999, "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("quarantine of a missing row: %v", err)
		}
	})
}

// TestMigrateV3OnAnOpenHandle is the upgrade relsync's tests replay: a
// database written by v1.16.3, migrated by v3 on the same handle, then
// written by v3.
func TestMigrateV3OnAnOpenHandle(t *testing.T) {
	s, a, b := newPair(t, V1163, "alpha", enrolled)
	if err := MigrateV3(t.Context(), s.DB); err != nil {
		t.Fatal(err)
	}
	if err := MigrateV3(t.Context(), s.DB); err != nil {
		t.Fatal(err)
	}
	checkObjects(t, s.DB, "schema-v3.txt")
	v3 := &Store{DB: s.DB, Version: V3}
	seq, err := v3.JudgeRelation(t.Context(), pending(t, v3, a, b), humanVerdict())
	if err != nil || seq == 0 {
		t.Fatalf("v3 after migrate: seq %d, %v", seq, err)
	}
	var disposition string
	if err := s.DB.QueryRow(`SELECT disposition FROM sync_mutations WHERE seq = ?`, seq).Scan(&disposition); err != nil || disposition != DispositionPending {
		t.Fatalf("disposition %q (%v)", disposition, err)
	}
}
