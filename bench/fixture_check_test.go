package bench

import (
	"context"
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// The benchmarks measure what they claim only if the fixture is what they say: n eligible
// relations, none journaled, payloads of about 1 KB that relsync's backfill writes exactly as Go
// does, and Go's backfill finds the same n.
func TestBenchFixtureIsWhatTheBenchmarksClaim(t *testing.T) {
	const n = 300
	dir := t.TempDir()
	path := filepath.Join(dir, "fixture.db")
	buildBenchFixture(t, path, n)
	ctx := context.Background()

	goPath := filepath.Join(dir, "go.db")
	benchCopyFile(t, path, goPath)
	goDB := benchOpenEngram(t, goPath)
	defer goDB.Close()
	if got := benchRelationRows(t, goDB); got != 0 {
		t.Fatalf("fixture has %d relation rows, want none", got)
	}
	wrote, err := (&engram.Store{DB: goDB, Version: engram.V117}).BackfillRelations(ctx)
	if err != nil || wrote != n {
		t.Fatalf("Go backfill wrote %d rows (%v), want %d", wrote, err, n)
	}

	db := benchOpenEngram(t, path)
	defer db.Close()
	if err := relsync.Up(ctx, db); err != nil {
		t.Fatal(err)
	}
	// The journal first, then Go's reading of each relation: engram's db has one connection.
	type row struct{ key, payload string }
	var journal []row
	rows, err := db.Query(`SELECT entity_key, payload FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.key, &r.payload); err != nil {
			t.Fatal(err)
		}
		journal = append(journal, r)
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	var count, bytes, nonASCII, noConfidence, byteDiffs int
	for _, r := range journal {
		p, err := engram.ReadRelationPayload(ctx, db, r.key, engram.V117)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		// Byte equality is the payload tests' business; here the value must be Go's.
		var got engram.RelationPayload
		if err := json.Unmarshal([]byte(r.payload), &got); err != nil || !reflect.DeepEqual(got, p) {
			t.Fatalf("relation %s: relsync's payload decodes to another value (%v)\n got %s\nwant %s", r.key, err, r.payload, want)
		}
		if r.payload != string(want) {
			if byteDiffs == 0 {
				t.Logf("relation %s: payload bytes differ from Go's (same value)\n got %s\nwant %s", r.key, r.payload, want)
			}
			byteDiffs++
		}
		count++
		bytes += len(r.payload)
		if utf8.RuneCountInString(r.payload) != len(r.payload) {
			nonASCII++
		}
		if p.Confidence == nil {
			noConfidence++
		}
	}
	if count != n {
		t.Fatalf("relsync's backfill wrote %d rows, want %d", count, n)
	}
	if avg := bytes / count; avg < 800 || avg > 1300 {
		t.Errorf("average payload %d bytes, want about 1 KB", avg)
	}
	if nonASCII != n/10 || noConfidence != n/20 {
		t.Errorf("%d non-ASCII payloads and %d without confidence, want %d and %d", nonASCII, noConfidence, n/10, n/20)
	}
	var version string
	if err := db.QueryRow(`SELECT sqlite_version()`).Scan(&version); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d payloads, %d bytes on average, %d not byte-identical to Go's; SQLite %s (modernc.org/sqlite)",
		count, bytes/count, byteDiffs, version)
}
