package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// BenchmarkOpen is what relsync adds to every engram open, on a database of n relations with
// relsync installed and current:
//
//	up-current       relsync.Up on an open database where nothing is pending (what engram calls
//	                 after its own open);
//	engram-open      internal/engram's Open and Close: the file opened, engram's pragmas, the
//	                 CREATE … IF NOT EXISTS pass and the journal fix-up, the baseline;
//	engram-open+up   both, as engram would run them;
//	engram-open/without-relsync  engram's open of the same data after relsync.Down: what
//	                 relsync's objects cost an open that never calls relsync.Up (SQLite parses the whole
//	                 schema at a connection's first statement).
//	engram-v3-open, -open+up, -open/without-relsync  the same as engram v3 opens the file:
//	                 its migrate() pass at every open (an UPDATE of observations' sync_id and of
//	                 the journal's dispositions, which compile relsync's triggers), on copies that
//	                 v3 has opened once already.
//
// Each reports the median of its iterations (med-ns/op) beside Go's mean.
func BenchmarkOpen(b *testing.B) {
	dir := b.TempDir()
	ctx := context.Background()
	with, without := benchWithAndWithout(b, dir)

	b.Run("up-current", func(b *testing.B) {
		db := benchOpenEngram(b, with)
		defer db.Close()
		if err := relsync.Up(ctx, db); err != nil { // warm: the schema is read once per connection
			b.Fatal(err)
		}
		benchMedian(b, func() {
			if err := relsync.Up(ctx, db); err != nil {
				b.Fatal(err)
			}
		})
	})
	// openClose is engram v's open of path (OpenVersion: v1.16.3's is engram's Open), then relsync.Up when
	// up is set, then Close.
	openClose := func(path string, v engram.Version, up bool) func() {
		return func() {
			db, err := engram.OpenVersion(path, v)
			if err != nil {
				b.Fatal(err)
			}
			if up {
				if err := relsync.Up(ctx, db); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("engram-open", func(b *testing.B) { benchMedian(b, openClose(with, engram.V1163, false)) })
	b.Run("engram-open+up", func(b *testing.B) { benchMedian(b, openClose(with, engram.V1163, true)) })
	b.Run("engram-open/without-relsync", func(b *testing.B) { benchMedian(b, openClose(without, engram.V1163, false)) })
	// The floor of the open target: what schema of what size an open pays for.
	oneTrigger := benchSchemaVariant(b, without, filepath.Join(dir, "one-trigger.db"), benchOneTriggerSQL)
	noVerifyViews := benchSchemaVariant(b, with, filepath.Join(dir, "no-verify-views.db"), benchDropVerifyViewsSQL)
	for _, v := range []struct{ name, path string }{
		{"engram-open/without-relsync", without}, {"engram-open/floor-one-trigger", oneTrigger},
		{"engram-open/without-verify-views", noVerifyViews}, {"engram-open", with},
	} {
		b.Logf("%s: relsync schema SQL %d bytes", v.name, benchSchemaBytes(b, v.path))
	}
	b.Run("engram-open/floor-one-trigger", func(b *testing.B) { benchMedian(b, openClose(oneTrigger, engram.V1163, false)) })
	b.Run("engram-open/without-verify-views", func(b *testing.B) { benchMedian(b, openClose(noVerifyViews, engram.V1163, false)) })

	v3Copy := func(src, name string) string {
		dst := filepath.Join(dir, name)
		benchCopyFile(b, src, dst)
		db, err := engram.OpenVersion(dst, engram.V3) // the first v3 open adds v3's columns
		if err != nil {
			b.Fatal(err)
		}
		benchCloseCheckpointed(b, db)
		return dst
	}
	withV3, withoutV3 := v3Copy(with, "with-v3.db"), v3Copy(without, "without-v3.db")
	b.Run("engram-v3-open", func(b *testing.B) { benchMedian(b, openClose(withV3, engram.V3, false)) })
	b.Run("engram-v3-open+up", func(b *testing.B) { benchMedian(b, openClose(withV3, engram.V3, true)) })
	b.Run("engram-v3-open/without-relsync", func(b *testing.B) { benchMedian(b, openClose(withoutV3, engram.V3, false)) })
}

// benchMedian runs fn b.N times, timing each call, and reports their median.
func benchMedian(b *testing.B, fn func()) {
	b.Helper()
	times := make(benchDurations, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		fn()
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	times.reportMedian(b, "med-ns/op")
}

// benchOneTriggerSQL is the least a database-side journal adds to engram's schema: one trigger that
// writes a constant journal row for every relation insert.
const benchOneTriggerSQL = `CREATE TRIGGER relsync_floor_ai AFTER INSERT ON memory_relations BEGIN
  INSERT INTO sync_mutations (target_key, entity, entity_key, op, payload, source, project)
  VALUES ('cloud', 'relation', NEW.sync_id, 'upsert', '{}', 'local', '');
END`

// benchDropVerifyViewsSQL takes out the views that only Verify and scripts/verify.sql read: what
// the open would cost if they lived outside the schema every connection parses.
const benchDropVerifyViewsSQL = `DROP VIEW relsync_object_state; DROP VIEW relsync_schema;
DROP VIEW relsync_journal_orphans; DROP VIEW relsync_unjournaled_columns; DROP VIEW relsync_relation_missing;
DROP VIEW relsync_coverage; DROP VIEW relsync_relation_coverage`

// benchSchemaVariant copies src to dst and runs change on the copy.
func benchSchemaVariant(b *testing.B, src, dst, change string) string {
	b.Helper()
	benchRemoveDB(dst)
	benchCopyFile(b, src, dst)
	db := benchOpenEngram(b, dst)
	if _, err := db.Exec(change); err != nil {
		b.Fatal(err)
	}
	benchCloseCheckpointed(b, db)
	return dst
}

// benchSchemaBytes is the size of relsync's schema SQL in the database at path.
func benchSchemaBytes(b *testing.B, path string) int {
	b.Helper()
	db := benchOpenEngram(b, path)
	defer db.Close()
	return benchCount(b, db, `SELECT ifnull(sum(length(sql)), 0) FROM sqlite_master WHERE name LIKE 'relsync\_%' ESCAPE '\'`)
}
