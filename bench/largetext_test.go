package bench

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// largeTexts are the reasons a judgment may carry that make relsync walk its payload: CJK and
// emoji (valid UTF-8, every character beyond ASCII) and Latin-1 text inside UTF-8 (a byte that is
// not valid UTF-8 about every fifth byte, the densest invalid text a user plausibly pastes).
func largeText(kind string, size int) string {
	unit := map[string]string{
		"cjk":   "日本語の文章を書く",
		"emoji": "🧠🎉🚀✨",
		"mixed": "caf\xe9 na\xefve r\xe9sum\xe9 ",
		"ascii": "the cache keeps stale entries for 30s; ",
	}[kind]
	s := strings.Repeat(unit, size/len(unit)+1)
	return s[:size]
}

// BenchmarkLargeText: one JudgeRelation whose reason is 100 KB or 1 MB of CJK, emoji or mixed
// text, with relsync's triggers and without (the same UPDATE, nothing journaled); the difference
// is what relsync adds to engram's write while it holds the write lock. Beside it, per byte, the
// techniques a walk can use on 1 MB: native whole-string functions against one recursive step per
// byte, the floor of any per-character walk.
func BenchmarkLargeText(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	worlds := map[string]string{}
	var rel string
	for _, withRelsync := range []bool{false, true} {
		path := filepath.Join(dir, benchContender(withRelsync)+".db")
		db, err := engram.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		s := &engram.Store{DB: db, Version: engram.V1163}
		if err := s.CreateSession(ctx, "s1", "alpha", "/tmp"); err != nil {
			b.Fatal(err)
		}
		a, err1 := s.AddObservation(ctx, "s1", ptr("alpha"), "a", "a")
		t, err2 := s.AddObservation(ctx, "s1", ptr("alpha"), "b", "b")
		if err1 != nil || err2 != nil {
			b.Fatal(err1, err2)
		}
		if err := s.EnrollProject(ctx, "alpha"); err != nil {
			b.Fatal(err)
		}
		// The same sync_id in both files, so that one UPDATE fits both.
		rel = "rel-largetext0001"
		if _, err := db.Exec(`INSERT INTO memory_relations (sync_id, source_id, target_id) VALUES (?, ?, ?)`, rel, a, t); err != nil {
			b.Fatal(err)
		}
		if withRelsync {
			if err := relsync.Up(ctx, db); err != nil {
				b.Fatal(err)
			}
		}
		db.Close()
		worlds[benchContender(withRelsync)] = path
	}
	for _, kind := range []string{"cjk", "emoji", "mixed"} {
		for _, size := range []int{100 << 10, 1 << 20} {
			text := largeText(kind, size)
			for _, contender := range []string{"none", "relsync"} {
				b.Run(fmt.Sprintf("%s/%dKB/%s", kind, size>>10, contender), func(b *testing.B) {
					db := benchOpenEngram(b, worlds[contender])
					defer db.Close()
					before := benchRelationRows(b, db)
					benchMedian(b, func() {
						k := benchSerial.Add(1)
						// A new verdict each time, so that every write is a change to journal.
						_, err := db.ExecContext(ctx, benchJudgeUpdate, "related", fmt.Sprintf("%d %s", k, text), nil,
							0.5, "claude", "agent", nil, nil, rel)
						if err != nil {
							b.Fatal(err)
						}
					})
					want := map[string]int{"none": 0, "relsync": b.N}[contender]
					if got := benchRelationRows(b, db) - before; got != want {
						b.Fatalf("%d writes left %d journal rows, want %d", b.N, got, want)
					}
				})
			}
		}
	}

	// Per byte of 1 MB: what a native whole-string pass costs, against a recursive step per byte
	// (the floor of any walk that looks at each character in its own step). On ASCII text, the
	// common payload, a search finds nothing and reads every byte; on CJK the GLOB that guards the
	// walk stops at the first character.
	conn, err := sql.Open("sqlite", filepath.Join(dir, "techniques.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	conn.SetMaxOpenConns(1)
	for _, kind := range []string{"ascii", "cjk"} {
		text := largeText(kind, 1<<20)
		for _, tech := range []struct{ name, sql string }{
			{"native-instr", `SELECT instr(?1, 'x')`},
			{"native-replace", `SELECT length(replace(?1, '<', '\u003c'))`},
			{"native-glob", `SELECT ?1 GLOB '*[^' || char(1) || '-' || char(127) || ']*'`},
			{"native-length", `SELECT length(?1) = length(CAST(?1 AS BLOB))`},
			{"recursive-step-per-byte", `WITH RECURSIVE s(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM s
				WHERE p <= length(CAST(?1 AS BLOB))) SELECT count(*) FROM s`},
		} {
			b.Run("technique/"+kind+"/"+tech.name, func(b *testing.B) {
				benchMedian(b, func() {
					var v any
					if err := conn.QueryRowContext(ctx, tech.sql, text).Scan(&v); err != nil {
						b.Fatal(err)
					}
				})
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(text)), "ns/byte")
			})
		}
	}
}
