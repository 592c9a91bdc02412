package bench

import (
	"context"
	"database/sql"
	"testing"

	"github.com/relsync/relsync"
)

// BenchmarkBackfillParts: where the backfill's time per relation goes. Each variant of relsync's
// program (BenchmarkCompileParts' list: a part cut out, or a stage replaced by its stand-in) is
// installed on a copy of the unjournaled database and then journals every relation in one
// statement; the difference to "full" is that part's cost per row. The rows the stand-ins write
// are not engram's payloads: these figures attribute time, they are not a contender.
func BenchmarkBackfillParts(b *testing.B) {
	fx := newBenchFixtures(b)
	plain := fx.plain(b)
	n := fx.n
	ctx := context.Background()
	for _, v := range benchProgramVariants() {
		if len(v.edits) > 0 && v.edits[0][0] == "down" {
			continue // without relsync there is no backfill
		}
		b.Run(v.name, func(b *testing.B) {
			benchEachCopy(b, plain, n, func(db *sql.DB) {
				if err := relsync.Install(ctx, db); err != nil {
					b.Fatal(err)
				}
				benchEditProgram(b, db, v.edits)
			}, func(db *sql.DB) {
				if _, err := db.ExecContext(ctx, benchBackfillAll); err != nil {
					b.Fatal(err)
				}
			}, func(db *sql.DB) {
				if got := benchRelationRows(b, db); got != n {
					b.Fatalf("%s journaled %d relations, want %d", v.name, got, n)
				}
			})
		})
	}
}
