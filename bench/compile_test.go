package bench

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/relsync/relsync"
)

// BenchmarkCompileParts: what each part of relsync's program adds to compiling engram's judge
// UPDATE and cloud-pull upsert (engram prepares every statement anew). Each variant is the
// installed database with one part taken out, so the difference to "full" is that part's cost;
// "none" is the database without relsync. The parts are cut out of the stored trigger SQL by
// their first and last words; a cut that no longer matches fails the benchmark. The stand-in
// variants replace a whole stage of the program with the least it could be (each a trigger of
// the same name), alone and together, since removing one small part at a time moves the
// allocator's behaviour more than the part costs.
func BenchmarkCompileParts(b *testing.B) {
	fx := newBenchFixtures(b)
	installed := fx.installed(b)
	ctx := context.Background()
	variants := benchProgramVariants()
	statements := []struct{ name, sql string }{{"judge-update", benchJudgeUpdate}, {"remote-upsert", benchRemoteUpsert}}
	for _, v := range variants {
		path := benchCopyOf(b, installed, b.TempDir())
		db := benchOpenEngram(b, path)
		benchEditProgram(b, db, v.edits)
		db.Close()
		for _, s := range statements {
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				conn := benchConn(b, path)
				benchMedian(b, func() {
					stmt, err := conn.PrepareContext(ctx, s.sql)
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
}

// benchProgramVariant is relsync's installed program with edits: {"down"} removes relsync,
// {"exec", sql} runs sql, {"cut:<trigger>", start, end, repl} cuts a part out of a trigger.
type benchProgramVariant struct {
	name  string
	edits [][]string
}

// benchProgramVariants: relsync as installed, each part taken out, the stand-ins, and none.
func benchProgramVariants() []benchProgramVariant {
	cut := func(name, start, end, repl string) []string {
		return []string{"cut:" + name, start, end, repl}
	}
	return []benchProgramVariant{
		{"full", nil},
		{"without-utf8-walk", [][]string{cut("relsync_outbox_row_write", "CASE WHEN NEW.payload NOT GLOB", "'&', '\\u0026')", "NEW.payload, ")}},
		{"without-float", [][]string{cut("relsync_outbox_payload", "ifnull(',\"confidence\":'", "',\"judgment_status\":'", "")}},
		{"without-journal-triggers", [][]string{{"exec", "DROP TRIGGER relsync_journal_ai; DROP TRIGGER relsync_order_ai"}}},
		{"without-sync-state", [][]string{cut("relsync_outbox_row_write", "  UPDATE sync_state SET", "  INSERT OR IGNORE INTO relsync_reorder", ""),
			cut("relsync_outbox_row_write", "  INSERT INTO sync_state", "  INSERT INTO sync_mutations", "")}},
		{"without-order-notes", [][]string{cut("relsync_outbox_row_write", "  INSERT OR IGNORE INTO relsync_reorder", "END", "")}},
		{"constant-payload", [][]string{{"exec", standInConstantPayload}}},
		{"bare-row-write", [][]string{{"exec", standInBareRowWrite}}},
		{"constant-payload+bare-row-write", [][]string{{"exec", standInConstantPayload}, {"exec", standInBareRowWrite}}},
		{"stamp-only-eligibility", [][]string{{"exec", standInStampOnly}}},
		{"all-three-stand-ins", [][]string{{"exec", standInConstantPayload}, {"exec", standInBareRowWrite}, {"exec", standInStampOnly}}},
		{"all-three-stand-ins-without-journal-triggers", [][]string{{"exec", standInConstantPayload}, {"exec", standInBareRowWrite},
			{"exec", standInStampOnly}, {"exec", "DROP TRIGGER relsync_journal_ai; DROP TRIGGER relsync_order_ai"}}},
		{"none", [][]string{{"down"}}},
	}
}

// benchEditProgram applies a variant's edits to the database.
func benchEditProgram(b *testing.B, db *sql.DB, edits [][]string) {
	b.Helper()
	ctx := context.Background()
	for _, e := range edits {
		switch e[0] {
		case "down":
			if err := relsync.Down(ctx, db); err != nil {
				b.Fatal(err)
			}
		case "exec":
			if _, err := db.ExecContext(ctx, e[1]); err != nil {
				b.Fatal(err)
			}
		default:
			benchCutTrigger(b, db, strings.TrimPrefix(e[0], "cut:"), e[1], e[2], e[3])
		}
	}
}

// Stand-ins for whole stages of relsync's program: the payload a constant; the row written as
// given (no UTF-8 walk, no escapes, no sync_state, no order notes); eligibility the stamp test alone.
const (
	standInConstantPayload = `DROP TRIGGER relsync_outbox_payload;
CREATE TRIGGER relsync_outbox_payload INSTEAD OF INSERT ON relsync_outbox BEGIN
  INSERT INTO relsync_outbox_row (entity_key, project, payload)
  VALUES ((SELECT sync_id FROM memory_relations WHERE id = NEW.relation_id), NEW.project, '{}');
END`
	standInBareRowWrite = `DROP TRIGGER relsync_outbox_row_write;
CREATE TRIGGER relsync_outbox_row_write INSTEAD OF INSERT ON relsync_outbox_row BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
  VALUES ('cloud', 'relation', NEW.entity_key, 'upsert', NEW.payload, 'local', NEW.project);
END`
	standInStampOnly = `DROP TRIGGER relsync_relation_write_journal;
CREATE TRIGGER relsync_relation_write_journal INSTEAD OF INSERT ON relsync_relation_write BEGIN
  INSERT INTO relsync_outbox (relation_id, project) SELECT NEW.relation_id, 'p' WHERE NEW.updated_at = datetime('now');
END`
)

// benchCutTrigger replaces, in the stored SQL of trigger name, the text from start up to (not
// including) end with repl, and recreates the trigger; a cut that no longer matches fails.
func benchCutTrigger(b *testing.B, db *sql.DB, name, start, end, repl string) {
	b.Helper()
	var text string
	if err := db.QueryRow(`SELECT sql FROM sqlite_master WHERE name = ?`, name).Scan(&text); err != nil {
		b.Fatal(err)
	}
	i := strings.Index(text, start)
	j := strings.Index(text[max(i, 0):], end)
	if i < 0 || j < 0 {
		b.Fatalf("cannot cut %q..%q out of %s", start, end, name)
	}
	text = text[:i] + repl + text[i+j:]
	if _, err := db.Exec(`DROP TRIGGER ` + name); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(text); err != nil {
		b.Fatalf("%s: %v\n%s", name, err, text)
	}
}
