package relsync

import (
	"context"
	"database/sql"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// world is an engram database on a real file, replayed as engram version v writes it.
type world struct {
	t    testing.TB
	ctx  context.Context
	path string
	s    *engram.Store
}

func newWorld(t testing.TB, v engram.Version) *world {
	t.Helper()
	path := filepath.Join(t.TempDir(), "engram.db")
	db, err := engram.CreateVersion(path, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &world{t: t, ctx: context.Background(), path: path, s: &engram.Store{DB: db, Version: v}}
}

func (w *world) db() *sql.DB { return w.s.DB }

func (w *world) exec(query string) {
	w.t.Helper()
	_, err := w.db().ExecContext(w.ctx, query)
	w.must(err)
}

// verify is relsync.Verify on the world's database.
func (w *world) verify() Report {
	w.t.Helper()
	rep, err := Verify(w.ctx, w.db())
	w.must(err)
	return rep
}

func (w *world) must(err error) {
	w.t.Helper()
	if err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) up() {
	w.t.Helper()
	w.must(Up(w.ctx, w.db()))
}

func (w *world) session(id, project string) {
	w.t.Helper()
	w.must(w.s.CreateSession(w.ctx, id, project, "/home/dev/"+project))
}

// obs adds an observation; project nil leaves its project column NULL.
func (w *world) obs(session string, project *string) string {
	w.t.Helper()
	id, err := w.s.AddObservation(w.ctx, session, project, "title", "content")
	w.must(err)
	return id
}

func (w *world) enroll(project string) {
	w.t.Helper()
	w.must(w.s.EnrollProject(w.ctx, project))
}

func (w *world) pending(src, tgt string) string {
	w.t.Helper()
	id, err := w.s.SavePendingRelation(w.ctx, src, tgt)
	w.must(err)
	return id
}

func (w *world) judge(rel string, v engram.Verdict) {
	w.t.Helper()
	_, err := w.s.JudgeRelation(w.ctx, rel, v)
	w.must(err)
}

func (w *world) semantic(src, tgt string, v engram.Verdict) string {
	w.t.Helper()
	id, _, err := w.s.JudgeBySemantic(w.ctx, src, tgt, v)
	w.must(err)
	return id
}

// semVerdict is what JudgeBySemantic records: engram/system, a Go string reason, a confidence.
func semVerdict(relation string) engram.Verdict {
	return engram.Verdict{Relation: relation, Reason: ptr(""), Confidence: ptr(0.7), Actor: "engram", Kind: "system", Model: ptr("embed-1")}
}

func ptr[T any](v T) *T { return &v }

// verdict is a typical agent verdict.
func verdict() engram.Verdict {
	return engram.Verdict{Relation: "related", Reason: ptr("same topic"), Evidence: ptr("both say X"),
		Confidence: ptr(0.8), Actor: "claude", Kind: "agent", Model: ptr("opus")}
}

// journalRow is one local relation row of sync_mutations.
type journalRow struct {
	Seq              int64
	Key, Op, Payload string
	Project          string
	Acked            bool
}

func (w *world) rows(key string) []journalRow {
	w.t.Helper()
	rs, err := w.db().QueryContext(w.ctx, `SELECT seq, entity_key, op, payload, project, acked_at IS NOT NULL
		FROM sync_mutations WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'
		AND entity_key = ? ORDER BY seq`, key)
	w.must(err)
	defer rs.Close()
	var out []journalRow
	for rs.Next() {
		var r journalRow
		w.must(rs.Scan(&r.Seq, &r.Key, &r.Op, &r.Payload, &r.Project, &r.Acked))
		out = append(out, r)
	}
	w.must(rs.Err())
	return out
}

func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	w.must(w.db().QueryRowContext(w.ctx, query, args...).Scan(&n))
	return n
}

// relationRows is the number of local relation rows in the whole journal.
func (w *world) relationRows() int {
	return w.count(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation' AND source = 'local'`)
}

// goPayload is what engram v1.17's Go code journals for the relation now: the reference.
func (w *world) goPayload(key string) (engram.RelationPayload, []byte) {
	w.t.Helper()
	p, err := engram.ReadRelationPayload(w.ctx, w.db(), key, engram.V117)
	w.must(err)
	b, err := json.Marshal(p)
	w.must(err)
	return p, b
}

// expectCount checks only how many local rows the relation has: for a relation whose current state
// is not the one its last row carries (a remote change, an orphaning), which is the point.
func (w *world) expectCount(key string, n int) {
	w.t.Helper()
	if rows := w.rows(key); len(rows) != n {
		w.t.Fatalf("relation %s: %d journal rows, want %d: %+v", key, len(rows), n, rows)
	}
}

// expectRows checks that the relation has exactly n local rows and that the last one is faithful:
// payload byte-identical to encoding/json of the row (and decoding to the same value), the project
// column normalized, op upsert, and sync_state 'cloud' and 'cloud:<project>' pending at its seq.
func (w *world) expectRows(key string, n int) {
	w.t.Helper()
	w.expectRowsAs(key, n, engram.V117)
}

// expectRowsAs is expectRows with the payload engram version ref would write as the reference:
// v1.16.3's JudgeRelation names the raw observation project.
func (w *world) expectRowsAs(key string, n int, ref engram.Version) {
	w.t.Helper()
	if last, ok := w.expectFaithful(key, n, ref); ok {
		w.expectPendingAt(last)
	}
}

// expectFaithful is expectRowsAs without the sync_state check; it returns the last row.
func (w *world) expectFaithful(key string, n int, ref engram.Version) (journalRow, bool) {
	w.t.Helper()
	rows := w.rows(key)
	if len(rows) != n {
		w.t.Fatalf("relation %s: %d journal rows, want %d: %+v", key, len(rows), n, rows)
	}
	if n == 0 {
		return journalRow{}, false
	}
	last := rows[n-1]
	want, err := engram.ReadRelationPayload(w.ctx, w.db(), key, ref)
	w.must(err)
	wantBytes, err := json.Marshal(want)
	w.must(err)
	var got engram.RelationPayload
	if err := json.Unmarshal([]byte(last.Payload), &got); err != nil {
		w.t.Fatalf("relation %s: payload does not decode: %v\n%s", key, err, last.Payload)
	}
	if last.Payload != string(wantBytes) {
		w.t.Errorf("relation %s: payload differs from encoding/json\n got %s\nwant %s", key, last.Payload, wantBytes)
	}
	if !equalJSON(w.t, last.Payload, string(wantBytes)) {
		w.t.Errorf("relation %s: payload decodes to another value", key)
	}
	if last.Op != "upsert" {
		w.t.Errorf("relation %s: op %q", key, last.Op)
	}
	if wantProject := engram.NormalizeProject(want.Project); last.Project != wantProject {
		w.t.Errorf("relation %s: project column %q, want %q", key, last.Project, wantProject)
	}
	return last, true
}

// expectPendingAt checks sync_state 'cloud' and 'cloud:<project>': pending, last_enqueued_seq at
// the target's latest row, which a just-journaled relation row is. One exception, where engram v3
// journals an observation late (its enrollment backfill) and relsync moves a waiting relation row
// behind it inside engram's insert: engram then sets the state to its own row's seq, so the state
// may name an observation row followed only by relation rows.
func (w *world) expectPendingAt(last journalRow) {
	w.t.Helper()
	for _, target := range []string{"cloud", "cloud:" + last.Project} {
		var lifecycle string
		var seq int64
		w.must(w.db().QueryRowContext(w.ctx, `SELECT lifecycle, last_enqueued_seq FROM sync_state WHERE target_key = ?`,
			target).Scan(&lifecycle, &seq))
		want := w.maxRelationSeq(target)
		if seq != want && w.movedBehind(target, seq) {
			want = seq
		}
		if lifecycle != "pending" || seq != want {
			w.t.Errorf("sync_state %s: %s at %d, want pending at %d", target, lifecycle, seq, want)
		}
	}
}

// movedBehind reports whether the target's row at seq is an observation and every later row of
// the target a relation row (the rows relsync moved behind it).
func (w *world) movedBehind(target string, seq int64) bool {
	w.t.Helper()
	q := `SELECT (SELECT entity FROM sync_mutations WHERE seq = ?1) = 'observation'
	        AND NOT EXISTS (SELECT 1 FROM sync_mutations WHERE seq > ?1 AND target_key = 'cloud'
	                        AND entity <> 'relation' AND (?2 = 'cloud' OR project = substr(?2, 7)))`
	var ok bool
	w.must(w.db().QueryRowContext(w.ctx, q, seq, target).Scan(&ok))
	return ok
}

// maxRelationSeq is the seq the target's last_enqueued_seq must show when relation rows were the
// last thing journaled for it.
func (w *world) maxRelationSeq(target string) int64 {
	w.t.Helper()
	var seq int64
	q := `SELECT max(seq) FROM sync_mutations WHERE target_key = 'cloud'`
	args := []any{}
	if target != "cloud" {
		q += ` AND project = ?`
		args = append(args, target[len("cloud:"):])
	}
	w.must(w.db().QueryRowContext(w.ctx, q, args...).Scan(&seq))
	return seq
}

func equalJSON(t testing.TB, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		t.Fatalf("invalid JSON %q: %v", a, err)
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return string(xb) == string(yb)
}
