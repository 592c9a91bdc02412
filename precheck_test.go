package relsync_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// Bad input and bad files: each gets a clear error before goose writes anything and leaves the
// database as it was.

func TestMissingEngramTablesIsAClearErrorAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := testworld.ForeignDB(t, filepath.Join(dir, "other.db"),
		`CREATE TABLE memory_relations (id INTEGER PRIMARY KEY, sync_id TEXT); CREATE TABLE notes (x)`)
	db := testworld.OpenPlain(t, path)
	var err error
	testworld.Unchanged(t, dir, func() {
		err = relsync.Up(context.Background(), db)
	})
	if !errors.Is(err, relsync.ErrNotEngram) {
		t.Fatalf("Up: %v, want ErrNotEngram", err)
	}
	for _, want := range []string{"table sync_mutations", "column memory_relations.judgment_status", "table observations"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
}

func TestNotADatabase(t *testing.T) {
	dir := t.TempDir()
	path := testworld.TextFile(t, filepath.Join(dir, "notes.txt"))
	db := testworld.OpenPlain(t, path)
	var err error
	testworld.Unchanged(t, dir, func() { err = relsync.Up(context.Background(), db) })
	if !errors.Is(err, relsync.ErrNotDatabase) {
		t.Fatalf("Up: %v, want ErrNotDatabase", err)
	}
}

// An empty file is what a plain path leaves when the host opens the wrong one: SQLite reads it as
// a database with no tables. relsync refuses it as not engram's and writes nothing: it stays 0 bytes.
func TestEmptyFileIsNotEngramAndStaysEmpty(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "engram.db")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db := testworld.OpenNoWAL(t, path)
	ctx := context.Background()
	var upErr, downErr, verifyErr error
	var status int
	testworld.Unchanged(t, dir, func() {
		upErr = relsync.Up(ctx, db)
		downErr = relsync.Down(ctx, db)
		st, err := relsync.Status(ctx, db)
		if err != nil {
			t.Errorf("Status: %v", err)
		}
		for _, s := range st {
			if s.State == "applied" {
				status++
			}
		}
		_, verifyErr = relsync.Verify(ctx, db)
	})
	if !errors.Is(upErr, relsync.ErrNotEngram) || !strings.Contains(upErr.Error(), "empty") {
		t.Errorf("Up: %v, want ErrNotEngram saying the database is empty", upErr)
	}
	if downErr != nil {
		t.Errorf("Down on a database without relsync: %v, want a no-op", downErr)
	}
	if status != 0 {
		t.Errorf("Status: %d migrations applied on an empty file", status)
	}
	if !errors.Is(verifyErr, relsync.ErrNotEngram) {
		t.Errorf("Verify on an empty file: %v, want ErrNotEngram", verifyErr)
	}
	if fi, err := os.Stat(path); err != nil || fi.Size() != 0 {
		t.Fatalf("the empty file is no longer empty: %v %v", fi.Size(), err)
	}
}

// An engram too old for relsync: its journal predates cloud enrollment (no sync_enrolled_projects)
// or per-project journaling (no sync_mutations.project). Up names what is missing, writes nothing.
func TestEngramTooOldIsRefusedAndUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name, downgrade, missing string
	}{
		{"no enrollment table", `DROP TABLE sync_enrolled_projects`, "table sync_enrolled_projects"},
		{"no journal project column",
			`DROP INDEX idx_sync_mutations_project; ALTER TABLE sync_mutations DROP COLUMN project`,
			"column sync_mutations.project"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := testworld.New(t, engram.V1163)
			a, b := w.Pair("alpha")
			w.Semantic(a, b, testworld.SemVerdict("related"))
			_, err := w.DB().Exec(tc.downgrade)
			w.Must(err)
			w.Must(w.DB().Close())
			db := testworld.OpenPlain(t, w.Path)
			testworld.Unchanged(t, filepath.Dir(w.Path), func() { err = relsync.Up(w.Ctx, db) })
			if !errors.Is(err, relsync.ErrNotEngram) {
				t.Fatalf("Up: %v, want ErrNotEngram", err)
			}
			if !strings.Contains(err.Error(), tc.missing) {
				t.Errorf("Up's error %q does not name %q", err, tc.missing)
			}
			if strings.Count(err.Error(), "not an engram database") > 1 {
				t.Errorf("Up's error repeats itself: %q", err)
			}
			if _, err := relsync.Verify(w.Ctx, db); !errors.Is(err, relsync.ErrNotEngram) {
				t.Errorf("Verify on an engram too old: %v, want ErrNotEngram", err)
			}
		})
	}
}

// TestReadOnlyConnection: SQLite's read-only mode, in this process, on engram's live file.
func TestReadOnlyConnection(t *testing.T) {
	w := testworld.New(t, engram.V1163)
	a, b := w.Pair("alpha")
	w.Enroll("alpha")
	w.Semantic(a, b, testworld.SemVerdict("related"))
	ro, err := sql.Open(engram.DriverName, "file:"+w.Path+"?mode=ro&_pragma=busy_timeout(5000)")
	w.Must(err)
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	testworld.SameDatabase(t, w.Path, func() { err = relsync.Up(w.Ctx, ro) })
	if !errors.Is(err, relsync.ErrReadOnly) {
		t.Fatalf("Up on a read-only connection: %v, want ErrReadOnly", err)
	}
	w.Up() // the writable connection installs
}
