package relsync_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

func TestMissingEngramTablesIsAClearErrorAndChangesNothing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "other.db")
	setup := testworld.OpenPlain(t, path)
	_, err := setup.Exec(`CREATE TABLE memory_relations (id INTEGER PRIMARY KEY, sync_id TEXT); CREATE TABLE notes (x)`)
	if err != nil {
		t.Fatal(err)
	}
	setup.Close()
	db := testworld.OpenPlain(t, path)
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
	path := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	db := testworld.OpenPlain(t, path)
	var err error
	testworld.Unchanged(t, dir, func() { err = relsync.Up(context.Background(), db) })
	if !errors.Is(err, relsync.ErrNotDatabase) {
		t.Fatalf("Up: %v, want ErrNotDatabase", err)
	}
}

func TestNewerDatabaseIsRefused(t *testing.T) {
	w := testworld.New(t, engram.V117)
	w.Up()
	_, err := w.DB().Exec(`INSERT INTO ` + relsync.VersionTable + ` (version_id, is_applied) VALUES (999, 1)`)
	w.Must(err)
	if err := relsync.Up(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
		t.Fatalf("Up: %v, want ErrNewerDatabase", err)
	}
	if _, err := relsync.Verify(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
		t.Fatalf("Verify: %v, want ErrNewerDatabase", err)
	}
}
