package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/relsync/relsync/internal/engram"
)

// Engram's statements that write relations and the journal, as internal/engram runs them (each
// through tx.Exec with arguments, so prepared anew every time). They are copied here because
// internal/engram keeps them unexported; the fixture check (fixture_check_test.go) and the
// path tests exercise the originals.
const (
	benchJudgeUpdate = `
UPDATE memory_relations
SET relation = ?, reason = ?, evidence = ?, confidence = ?, judgment_status = 'judged',
    marked_by_actor = ?, marked_by_kind = ?, marked_by_model = ?, session_id = ?,
    updated_at = datetime('now')
WHERE sync_id = ?`

	benchSemanticInsert = `
INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, confidence,
    judgment_status, marked_by_actor, marked_by_kind, marked_by_model, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, 'judged', 'engram', 'system', ?, datetime('now'), datetime('now'))`

	benchJournalInsert = `INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
VALUES (?, ?, ?, ?, ?, ?, ?)`

	benchRemoteUpsert = `
INSERT INTO memory_relations (sync_id, source_id, target_id, relation, reason, evidence, confidence,
    judgment_status, marked_by_actor, marked_by_kind, marked_by_model, session_id, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(sync_id) DO UPDATE SET
    source_id = excluded.source_id, target_id = excluded.target_id, relation = excluded.relation,
    reason = excluded.reason, evidence = excluded.evidence, confidence = excluded.confidence,
    judgment_status = excluded.judgment_status, marked_by_actor = excluded.marked_by_actor,
    marked_by_kind = excluded.marked_by_kind, marked_by_model = excluded.marked_by_model,
    session_id = excluded.session_id, updated_at = excluded.updated_at`

	benchSoftDelete = `
UPDATE observations SET deleted_at = datetime('now'), updated_at = datetime('now')
WHERE sync_id = ? AND deleted_at IS NULL`
)

var benchVerbs = []string{"related", "compatible", "scoped", "conflicts_with", "supersedes"}

// benchSerial makes every judged verdict differ from the last one written to the same relation,
// across all runs of a process: a verdict identical to the row's, in the same second, is no
// change, and relsync rightly journals nothing for it.
var benchSerial atomic.Int64

// BenchmarkCapture is the cost of one judgment as engram makes it (a transaction of one statement,
// run through tx.Exec with arguments, so prepared anew), journaled three ways, on a database of n
// journaled relations:
//
//	none        no journal row at all (engram v1.16.3's semantic path without relsync);
//	go          engram's Go way: after the statement, read the row back, encoding/json, the journal
//	            insert and the sync_state updates (internal/engram's ReadRelationPayload and
//	            JournalRelation);
//	relsync     relsync's triggers journal it inside the statement;
//	relsync+go  both (engram v1.16.3's JudgeRelation on an enrolled project, or v1.17 with relsync
//	            installed): the trigger's row, then Go's, which replaces it;
//	floor-noop, floor-journal  the floor of any trigger (benchFloorTriggers), without relsync.
//
// for judge-update (JudgeRelation's UPDATE) and semantic-insert (JudgeBySemantic's INSERT of a new
// pair). The prepare/… benchmarks compile a statement and finalize it, without and with relsync,
// for engram's statements whose compilation includes relsync's triggers; step/… run the two
// judgments' statements prepared once, so that prepare/ + step/ splits a judgment's cost.
// observation-save is engram's AddObservation (insert, journal row), which relsync's triggers on
// sync_mutations join; cloud-pull is engram's whole apply of one pulled relation.
func BenchmarkCapture(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	with, without := benchWithAndWithout(b, dir)
	paths := map[bool]string{true: with, false: without}
	floors := map[string]string{}
	for name, trigger := range benchFloorTriggers {
		floors[name] = filepath.Join(dir, name+".db")
		benchCopyFile(b, without, floors[name])
		db := benchOpenEngram(b, floors[name])
		if _, err := db.Exec(trigger); err != nil {
			b.Fatal(err)
		}
		benchCloseCheckpointed(b, db)
	}
	db := benchOpenEngram(b, with)
	w := benchReadWork(b, db)
	db.Close()

	type contender struct {
		name            string
		path            string
		goWay           bool
		rowsPerJudgment int
	}
	contenders := []contender{
		{"none", without, false, 0},
		{"go", without, true, 1},
		{"relsync", with, false, 1},
		{"relsync+go", with, true, 1},
		{"floor-noop", floors["floor-noop"], false, 0},
		{"floor-journal", floors["floor-journal"], false, 1},
	}
	judgments := []struct {
		name string
		exec func(tx *sql.Tx, k int64) (string, error)
	}{
		{"judge-update", w.judgeUpdate},
		{"semantic-insert", w.semanticInsert},
	}
	for _, j := range judgments {
		for _, c := range contenders {
			b.Run(j.name+"/"+c.name, func(b *testing.B) {
				db := benchOpenEngram(b, c.path)
				defer db.Close()
				before := benchRelationRows(b, db)
				benchMedian(b, func() {
					k := benchSerial.Add(1)
					tx, err := db.BeginTx(ctx, nil)
					if err != nil {
						b.Fatal(err)
					}
					key, err := j.exec(tx, k)
					if err == nil && c.goWay {
						err = benchJournalGoWay(ctx, tx, key)
					}
					if err != nil {
						tx.Rollback()
						b.Fatal(err)
					}
					if err := tx.Commit(); err != nil {
						b.Fatal(err)
					}
				})
				if got := benchRelationRows(b, db) - before; got != b.N*c.rowsPerJudgment {
					b.Fatalf("%d judgments left %d journal rows, want %d", b.N, got, b.N*c.rowsPerJudgment)
				}
			})
		}
	}

	prepared := []struct{ name, sql string }{
		{"judge-update", benchJudgeUpdate},
		{"semantic-insert", benchSemanticInsert},
		{"journal-insert", benchJournalInsert},
		{"remote-upsert", benchRemoteUpsert},
		{"soft-delete", benchSoftDelete},
	}
	for _, p := range prepared {
		for _, withRelsync := range []bool{false, true} {
			b.Run("prepare/"+p.name+"/"+benchContender(withRelsync), func(b *testing.B) {
				conn := benchConn(b, paths[withRelsync])
				benchMedian(b, func() {
					stmt, err := conn.PrepareContext(ctx, p.sql)
					if err != nil {
						b.Fatal(err)
					}
					if err := stmt.Close(); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}

	for _, j := range judgments {
		query := map[string]string{"judge-update": benchJudgeUpdate, "semantic-insert": benchSemanticInsert}[j.name]
		for _, withRelsync := range []bool{false, true} {
			b.Run("step/"+j.name+"/"+benchContender(withRelsync), func(b *testing.B) {
				conn := benchConn(b, paths[withRelsync])
				stmt, err := conn.PrepareContext(ctx, query)
				if err != nil {
					b.Fatal(err)
				}
				defer stmt.Close()
				benchMedian(b, func() {
					k := benchSerial.Add(1)
					if _, err := conn.ExecContext(ctx, `BEGIN`); err != nil {
						b.Fatal(err)
					}
					if _, err := stmt.ExecContext(ctx, w.args(j.name, k)...); err != nil {
						b.Fatal(err)
					}
					if _, err := conn.ExecContext(ctx, `COMMIT`); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	}

	// cloud-pull: engram's whole apply of one pulled relation (PullRelation: its transaction, the
	// pull bookkeeping and the upsert, each statement prepared anew), a foreign relation new to this
	// database each time, between two existing observations; relsync journals nothing for it.
	for _, name := range []string{"none", "relsync"} {
		b.Run("cloud-pull/"+name, func(b *testing.B) {
			db := benchOpenEngram(b, paths[name == "relsync"])
			defer db.Close()
			s := &engram.Store{DB: db, Version: engram.V1163}
			before := benchRelationRows(b, db)
			stamp := "2026-01-02 03:04:05"
			benchMedian(b, func() {
				k := benchSerial.Add(1)
				pair := w.pairs[k%int64(len(w.pairs))]
				p := engram.RelationPayload{SyncID: fmt.Sprintf("rel-pulled-%012d", k), SourceID: pair[0], TargetID: pair[1],
					Relation: "related", Reason: ptr("pulled"), Confidence: ptr(0.75), JudgmentStatus: "judged",
					MarkedByActor: ptr("claude"), MarkedByKind: ptr("agent"), Project: "proj-0", CreatedAt: stamp, UpdatedAt: stamp}
				if out, err := s.ApplyRemoteRelation(ctx, p, engram.CloudPull); err != nil || out != engram.Applied {
					b.Fatal(out, err)
				}
			})
			if got := benchRelationRows(b, db) - before; got != 0 {
				b.Fatalf("%d pulls left %d journal rows, want 0", b.N, got)
			}
		})
	}

	// observation-save/floor-journal-trigger: the least a trigger on sync_mutations that writes
	// costs engram's journal inserts (one that never fires, on the database without relsync):
	// SQLite then writes a statement journal for each insert, as it must for an insert that may
	// write more than one row and may abort (the foreign key on target_key). A trigger that cannot
	// write (SELECT 1) costs far less: relsync's, which delete doubles, cannot be that kind.
	saveFloor := filepath.Join(dir, "floor-journal-trigger.db")
	benchCopyFile(b, without, saveFloor)
	fdb := benchOpenEngram(b, saveFloor)
	if _, err := fdb.Exec(`CREATE TRIGGER bench_floor_sm AFTER INSERT ON sync_mutations WHEN NEW.entity = 'none'
		BEGIN DELETE FROM sync_state WHERE 0; END`); err != nil {
		b.Fatal(err)
	}
	benchCloseCheckpointed(b, fdb)
	savePaths := map[string]string{"none": without, "relsync": with, "floor-journal-trigger": saveFloor}
	for _, name := range []string{"none", "relsync", "floor-journal-trigger"} {
		b.Run("observation-save/"+name, func(b *testing.B) {
			db := benchOpenEngram(b, savePaths[name])
			defer db.Close()
			s := &engram.Store{DB: db, Version: engram.V1163}
			project := "proj-0"
			benchMedian(b, func() {
				if _, err := s.AddObservation(ctx, "ses-00000001", &project, "Benchmark observation", benchLorem[:400]); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}

// benchFloorTriggers are the least a trigger can cost, on the database without relsync: one that
// does nothing, and one that writes a constant journal row (no payload to compute, no trigger on
// sync_mutations). Any trigger makes engram's statement write a statement journal (SQLite's undo
// log for one statement, needed once a statement writes more than one row), and the journal row
// adds its table's and four indexes' pages to it: what no SQL payload can go below.
var benchFloorTriggers = map[string]string{
	"floor-noop": `
CREATE TRIGGER bench_floor_ai AFTER INSERT ON memory_relations BEGIN SELECT 1; END;
CREATE TRIGGER bench_floor_au AFTER UPDATE ON memory_relations BEGIN SELECT 1; END;`,
	"floor-journal": `
CREATE TRIGGER bench_floor_ai AFTER INSERT ON memory_relations BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
  VALUES ('cloud', 'relation', NEW.sync_id, 'upsert', '{}', 'local', '');
END;
CREATE TRIGGER bench_floor_au AFTER UPDATE ON memory_relations BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
  VALUES ('cloud', 'relation', NEW.sync_id, 'upsert', '{}', 'local', '');
END;`,
}

func benchContender(withRelsync bool) string {
	if withRelsync {
		return "relsync"
	}
	return "none"
}

// benchConn is one connection of engram's db on path, closed with the benchmark.
func benchConn(b *testing.B, path string) *sql.Conn {
	b.Helper()
	db := benchOpenEngram(b, path)
	b.Cleanup(func() { db.Close() })
	conn, err := db.Conn(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}

// benchJournalGoWay is engram's Go journal write for the relation key, after its statement.
func benchJournalGoWay(ctx context.Context, tx *sql.Tx, key string) error {
	p, err := engram.ReadRelationPayload(ctx, tx, key, engram.V117)
	if err != nil {
		return err
	}
	_, err = engram.JournalRelation(ctx, tx, p)
	return err
}

// benchWork is what the judgments work on: relations spread over the fixture (for updates) and
// pairs of observations of one project (for new semantic relations).
type benchWork struct {
	relations []string
	pairs     [][2]string
}

func benchReadWork(b testing.TB, db *sql.DB) *benchWork {
	b.Helper()
	n := benchCount(b, db, `SELECT count(*) FROM memory_relations`)
	step := max(1, n/4096)
	pairs := benchQueryPairs(b, db, fmt.Sprintf(`SELECT sync_id, source_id || ' ' || target_id
		FROM memory_relations WHERE id %% %d = 0 ORDER BY id`, step))
	w := &benchWork{}
	for _, p := range pairs {
		w.relations = append(w.relations, p[0])
		var pair [2]string
		fmt.Sscan(p[1], &pair[0], &pair[1])
		w.pairs = append(w.pairs, pair)
	}
	if len(w.relations) == 0 {
		b.Fatal("no relations to judge")
	}
	return w
}

// args are the arguments of judgment name number k: a verdict of realistic size that differs from
// every earlier one.
func (w *benchWork) args(name string, k int64) []any {
	verb := benchVerbs[k%int64(len(benchVerbs))]
	reason := fmt.Sprintf("verdict %d: %s", k, benchLorem[k%97:k%97+240])
	confidence := 0.5 + float64(k%500)/1000
	switch name {
	case "judge-update":
		return []any{verb, reason, benchLorem[k%89 : k%89+400], confidence,
			"claude", "agent", "claude-opus-4", nil, w.relations[k%int64(len(w.relations))]}
	default:
		pair := w.pairs[k%int64(len(w.pairs))]
		return []any{fmt.Sprintf("rel-bench%011x", k), pair[0], pair[1], verb, reason, confidence, "text-embedding-3-small"}
	}
}

func (w *benchWork) judgeUpdate(tx *sql.Tx, k int64) (string, error) {
	args := w.args("judge-update", k)
	res, err := tx.Exec(benchJudgeUpdate, args...)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", fmt.Errorf("judge-update changed %d rows (%v)", n, err)
	}
	return args[len(args)-1].(string), nil
}

func (w *benchWork) semanticInsert(tx *sql.Tx, k int64) (string, error) {
	args := w.args("semantic-insert", k)
	_, err := tx.Exec(benchSemanticInsert, args...)
	return args[0].(string), err
}
