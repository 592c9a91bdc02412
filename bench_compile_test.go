package relsync

import (
	"context"
	"strings"
	"testing"
)

// BenchmarkCompileParts: what each part of relsync's program adds to compiling engram's judge
// UPDATE and cloud-pull upsert (engram prepares every statement anew). Each variant is the
// installed database with one part taken out, so the difference to "full" is that part's cost;
// "none" is the database without relsync. The parts are cut out of the stored trigger SQL by
// their first and last words; a cut that no longer matches fails the benchmark.
func BenchmarkCompileParts(b *testing.B) {
	fx := newBenchFixtures(b)
	installed := fx.installed(b)
	ctx := context.Background()
	// cut replaces, in the stored SQL of trigger name, the text from start up to (not including)
	// end with repl, and recreates the trigger.
	cut := func(name, start, end, repl string) []string {
		return []string{"cut:" + name, start, end, repl}
	}
	variants := []struct {
		name  string
		edits [][]string
	}{
		{"full", nil},
		{"without-utf8-walk", [][]string{cut("relsync_outbox_row_write", "CASE WHEN NEW.payload NOT GLOB", "'&', '\\u0026')", "NEW.payload, ")}},
		{"without-float", [][]string{cut("relsync_outbox_payload", "ifnull(',\"confidence\":'", "',\"judgment_status\":'", "")}},
		{"without-journal-triggers", [][]string{{"exec", "DROP TRIGGER relsync_journal_ai; DROP TRIGGER relsync_order_ai"}}},
		{"without-order-notes", [][]string{cut("relsync_outbox_row_write", "  INSERT OR IGNORE INTO relsync_reorder", "END", "")}},
		{"none", [][]string{{"down"}}},
	}
	statements := []struct{ name, sql string }{{"judge-update", benchJudgeUpdate}, {"remote-upsert", benchRemoteUpsert}}
	for _, v := range variants {
		path := benchCopyOf(b, installed, b.TempDir())
		db := benchOpenEngram(b, path)
		for _, e := range v.edits {
			switch e[0] {
			case "down":
				if err := Down(ctx, db); err != nil {
					b.Fatal(err)
				}
			case "exec":
				if _, err := db.ExecContext(ctx, e[1]); err != nil {
					b.Fatal(err)
				}
			default:
				name := strings.TrimPrefix(e[0], "cut:")
				var sql string
				if err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE name = ?`, name).Scan(&sql); err != nil {
					b.Fatal(err)
				}
				i := strings.Index(sql, e[1])
				j := strings.Index(sql[max(i, 0):], e[2])
				if i < 0 || j < 0 {
					b.Fatalf("%s: cannot cut %q..%q out of %s", v.name, e[1], e[2], name)
				}
				sql = sql[:i] + e[3] + sql[i+j:]
				if _, err := db.ExecContext(ctx, `DROP TRIGGER `+name); err != nil {
					b.Fatal(err)
				}
				if _, err := db.ExecContext(ctx, sql); err != nil {
					b.Fatalf("%s: %v\n%s", v.name, err, sql)
				}
			}
		}
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
