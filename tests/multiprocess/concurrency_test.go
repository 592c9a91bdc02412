package multiprocess

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/sqlitecode"
	"github.com/relsync/relsync/internal/testworld"
)

// Many engram processes open one file at the same moment and each calls Up, while two more keep
// writing as engram v1.16.3 and v1.17 do. Every Up must succeed, relsync must be installed once,
// and every judge write must end up in the journal exactly once.

const (
	raceUppers      = 8
	raceRoundsEnv   = "RELSYNC_RACE_ROUNDS" // rounds per variant; default raceRoundsShort
	raceRoundsShort = 5
	writerMinAfter  = 10  // cycles a writer runs after it saw relsync installed and was told to stop
	raceCycles      = 500 // at most, per writer and round: the parent makes 4 observations per cycle
)

// raceObservation names the parent-made observation i of a writer's project.
func raceObservation(project string, i int) string { return fmt.Sprintf("obs-%s-%05d", project, i) }

var (
	_ = registerChild("up", childUp)
	_ = registerChild("writer", childWriter)
)

func TestConcurrentUpFreshInstall(t *testing.T) {
	runRaceRounds(t, false)
}

func TestConcurrentUpUpgradeFromPrerelease(t *testing.T) {
	runRaceRounds(t, true)
}

func runRaceRounds(t *testing.T, upgrade bool) {
	if testing.Short() {
		t.Skip("starts 10 processes per round: skipped with -short")
	}
	rounds := envInt(raceRoundsEnv, raceRoundsShort)
	var totals raceTotals
	ran := 0
	for ran < rounds {
		ran++
		if !t.Run(fmt.Sprintf("round%d", ran), func(t *testing.T) { raceRound(t, upgrade, &totals) }) {
			totals.failed++
		}
	}
	t.Logf("%d rounds (%d failed): %d Up calls, %d per round, %d engram writes beside them, "+
		"%d JudgeBySemantic calls refused busy", ran, totals.failed, totals.ups, raceUppers, totals.writes, totals.refused)
}

// upReport is what an "up" child saw.
type upReport struct {
	Err string
}

// childUp opens the database as engram does, waits for the barrier and calls Up.
func childUp() (any, error) {
	db, err := engram.Open(os.Getenv(childDBEnv))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	if err := childReady(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var rep upReport
	if err := relsync.Up(ctx, db); err != nil {
		rep.Err = err.Error()
	}
	return rep, nil
}

// writeRecord is one engram write that returned nil.
type writeRecord struct {
	Kind      string // "semantic", "judge", "remote" (a new relation from the cloud), "echo"
	Rel       string
	Installed bool // relsync's triggers were in place before the write began
}

// writeFailure is one engram write that returned an error; writers retry nothing.
type writeFailure struct {
	Kind, Err string
	Code      int       // SQLite's extended result code, 0 when the error is not SQLite's
	Pair      [2]string // a refused JudgeBySemantic that would have made a new relation
}

// SQLite's extended result codes for a refused write lock.
const (
	sqliteBusy         = 5
	sqliteBusySnapshot = 517
)

// The two writers: engram v1.16.3 on project alpha, v1.17 on beta, both enrolled.
var (
	raceVersions = []engram.Version{engram.V1163, engram.V117}
	raceProjects = []string{"alpha", "beta"}
)

// writerReport is what a "writer" child did.
type writerReport struct {
	Cycles int
	Writes []writeRecord
	Failed []writeFailure
}

// childWriter writes as engram version RELSYNC_WRITER_VERSION does, on its enrolled project, from
// the barrier until the stop file exists and it has written a few cycles after install. It
// writes nothing but relations, on the observations the parent made for it.
func childWriter() (any, error) {
	path := os.Getenv(childDBEnv)
	project := os.Getenv("RELSYNC_WRITER_PROJECT")
	version, _ := strconv.Atoi(os.Getenv("RELSYNC_WRITER_VERSION"))
	db, err := engram.Open(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	s := &engram.Store{DB: db, Version: engram.Version(version)}
	ctx := context.Background()
	if err := childReady(); err != nil {
		return nil, err
	}
	stop := filepath.Join(filepath.Dir(os.Getenv(childGoEnv)), "stop")
	var rep writerReport
	installed := func() bool {
		var ok bool
		err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sqlite_master
			WHERE type = 'trigger' AND name = 'relsync_relation_au')`).Scan(&ok)
		if err != nil {
			rep.Failed = append(rep.Failed, writeFailure{Kind: "read", Err: err.Error(), Code: sqlitecode.Of(err)})
		}
		return ok
	}
	record := func(kind, rel string, inst bool, err error) bool {
		if err != nil {
			rep.Failed = append(rep.Failed, writeFailure{Kind: kind, Err: err.Error(), Code: sqlitecode.Of(err)})
			return false
		}
		rep.Writes = append(rep.Writes, writeRecord{Kind: kind, Rel: rel, Installed: inst})
		return true
	}
	after := 0
	for cycle := 0; after < writerMinAfter || !exists(stop); cycle++ {
		if cycle == raceCycles {
			return rep, fmt.Errorf("writer did %d cycles and never saw relsync installed and the stop file", cycle)
		}
		rep.Cycles++
		o := func(i int) string { return raceObservation(project, 4*cycle+i) }
		inst := installed()
		if inst && exists(stop) {
			after++
		}
		// A new pair (INSERT), then the same pair the other way round (UPDATE), each with its own
		// confidence so that every write changes the row. Both read before they write.
		sem, _, err := s.JudgeBySemantic(ctx, o(0), o(1), raceVerdict("related", cycle, 0))
		if err != nil {
			rep.Failed = append(rep.Failed, writeFailure{Kind: "semantic", Err: err.Error(), Code: sqlitecode.Of(err),
				Pair: [2]string{o(0), o(1)}})
		} else {
			record("semantic", sem, inst, nil)
			inst = installed()
			_, _, err = s.JudgeBySemantic(ctx, o(1), o(0), raceVerdict("compatible", cycle, 1))
			record("semantic", sem, inst, err)
			// The cloud's echo of the relation's state: same values, nothing new to journal.
			p, err := engram.ReadRelationPayload(ctx, db, sem, engram.V117)
			if err == nil {
				_, err = s.ApplyRemoteRelation(ctx, p, engram.CloudPull)
			}
			record("echo", sem, inst, err)
		}
		// mem_judge on a pending candidate, twice.
		pending, err := s.SavePendingRelation(ctx, o(2), o(3))
		if record("pending", pending, inst, err) {
			for k := 0; k < 2; k++ {
				inst = installed()
				_, err = s.JudgeRelation(ctx, pending, raceVerdict("supersedes", cycle, 2+k))
				record("judge", pending, inst, err)
			}
		}
		// A relation another machine made, pulled from the cloud with the origin's stamps.
		remote := fmt.Sprintf("rel-%s-remote-%05d", project, cycle)
		inst = installed()
		_, err = s.ApplyRemoteRelation(ctx, remoteRelation(remote, o(1), o(2), project), engram.CloudPull)
		record("remote", remote, inst, err)
	}
	return rep, nil
}

// seventeenDigits are confidences that need 17 significant digits, the last of which SQLite 3.51's
// printf (modernc v1.45) rounds unlike Go's encoding/json: 0.0048698539043828684 is written
// ...685 by SQLite. Both read back to the same float64. Each writer's first cycle uses them.
var seventeenDigits = []float64{487.0 / 100003, 672.0 / 100003}

// raceVerdict is a semantic or agent verdict whose confidence is unique to (cycle, step).
func raceVerdict(relation string, cycle, step int) engram.Verdict {
	v := testworld.Verdict()
	v.Relation = relation
	v.Confidence = testworld.Ptr(float64(cycle*4+step+1) / 100003)
	if cycle == 0 {
		v.Confidence = testworld.Ptr(seventeenDigits[step%len(seventeenDigits)])
	}
	return v
}

func remoteRelation(key, src, tgt, project string) engram.RelationPayload {
	return engram.RelationPayload{SyncID: key, SourceID: src, TargetID: tgt, Relation: "related",
		Reason: testworld.Ptr("from the other machine"), Confidence: testworld.Ptr(0.5), JudgmentStatus: "judged",
		MarkedByActor: testworld.Ptr("claude"), MarkedByKind: testworld.Ptr("agent"), Project: project,
		CreatedAt: "2024-01-02 03:04:05", UpdatedAt: "2024-01-02 03:04:05"}
}

// raceWorld is the database of one round, and an idle engram process that keeps it open (as a
// running engram server does, so that the children's opens find the WAL initialized).
type raceWorld struct {
	*testworld.World
	preRows []string // relations from before the round: exactly one local row each afterwards
}

func buildRaceWorld(t *testing.T, dir string, upgrade bool) *raceWorld {
	path := filepath.Join(dir, "engram.db")
	db, err := engram.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w := &testworld.World{T: t, Ctx: context.Background(), Path: path, S: &engram.Store{DB: db, Version: engram.V1163}}
	rw := &raceWorld{World: w}
	for _, p := range []string{"alpha", "beta", "gamma"} {
		w.Session("s-"+p, p)
	}
	w.Enroll("alpha")
	w.Enroll("beta")
	for i := 0; i < 20; i++ {
		a, b := w.Obs("s-alpha", testworld.Ptr("alpha")), w.Obs("s-alpha", testworld.Ptr("alpha"))
		rw.preRows = append(rw.preRows, w.Semantic(a, b, testworld.SemVerdict("related"))) // path A: no row
		judged := w.Pending(b, a)
		w.Judge(judged, testworld.Verdict()) // enrolled: Go's row
		rw.preRows = append(rw.preRows, judged)
		c, d := w.Obs("s-gamma", testworld.Ptr("gamma")), w.Obs("s-gamma", testworld.Ptr("gamma"))
		late := w.Pending(c, d)
		w.Judge(late, testworld.Verdict()) // path B: judged before its project is enrolled
		rw.preRows = append(rw.preRows, late)
	}
	w.Enroll("gamma")
	for _, p := range raceProjects {
		_, err := db.Exec(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1)
			INSERT INTO observations (sync_id, session_id, type, title, content, project)
			SELECT printf('obs-%s-%05d', ?2, i), 's-' || ?2, 'manual', 'title', 'content', ?2 FROM n`,
			4*raceCycles, p)
		w.Must(err)
	}
	journalObservationsSetBased(t, db)
	if upgrade {
		testworld.InstallPrerelease(t, db, 4)
	}
	return rw
}

// journalObservationsSetBased gives every observation without a local journal row the row engram
// writes with it (engram journals observations when it saves them), in one statement.
func journalObservationsSetBased(t *testing.T, db *sql.DB) {
	t.Helper()
	_, err := db.Exec(`INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
		SELECT 'cloud', 'observation', o.sync_id, 'upsert',
		       json_object('sync_id', o.sync_id, 'session_id', o.session_id, 'type', o.type, 'title', o.title,
		                   'content', o.content, 'project', o.project, 'scope', o.scope),
		       'local', o.project
		FROM observations AS o
		WHERE NOT EXISTS (SELECT 1 FROM sync_mutations AS m WHERE m.target_key = 'cloud'
		                  AND m.entity = 'observation' AND m.entity_key = o.sync_id AND m.source = 'local')`)
	if err != nil {
		t.Fatal(err)
	}
}

// raceTotals adds up what the rounds of one test saw, for its closing log line.
type raceTotals struct {
	ups, writes, refused, failed int
}

func raceRound(t *testing.T, upgrade bool, totals *raceTotals) {
	dir := t.TempDir()
	rw := buildRaceWorld(t, dir, upgrade)
	var ups, writers []*child
	for i := 0; i < raceUppers; i++ {
		ups = append(ups, startChild(t, "up", rw.Path, dir, fmt.Sprintf("up%d", i)))
	}
	for i, v := range raceVersions {
		writers = append(writers, startChild(t, "writer", rw.Path, dir, "writer"+raceProjects[i],
			"RELSYNC_WRITER_PROJECT="+raceProjects[i], fmt.Sprintf("RELSYNC_WRITER_VERSION=%d", int(v))))
	}
	waitReady(t, append(append([]*child{}, ups...), writers...))
	release(t, dir)
	for _, c := range ups {
		c.wait(t)
		var rep upReport
		c.decode(t, &rep)
		if rep.Err != "" {
			t.Errorf("Up in child %s: %s", c.result, rep.Err)
		}
		totals.ups++
	}
	if err := os.WriteFile(filepath.Join(dir, "stop"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var writes []writeRecord
	versionOf := map[string]engram.Version{}
	var refusedPairs [][2]string
	for i, c := range writers {
		c.wait(t)
		var rep writerReport
		c.decode(t, &rep)
		for _, f := range rep.Failed {
			if f.Kind == "semantic" && (f.Code == sqliteBusy || f.Code == sqliteBusySnapshot) {
				// JudgeBySemantic reads before it writes, in a deferred transaction: SQLite refuses
				// it at once when another process holds the write lock or committed since the
				// read. Engram's processes do that to each other without relsync; relsync's
				// install is one more writer, for a moment.
				totals.refused++
				refusedPairs = append(refusedPairs, f.Pair)
				continue
			}
			t.Errorf("engram write failed in writer %d (%v): %+v", i, raceVersions[i], f)
		}
		for _, r := range rep.Writes {
			versionOf[r.Rel] = raceVersions[i]
		}
		writes = append(writes, rep.Writes...)
		totals.writes += len(rep.Writes)
	}
	checkRaceOutcome(t, rw, writes, versionOf, refusedPairs)
}

// checkRaceOutcome checks the database after a round, relation by relation.
func checkRaceOutcome(t *testing.T, rw *raceWorld, writes []writeRecord, versionOf map[string]engram.Version, refusedPairs [][2]string) {
	t.Helper()
	w, db := rw.World, rw.DB()

	// Installed once: one version row per version, all applied.
	rows, err := db.Query(`SELECT version_id, count(*), sum(is_applied) FROM ` + relsync.VersionTable + ` GROUP BY version_id`)
	w.Must(err)
	for rows.Next() {
		var v, n, applied int64
		w.Must(rows.Scan(&v, &n, &applied))
		if n != 1 || applied != 1 {
			t.Errorf("version %d recorded %d times (%d applied)", v, n, applied)
		}
	}
	w.Must(rows.Err())
	rows.Close()
	rep, err := relsync.Verify(w.Ctx, db)
	w.Must(err)
	if !rep.OK() || rep.OrphanRows != 0 {
		t.Errorf("Verify after the round: %+v", rep)
	}

	localRows := map[string]int{}
	rows, err = db.Query(`SELECT entity_key, count(*) FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local' GROUP BY entity_key`)
	w.Must(err)
	for rows.Next() {
		var key string
		var n int
		w.Must(rows.Scan(&key, &n))
		localRows[key] = n
	}
	w.Must(rows.Err())
	rows.Close()

	// What the writers did, per relation: journaling writes made surely after install, and those
	// that may have come before it.
	type tally struct {
		kind           string
		after, unknown int
	}
	per := map[string]*tally{}
	for _, r := range writes {
		if r.Kind == "pending" || r.Kind == "echo" {
			continue
		}
		tl := per[r.Rel]
		if tl == nil {
			tl = &tally{kind: r.Kind}
			per[r.Rel] = tl
		}
		if r.Installed {
			tl.after++
		} else {
			tl.unknown++
		}
	}
	fromCloud := map[string]bool{}
	for _, k := range queryKeys(w, `SELECT entity_key FROM relsync_remote_apply WHERE unjournaled`) {
		fromCloud[k] = true
	}
	for key, tl := range per {
		got := localRows[key]
		lo, hi := tl.after+tl.unknown, tl.after+tl.unknown
		switch {
		case tl.kind == "remote":
			// Pulled before install: the backfill journals it once (engram v1.17's rule); after:
			// never, and relsync_remote_apply remembers it.
			lo, hi = 0, 1
			if tl.after > 0 {
				hi = 0
			}
			if got == 0 && !fromCloud[key] {
				t.Errorf("remote relation %s: no row and not recorded as from the cloud", key)
			}
		case tl.kind == "semantic" && versionOf[key] == engram.V1163 && tl.unknown > 0:
			// v1.16.3's JudgeBySemantic journals nothing: writes before install collapse into
			// the backfill's one row, each write after install gets the trigger's row.
			lo = tl.after + 1
		}
		if got < lo || got > hi {
			t.Errorf("%s relation %s (%v): %d local rows, want %d..%d (%d writes after install, %d maybe before)%s",
				tl.kind, key, versionOf[key], got, lo, hi, tl.after, tl.unknown, payloadList(w, key))
		}
		if got > 0 {
			lastPayloadIsCurrent(w, key)
		}
	}
	for _, key := range rw.preRows {
		if got := localRows[key]; got != 1 {
			t.Errorf("relation %s from before the round: %d local rows, want 1", key, got)
		}
	}
	// Every eligible relation has its row, or came from the cloud after install.
	for _, key := range queryKeys(w, `SELECT entity_key FROM relsync_relation_eligible`) {
		if localRows[key] == 0 && !fromCloud[key] {
			t.Errorf("eligible relation %s has no local row", key)
		}
	}
	if len(per) == 0 {
		t.Error("the writers wrote nothing")
	}
	// A refused JudgeBySemantic left nothing behind.
	for _, pair := range refusedPairs {
		if pair[0] == "" {
			continue // an UPDATE of an existing pair: its relation's rows are checked above
		}
		if n := w.Count(`SELECT count(*) FROM memory_relations WHERE source_id = ? AND target_id = ?`, pair[0], pair[1]); n != 0 {
			t.Errorf("refused JudgeBySemantic on %v left %d relations", pair, n)
		}
	}
}

func queryKeys(w *testworld.World, query string) []string {
	w.T.Helper()
	rows, err := w.DB().QueryContext(w.Ctx, query)
	w.Must(err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var k string
		w.Must(rows.Scan(&k))
		out = append(out, k)
	}
	w.Must(rows.Err())
	return out
}

// payloadList shows a relation's local rows, one per line.
func payloadList(w *testworld.World, key string) string {
	var b strings.Builder
	for _, r := range w.Rows(key) {
		fmt.Fprintf(&b, "\n  seq %d: %s", r.Seq, r.Payload)
	}
	return b.String()
}

// lastPayloadIsCurrent checks that the relation's last local row carries its current state (the
// value engram's Go code would journal now): no write was lost behind an older row. Values, not
// bytes: byte fidelity is the payload tests' business.
func lastPayloadIsCurrent(w *testworld.World, key string) {
	w.T.Helper()
	rows := w.Rows(key)
	_, want := w.GoPayload(key)
	if last := rows[len(rows)-1]; !testworld.EqualJSON(w.T, last.Payload, string(want)) {
		w.T.Errorf("relation %s: last row\n got %s\nwant %s", key, last.Payload, want)
	}
}
