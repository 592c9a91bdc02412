package testworld

import (
	"encoding/json"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// JournalRow is one local relation row of sync_mutations.
type JournalRow struct {
	Seq              int64
	Key, Op, Payload string
	Project          string
	Acked            bool
}

func (w *World) Rows(key string) []JournalRow {
	w.T.Helper()
	rs, err := w.DB().QueryContext(w.Ctx, `SELECT seq, entity_key, op, payload, project, acked_at IS NOT NULL
		FROM sync_mutations WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local'
		AND entity_key = ? ORDER BY seq`, key)
	w.Must(err)
	defer rs.Close()
	var out []JournalRow
	for rs.Next() {
		var r JournalRow
		w.Must(rs.Scan(&r.Seq, &r.Key, &r.Op, &r.Payload, &r.Project, &r.Acked))
		out = append(out, r)
	}
	w.Must(rs.Err())
	return out
}

func (w *World) Count(query string, args ...any) int {
	w.T.Helper()
	var n int
	w.Must(w.DB().QueryRowContext(w.Ctx, query, args...).Scan(&n))
	return n
}

// RelationRows is the number of local relation rows in the whole journal.
func (w *World) RelationRows() int {
	return w.Count(`SELECT count(*) FROM sync_mutations WHERE entity = 'relation' AND source = 'local'`)
}

// GoPayload is what engram v1.17's Go code journals for the relation now: the reference.
func (w *World) GoPayload(key string) (engram.RelationPayload, []byte) {
	w.T.Helper()
	p, err := engram.ReadRelationPayload(w.Ctx, w.DB(), key, engram.V117)
	w.Must(err)
	b, err := json.Marshal(p)
	w.Must(err)
	return p, b
}

// ExpectCount checks only how many local rows the relation has: for a relation whose current state
// is not the one its last row carries (a remote change, an orphaning), which is the point.
func (w *World) ExpectCount(key string, n int) {
	w.T.Helper()
	if rows := w.Rows(key); len(rows) != n {
		w.T.Fatalf("relation %s: %d journal rows, want %d: %+v", key, len(rows), n, rows)
	}
}

// ExpectRows checks that the relation has exactly n local rows and that the last one is faithful:
// payload byte-identical to encoding/json of the row (and decoding to the same value), the project
// column normalized, op upsert, and sync_state 'cloud' and 'cloud:<project>' pending at its seq.
func (w *World) ExpectRows(key string, n int) {
	w.T.Helper()
	w.ExpectRowsAs(key, n, engram.V117)
}

// ExpectRowsAs is ExpectRows with the payload engram version ref would write as the reference:
// v1.16.3's JudgeRelation names the raw observation project.
func (w *World) ExpectRowsAs(key string, n int, ref engram.Version) {
	w.T.Helper()
	if last, ok := w.ExpectFaithful(key, n, ref); ok {
		w.ExpectPendingAt(last)
	}
}

// ExpectFaithful is ExpectRowsAs without the sync_state check; it returns the last row.
func (w *World) ExpectFaithful(key string, n int, ref engram.Version) (JournalRow, bool) {
	w.T.Helper()
	rows := w.Rows(key)
	if len(rows) != n {
		w.T.Fatalf("relation %s: %d journal rows, want %d: %+v", key, len(rows), n, rows)
	}
	if n == 0 {
		return JournalRow{}, false
	}
	last := rows[n-1]
	want, err := engram.ReadRelationPayload(w.Ctx, w.DB(), key, ref)
	w.Must(err)
	wantBytes, err := json.Marshal(want)
	w.Must(err)
	var got engram.RelationPayload
	if err := json.Unmarshal([]byte(last.Payload), &got); err != nil {
		w.T.Fatalf("relation %s: payload does not decode: %v\n%s", key, err, last.Payload)
	}
	if last.Payload != string(wantBytes) {
		w.T.Errorf("relation %s: payload differs from encoding/json\n got %s\nwant %s", key, last.Payload, wantBytes)
	}
	if !EqualJSON(w.T, last.Payload, string(wantBytes)) {
		w.T.Errorf("relation %s: payload decodes to another value", key)
	}
	if last.Op != "upsert" {
		w.T.Errorf("relation %s: op %q", key, last.Op)
	}
	if wantProject := engram.NormalizeProject(want.Project); last.Project != wantProject {
		w.T.Errorf("relation %s: project column %q, want %q", key, last.Project, wantProject)
	}
	return last, true
}

// ExpectPendingAt checks sync_state 'cloud' and 'cloud:<project>': pending, last_enqueued_seq at
// the target's latest row, which a just-journaled relation row is. One exception, where engram v3
// journals an observation late (its enrollment backfill) and relsync moves a waiting relation row
// behind it inside engram's insert: engram then sets the state to its own row's seq, so the state
// may name an observation row followed only by relation rows.
func (w *World) ExpectPendingAt(last JournalRow) {
	w.T.Helper()
	for _, target := range []string{"cloud", "cloud:" + last.Project} {
		var lifecycle string
		var seq int64
		w.Must(w.DB().QueryRowContext(w.Ctx, `SELECT lifecycle, last_enqueued_seq FROM sync_state WHERE target_key = ?`,
			target).Scan(&lifecycle, &seq))
		want := w.maxRelationSeq(target)
		if seq != want && w.movedBehind(target, seq) {
			want = seq
		}
		if lifecycle != "pending" || seq != want {
			w.T.Errorf("sync_state %s: %s at %d, want pending at %d", target, lifecycle, seq, want)
		}
	}
}

// movedBehind reports whether the target's row at seq is an observation and every later row of
// the target a relation row (the rows relsync moved behind it).
func (w *World) movedBehind(target string, seq int64) bool {
	w.T.Helper()
	q := `SELECT (SELECT entity FROM sync_mutations WHERE seq = ?1) = 'observation'
	        AND NOT EXISTS (SELECT 1 FROM sync_mutations WHERE seq > ?1 AND target_key = 'cloud'
	                        AND entity <> 'relation' AND (?2 = 'cloud' OR project = substr(?2, 7)))`
	var ok bool
	w.Must(w.DB().QueryRowContext(w.Ctx, q, seq, target).Scan(&ok))
	return ok
}

// maxRelationSeq is the seq the target's last_enqueued_seq must show when relation rows were the
// last thing journaled for it.
func (w *World) maxRelationSeq(target string) int64 {
	w.T.Helper()
	var seq int64
	q := `SELECT max(seq) FROM sync_mutations WHERE target_key = 'cloud'`
	args := []any{}
	if target != "cloud" {
		q += ` AND project = ?`
		args = append(args, target[len("cloud:"):])
	}
	w.Must(w.DB().QueryRowContext(w.Ctx, q, args...).Scan(&seq))
	return seq
}

func EqualJSON(t testing.TB, a, b string) bool {
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
