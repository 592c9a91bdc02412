package relsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	_ "modernc.org/sqlite" // the driver engram uses; it registers database/sql's "sqlite"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// openLikeEngram opens path as engram does: modernc.org/sqlite with engram's pragmas on every
// connection, and one connection, through which engram serializes its statements.
func openLikeEngram(path string) (*sql.DB, error) {
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(ON)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// exampleEngram writes an engram v1.16.3 database in a new directory (exampleEngramDB) and opens
// it as engram does (openLikeEngram); done closes it and removes the directory.
func exampleEngram() (db *sql.DB, done func()) {
	dir, path := exampleEngramDB()
	db, err := openLikeEngram(path)
	if err != nil {
		log.Fatal(err)
	}
	return db, func() {
		db.Close()
		os.RemoveAll(dir)
	}
}

// exampleEngramDB writes an engram v1.16.3 database in a new directory (through this repository's
// replica of engram): project alpha enrolled, with one relation that engram v1.16.3 judged
// without a journal row. The caller removes the directory.
func exampleEngramDB() (dir, path string) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "relsync-example-")
	if err != nil {
		log.Fatal(err)
	}
	path = filepath.Join(dir, "engram.db")
	db, err := engram.Create(path)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	s := &engram.Store{DB: db, Version: engram.V1163}
	must := func(err error) {
		if err != nil {
			log.Fatal(err)
		}
	}
	must(s.CreateSession(ctx, "s1", "alpha", "/home/dev/alpha"))
	a, err := s.AddObservation(ctx, "s1", ptr("alpha"), "a", "first")
	must(err)
	b, err := s.AddObservation(ctx, "s1", ptr("alpha"), "b", "second")
	must(err)
	must(s.EnrollProject(ctx, "alpha"))
	_, _, err = s.JudgeBySemantic(ctx, a, b, engram.Verdict{Relation: "related", Reason: ptr(""),
		Confidence: ptr(0.8), Actor: "engram", Kind: "system", Model: ptr("embed-1")})
	must(err)
	return dir, path
}

func ptr[T any](v T) *T { return &v }

// Engram calls Up after its own schema pass, at every open: the first call installs the triggers
// and journals the relations that lack their row; later calls find nothing to do.
func ExampleUp() {
	db, done := exampleEngram() // engram's open: see openLikeEngram
	defer done()
	ctx := context.Background()
	// ... engram's schema pass ...
	if err := relsync.Up(ctx, db); err != nil {
		log.Fatal(err)
	}
	current, latest, err := relsync.Version(ctx, db)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("relsync at version", current, "of", latest)
	// Output: relsync at version 6 of 6
}

// Verify counts, per enrolled project, the relations that belong in the journal and what the
// journal holds of them; on a database without relsync it counts what Up would journal.
func ExampleVerify() {
	db, done := exampleEngram() // engram's open: see openLikeEngram
	defer done()
	ctx := context.Background()
	for _, step := range []string{"before Up", "after Up"} {
		if step == "after Up" {
			if err := relsync.Up(ctx, db); err != nil {
				log.Fatal(err)
			}
		}
		rep, err := relsync.Verify(ctx, db)
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range rep.Projects {
			fmt.Printf("%s: %s: %d eligible, %d journaled, %d missing; OK %v\n",
				step, p.Project, p.Eligible, p.Journaled, p.Missing, rep.OK())
		}
	}
	// Output:
	// before Up: alpha: 1 eligible, 0 journaled, 1 missing; OK false
	// after Up: alpha: 1 eligible, 1 journaled, 0 missing; OK true
}
