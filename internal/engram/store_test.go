package engram

import (
	"database/sql"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/sqlrows"
)

// --- helpers -----------------------------------------------------------

func ptr[T any](v T) *T { return &v }

// createDB creates engram.db of version v in the test's temporary directory; the caller closes it.
func createDB(t *testing.T, v Version) (path string, db *sql.DB) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "engram.db")
	db, err := CreateVersion(path, v)
	if err != nil {
		t.Fatal(err)
	}
	return path, db
}

func newStore(t *testing.T, v Version) *Store {
	t.Helper()
	_, db := createDB(t, v)
	t.Cleanup(func() { db.Close() })
	return &Store{DB: db, Version: v}
}

// enrolled and unenrolled say whether newPair enrolls its project.
const enrolled, unenrolled = true, false

// newPair is a new store of version v with session s1 of project and two observations of that
// project; with enrolled, the project is enrolled before the observations are written.
func newPair(t *testing.T, v Version, project string, enrolled bool) (s *Store, a, b string) {
	t.Helper()
	s = newStore(t, v)
	session(t, s, "s1", project)
	if enrolled {
		enroll(t, s, project)
	}
	return s, observation(t, s, "s1", ptr(project)), observation(t, s, "s1", ptr(project))
}

var versions = []Version{V1163, V117, V3}

func forEachVersion(t *testing.T, fn func(t *testing.T, v Version)) {
	for _, v := range versions {
		t.Run(v.String(), func(t *testing.T) { fn(t, v) })
	}
}

type journalRow struct {
	Seq                                          int64
	Entity, EntityKey, Op, Payload, Source, Proj string
}

func journal(t *testing.T, db *sql.DB, entity string) []journalRow {
	t.Helper()
	out, err := sqlrows.Scan(t.Context(), db, `SELECT seq, entity, entity_key, op, payload, source, project
		FROM sync_mutations WHERE target_key = 'cloud' AND entity = ? ORDER BY seq`,
		func(rows *sql.Rows, r *journalRow) error {
			return rows.Scan(&r.Seq, &r.Entity, &r.EntityKey, &r.Op, &r.Payload, &r.Source, &r.Proj)
		}, entity)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.Exec(query, args...); err != nil {
		t.Fatal(err)
	}
}

type syncStateRow struct {
	Lifecycle        string
	Enqueued, Pulled int64
}

func syncState(t *testing.T, db *sql.DB, key string) (syncStateRow, bool) {
	t.Helper()
	var r syncStateRow
	err := db.QueryRow(`SELECT lifecycle, last_enqueued_seq, last_pulled_seq FROM sync_state WHERE target_key = ?`, key).
		Scan(&r.Lifecycle, &r.Enqueued, &r.Pulled)
	if errors.Is(err, sql.ErrNoRows) {
		return r, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return r, true
}

func session(t *testing.T, s *Store, id, project string) {
	t.Helper()
	if err := s.CreateSession(t.Context(), id, project, "/work/"+id); err != nil {
		t.Fatal(err)
	}
}

func observation(t *testing.T, s *Store, sessionID string, project *string) string {
	t.Helper()
	id, err := s.AddObservation(t.Context(), sessionID, project, "title", "content")
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func pending(t *testing.T, s *Store, src, tgt string) string {
	t.Helper()
	id, err := s.SavePendingRelation(t.Context(), src, tgt)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// judge is JudgeRelation, which must not fail; it returns the journal seq.
func judge(t *testing.T, s *Store, rel string, v Verdict) int64 {
	t.Helper()
	seq, err := s.JudgeRelation(t.Context(), rel, v)
	if err != nil {
		t.Fatal(err)
	}
	return seq
}

func enroll(t *testing.T, s *Store, project string) {
	t.Helper()
	if err := s.EnrollProject(t.Context(), project); err != nil {
		t.Fatal(err)
	}
}

func humanVerdict() Verdict {
	return Verdict{
		Relation: RelConflictsWith, Reason: ptr("they disagree"), Confidence: ptr(0.75),
		Actor: "alice", Kind: "human", SessionID: ptr("s1"),
	}
}

func semanticVerdict() Verdict {
	return Verdict{Relation: RelRelated, Confidence: ptr(0.5), Model: ptr("embed-1")}
}

// checkRelationRow checks a relation journal row against §4 and §5: its
// columns, and a payload that is what ReadRelationPayload reads now, byte
// for byte.
func checkRelationRow(t *testing.T, s *Store, row journalRow, seq int64, project string) {
	t.Helper()
	if row.Seq != seq || row.Entity != EntityRelation || row.Op != OpUpsert || row.Source != SourceLocal || row.Proj != project {
		t.Fatalf("journal row %+v, want seq %d, project %q", row, seq, project)
	}
	want, err := ReadRelationPayload(t.Context(), s.DB, row.EntityKey, s.Version)
	if err != nil {
		t.Fatal(err)
	}
	var got RelationPayload
	if err := json.Unmarshal([]byte(row.Payload), &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("payload %s decodes to %+v, want %+v", row.Payload, got, want)
	}
	if b, _ := json.Marshal(want); string(b) != row.Payload {
		t.Fatalf("payload bytes %s, want %s", row.Payload, b)
	}
}

// expectRelationRow checks that the journal holds one relation row, of relation rel in project,
// as checkRelationRow and checkLastEnqueued check it; seq, unless 0, is the seq the write path
// returned, which the row must have.
func expectRelationRow(t *testing.T, s *Store, rel string, seq int64, project string) {
	t.Helper()
	rows := journal(t, s.DB, EntityRelation)
	if len(rows) != 1 || rows[0].EntityKey != rel {
		t.Fatalf("want one relation row, of %s: %+v", rel, rows)
	}
	if seq == 0 {
		seq = rows[0].Seq
	}
	checkRelationRow(t, s, rows[0], seq, project)
	checkLastEnqueued(t, s.DB, seq, project)
}

// expectNoRelationRow checks that a write path returned seq 0 and the journal holds no relation
// row; what says which version wrote what.
func expectNoRelationRow(t *testing.T, s *Store, seq int64, what string) {
	t.Helper()
	if rows := journal(t, s.DB, EntityRelation); seq != 0 || len(rows) != 0 {
		t.Fatalf("%s: seq %d, %+v", what, seq, rows)
	}
}

// checkLastEnqueued checks that sync_state has seq as the last enqueued row
// of 'cloud' and, when project is not empty, of 'cloud:<project>'.
func checkLastEnqueued(t *testing.T, db *sql.DB, seq int64, project string) {
	t.Helper()
	keys := []string{TargetCloud}
	if project != "" {
		keys = append(keys, TargetCloud+":"+project)
	}
	for _, k := range keys {
		st, ok := syncState(t, db, k)
		if !ok || st.Lifecycle != "pending" || st.Enqueued != seq {
			t.Fatalf("sync_state %s = %+v (exists %v), want pending at %d", k, st, ok, seq)
		}
	}
}

// --- open ----------------------------------------------------------------

func TestOpenLikeEngram(t *testing.T) {
	path, db := createDB(t, V1163)
	for pragma, want := range map[string]string{
		"journal_mode": "wal", "busy_timeout": "5000", "synchronous": "1", "foreign_keys": "1",
	} {
		var got string
		if err := db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	for _, name := range []string{"obs_fts_insert", "obs_fts_delete", "obs_fts_update",
		"prompt_fts_insert", "prompt_fts_delete", "prompt_fts_update", "idx_sync_mutations_lookup"} {
		if count(t, db, `SELECT count(*) FROM sqlite_master WHERE name = ?`, name) != 1 {
			t.Errorf("%s missing", name)
		}
	}
	db.Close()

	if _, err := Create(path); err == nil {
		t.Fatal("Create on an existing file succeeded")
	}
	db, err := Open(path) // the schema pass is idempotent
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	other, err := sql.Open(DriverName, DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if count(t, other, "PRAGMA foreign_keys") != 1 || count(t, other, "PRAGMA busy_timeout") != 5000 {
		t.Fatal("DSN does not apply engram's pragmas")
	}
}

func TestOpenFixesJournalProjects(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engram.db")
	s := &Store{Version: V117}
	var err error
	if s.DB, err = Create(path); err != nil {
		t.Fatal(err)
	}
	session(t, s, "s1", "Alpha")
	exec(t, s.DB, `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload)
		VALUES ('cloud', 'relation', 'rel-a', 'upsert', '{"project":"My--Proj"}'),
		       ('cloud', 'relation', 'rel-b', 'upsert', '{"project":"","session_id":"s1"}'),
		       ('cloud', 'relation', 'rel-c', 'upsert', '{"project":""}')`)
	s.DB.Close()

	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"rel-a": "my-proj", "rel-b": "alpha", "rel-c": ""} {
		var got string
		if err := db.QueryRow(`SELECT project FROM sync_mutations WHERE entity_key = ?`, key).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: project %q, want %q", key, got, want)
		}
	}
	// A payload SQLite's JSON functions cannot parse fails every open.
	exec(t, db, `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload)
		VALUES ('cloud', 'relation', 'rel-d', 'upsert', '{not json')`)
	db.Close()
	if db, err := Open(path); err == nil {
		db.Close()
		t.Fatal("Open succeeded over an unparsable journal payload")
	}
}

// --- payload -------------------------------------------------------------

func TestNormalizeProject(t *testing.T) {
	for in, want := range map[string]string{
		"alpha": "alpha", "  Alpha ": "alpha", "My--Proj": "my-proj", "a____b": "a_b",
		"a---b": "a-b", "a-_-b": "a-_-b", "": "", "  ": "",
	} {
		if got := NormalizeProject(in); got != want {
			t.Errorf("NormalizeProject(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRelationPayloadEncoding(t *testing.T) {
	p := RelationPayload{
		SyncID: "rel-0123456789abcdef", SourceID: "obs-a", Relation: RelRelated,
		Reason: ptr(""), Confidence: ptr(1.0), JudgmentStatus: "judged",
		MarkedByActor: ptr("a<b>&c"), MarkedByKind: ptr("human"),
		CreatedAt: "2026-06-13 10:00:00", UpdatedAt: "2026-06-13 10:00:01",
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"sync_id":"rel-0123456789abcdef","source_id":"obs-a","target_id":"","relation":"related",` +
		`"reason":"","confidence":1,"judgment_status":"judged","marked_by_actor":"a\u003cb\u003e\u0026c",` +
		`"marked_by_kind":"human","project":"","created_at":"2026-06-13 10:00:00","updated_at":"2026-06-13 10:00:01"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	p.Confidence = ptr(0.0) // NULL is omitted, zero is not
	if b, _ := json.Marshal(p); !json.Valid(b) || !strings.Contains(string(b), `"confidence":0,`) {
		t.Fatalf("zero confidence lost: %s", b)
	}
}

func TestReadRelationPayloadProject(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		s := newStore(t, v)
		session(t, s, "s1", "Alpha")
		src := observation(t, s, "s1", nil) // project NULL: only the session knows
		tgt := observation(t, s, "s1", ptr("alpha"))
		rel := pending(t, s, src, tgt)
		p, err := ReadRelationPayload(t.Context(), s.DB, rel, v)
		if err != nil {
			t.Fatal(err)
		}
		want := map[Version]string{V1163: "", V117: "Alpha", V3: "Alpha"}[v] // raw, not normalized
		if p.Project != want || p.Reason != nil || p.Confidence != nil || p.JudgmentStatus != "pending" {
			t.Fatalf("payload %+v, want project %q and NULL verdict fields", p, want)
		}
		if _, err := ReadRelationPayload(t.Context(), s.DB, "rel-missing", v); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing relation: %v", err)
		}
	})
}

// --- sessions, observations, prompts -------------------------------------

func TestEntityWritesJournalEveryProject(t *testing.T) {
	s := newStore(t, V1163)
	session(t, s, "s1", "Beta") // never enrolled
	obs := observation(t, s, "s1", nil)
	prompt, err := s.AddPrompt(t.Context(), "s1", ptr("beta"), "hello")
	if err != nil {
		t.Fatal(err)
	}
	for entity, key := range map[string]string{EntitySession: "s1", EntityObservation: obs, EntityPrompt: prompt} {
		rows := journal(t, s.DB, entity)
		if len(rows) != 1 || rows[0].EntityKey != key || rows[0].Op != OpUpsert || rows[0].Proj != "beta" {
			t.Fatalf("%s journal: %+v", entity, rows)
		}
	}
	st, _ := syncState(t, s.DB, "cloud:beta")
	if last := journal(t, s.DB, EntityPrompt)[0].Seq; st.Enqueued != last || st.Lifecycle != "pending" {
		t.Fatalf("cloud:beta %+v, want pending at %d", st, last)
	}

	if err := s.SoftDeleteObservation(t.Context(), obs); err != nil {
		t.Fatal(err)
	}
	rows := journal(t, s.DB, EntityObservation)
	var p observationPayload
	if err := json.Unmarshal([]byte(rows[1].Payload), &p); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[1].Op != OpDelete || !p.Deleted || p.DeletedAt == nil {
		t.Fatalf("soft delete journal: %+v", rows)
	}
	if err := s.SoftDeleteObservation(t.Context(), obs); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second soft delete: %v", err)
	}
}

func TestHardDeleteOrphansRelations(t *testing.T) {
	s := newStore(t, V117)
	session(t, s, "s1", "alpha")
	a, b, c := observation(t, s, "s1", nil), observation(t, s, "s1", nil), observation(t, s, "s1", nil)
	ab, bc := pending(t, s, a, b), pending(t, s, b, c)
	exec(t, s.DB, `UPDATE memory_relations SET updated_at = '2000-01-01 00:00:00'`)

	if err := s.HardDeleteObservation(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	var status, updated string
	if err := s.DB.QueryRow(`SELECT judgment_status, updated_at FROM memory_relations WHERE sync_id = ?`, ab).
		Scan(&status, &updated); err != nil {
		t.Fatal(err)
	}
	if status != "orphaned" || updated == "2000-01-01 00:00:00" {
		t.Fatalf("relation of the deleted observation: %s at %s", status, updated)
	}
	if count(t, s.DB, `SELECT count(*) FROM memory_relations WHERE sync_id = ? AND judgment_status = 'pending'`, bc) != 1 {
		t.Fatal("an unrelated relation changed")
	}
	if count(t, s.DB, `SELECT count(*) FROM observations WHERE sync_id = ?`, a) != 0 {
		t.Fatal("observation row still there")
	}
	if len(journal(t, s.DB, EntityRelation)) != 0 {
		t.Fatal("orphaning journaled a relation")
	}
	rows := journal(t, s.DB, EntityObservation)
	if last := rows[len(rows)-1]; last.EntityKey != a || last.Op != OpDelete {
		t.Fatalf("hard delete journal: %+v", last)
	}
}

// --- JudgeRelation -------------------------------------------------------

func TestSavePendingRelationNeverJournals(t *testing.T) {
	s, a, b := newPair(t, V117, "alpha", enrolled)
	rel := pending(t, s, a, b)
	if len(rel) != len("rel-")+16 {
		t.Fatalf("sync_id %q", rel)
	}
	if n := len(journal(t, s.DB, EntityRelation)); n != 0 {
		t.Fatalf("%d relation rows for a pending relation", n)
	}
}

func TestJudgeRelation(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		t.Run("enrolled", func(t *testing.T) {
			s, a, b := newPair(t, v, "alpha", enrolled)
			rel := pending(t, s, a, b)
			seq := judge(t, s, rel, humanVerdict())
			expectRelationRow(t, s, rel, seq, "alpha")
			if max := count(t, s.DB, `SELECT max(seq) FROM sync_mutations`); int64(max) != seq {
				t.Fatalf("seq %d is not the last insert %d", seq, max)
			}
		})
		t.Run("unenrolled", func(t *testing.T) {
			s, a, b := newPair(t, v, "alpha", unenrolled)
			rel := pending(t, s, a, b)
			seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict())
			if err != nil || seq != 0 || len(journal(t, s.DB, EntityRelation)) != 0 {
				t.Fatalf("seq %d, err %v: journaled an unenrolled relation", seq, err)
			}
			if count(t, s.DB, `SELECT count(*) FROM memory_relations WHERE judgment_status = 'judged' AND marked_by_actor = 'alice'`) != 1 {
				t.Fatal("verdict not written")
			}
		})
		t.Run("project only on the session", func(t *testing.T) {
			s := newStore(t, v)
			session(t, s, "s1", "alpha")
			enroll(t, s, "alpha")
			rel := pending(t, s, observation(t, s, "s1", nil), observation(t, s, "s1", nil))
			seq := judge(t, s, rel, humanVerdict())
			if v == V1163 {
				expectNoRelationRow(t, s, seq, "v1.16.3 journaled through the session")
				return
			}
			expectRelationRow(t, s, rel, seq, "alpha")
		})
		t.Run("source without project, target enrolled", func(t *testing.T) {
			s := newStore(t, v)
			session(t, s, "s1", "")
			session(t, s, "s2", "alpha")
			enroll(t, s, "alpha")
			rel := pending(t, s, observation(t, s, "s1", nil), observation(t, s, "s2", ptr("alpha")))
			verdict := humanVerdict()
			verdict.SessionID = ptr("s2")
			seq := judge(t, s, rel, verdict)
			if v == V3 { // v3's gate is source-only: an empty source project stays local
				expectNoRelationRow(t, s, seq, "v3 journaled through the target")
				return
			}
			rows := journal(t, s.DB, EntityRelation)
			if len(rows) != 1 || !strings.Contains(rows[0].Payload, `"project":""`) {
				t.Fatalf("want one row with an empty payload project: %+v", rows)
			}
			checkRelationRow(t, s, rows[0], seq, "alpha") // column from the relation's session
			checkLastEnqueued(t, s.DB, seq, "alpha")
		})
		t.Run("soft-deleted observation", func(t *testing.T) {
			s := newStore(t, v)
			session(t, s, "s1", "alpha")
			enroll(t, s, "alpha")
			src := observation(t, s, "s1", ptr("alpha"))
			rel := pending(t, s, src, observation(t, s, "s1", ptr("alpha")))
			if err := s.SoftDeleteObservation(t.Context(), src); err != nil {
				t.Fatal(err)
			}
			if seq, err := s.JudgeRelation(t.Context(), rel, humanVerdict()); err != nil || seq == 0 {
				t.Fatalf("seq %d, err %v: Go's gate ignores deleted_at", seq, err)
			}
		})
		t.Run("refusals", func(t *testing.T) {
			s := newStore(t, v)
			if _, err := s.JudgeRelation(t.Context(), "rel-missing", humanVerdict()); !errors.Is(err, ErrNotFound) {
				t.Fatalf("missing relation: %v", err)
			}
			bad := humanVerdict()
			bad.Relation = "likes"
			if _, err := s.JudgeRelation(t.Context(), "rel-missing", bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("bad verb: %v", err)
			}
		})
	})
}

// --- JudgeBySemantic -----------------------------------------------------

func TestJudgeBySemantic(t *testing.T) {
	forEachVersion(t, func(t *testing.T, v Version) {
		t.Run("new pair", func(t *testing.T) {
			s, src, tgt := newPair(t, v, "alpha", enrolled)
			rel, seq, err := s.JudgeBySemantic(t.Context(), src, tgt, semanticVerdict())
			if err != nil {
				t.Fatal(err)
			}
			p, err := ReadRelationPayload(t.Context(), s.DB, rel, v)
			if err != nil {
				t.Fatal(err)
			}
			if p.SourceID != src || p.JudgmentStatus != "judged" || p.Reason == nil || *p.Reason != "" ||
				*p.MarkedByActor != "engram" || *p.MarkedByKind != "system" || *p.MarkedByModel != "embed-1" ||
				p.SessionID != nil || *p.Confidence != 0.5 {
				t.Fatalf("relation %+v", p)
			}
			if v == V1163 {
				expectNoRelationRow(t, s, seq, "v1.16.3 journaled")
				return
			}
			expectRelationRow(t, s, rel, seq, "alpha")
		})
		t.Run("existing pair either way", func(t *testing.T) {
			s, src, tgt := newPair(t, v, "alpha", unenrolled)
			existing := pending(t, s, tgt, src)
			rel, seq, err := s.JudgeBySemantic(t.Context(), src, tgt, semanticVerdict())
			if err != nil || rel != existing || seq != 0 {
				t.Fatalf("rel %s seq %d err %v, want update of %s, unenrolled", rel, seq, err, existing)
			}
			if count(t, s.DB, `SELECT count(*) FROM memory_relations WHERE judgment_status = 'judged'`) != 1 ||
				count(t, s.DB, `SELECT count(*) FROM memory_relations`) != 1 {
				t.Fatal("pair not updated in place")
			}
		})
		t.Run("not_conflict", func(t *testing.T) {
			s, src, tgt := newPair(t, v, "alpha", enrolled)
			verdict := semanticVerdict()
			verdict.Relation = RelNotConflict
			rel, seq, err := s.JudgeBySemantic(t.Context(), src, tgt, verdict)
			if err != nil {
				t.Fatal(err)
			}
			if !v.v3() { // v1.16.3 and v1.17 write nothing for it
				if rel != "" || seq != 0 || count(t, s.DB, `SELECT count(*) FROM memory_relations`) != 0 {
					t.Fatalf("rel %q seq %d", rel, seq)
				}
				return
			}
			// v3 persists it like any verdict and journals it when enrolled.
			p, err := ReadRelationPayload(t.Context(), s.DB, rel, v)
			if err != nil {
				t.Fatal(err)
			}
			if p.Relation != RelNotConflict || p.JudgmentStatus != "judged" || *p.MarkedByActor != "engram" {
				t.Fatalf("relation %+v", p)
			}
			expectRelationRow(t, s, rel, seq, "alpha")
		})
		t.Run("cross project", func(t *testing.T) {
			s := newStore(t, v)
			session(t, s, "s1", "alpha")
			_, _, err := s.JudgeBySemantic(t.Context(),
				observation(t, s, "s1", ptr("alpha")), observation(t, s, "s1", ptr("beta")), semanticVerdict())
			if !errors.Is(err, ErrCrossProject) {
				t.Fatalf("alpha vs beta: %v", err)
			}
			// NULL project in session alpha vs alpha: v1.16.3 compares raw columns.
			_, _, err = s.JudgeBySemantic(t.Context(),
				observation(t, s, "s1", nil), observation(t, s, "s1", ptr("alpha")), semanticVerdict())
			if refused := errors.Is(err, ErrCrossProject); refused != (v == V1163) || (!refused && err != nil) {
				t.Fatalf("session fallback: %v", err)
			}
		})
		t.Run("confidence", func(t *testing.T) {
			s := newStore(t, v)
			for _, c := range []*float64{nil, ptr(-0.1), ptr(1.5)} {
				verdict := semanticVerdict()
				verdict.Confidence = c
				if _, _, err := s.JudgeBySemantic(t.Context(), "obs-a", "obs-b", verdict); !errors.Is(err, ErrInvalid) {
					t.Fatalf("confidence %v: %v", c, err)
				}
			}
		})
	})
}
