package testworld

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// SameDatabase runs fn and fails if the database file or its WAL changed a byte. An absent WAL and
// an empty one are the same content: SQLite creates an empty WAL when it opens a WAL database.
func SameDatabase(t *testing.T, path string, fn func()) {
	t.Helper()
	read := func(name string) []byte {
		b, err := os.ReadFile(name)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		return b
	}
	db, wal := read(path), read(path+"-wal")
	fn()
	if !bytes.Equal(read(path), db) {
		t.Errorf("%s changed", filepath.Base(path))
	}
	if !bytes.Equal(read(path+"-wal"), wal) {
		t.Errorf("%s-wal changed", filepath.Base(path))
	}
}

// OpenNoWAL opens path with a busy timeout and nothing else: no journal_mode pragma, which would
// itself write (an empty file becomes a WAL database, a rollback one converts).
func OpenNoWAL(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(engram.DriverName, path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// OpenPlain opens a file the way a host would, with engram's pragmas but no schema.
func OpenPlain(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open(engram.DriverName, engram.DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	db.Exec(`SELECT count(*) FROM sqlite_master`) // open it as the host has by now (WAL files appear)
	return db
}

// TextFile writes a text file at path (500 lines): what a mistyped path may name, not SQLite.
func TextFile(t testing.TB, path string) string {
	t.Helper()
	if err := os.WriteFile(path, bytes.Repeat([]byte("not sqlite\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// ForeignDB writes an SQLite database at path holding only what schema creates: SQLite, but not an
// engram database (schema may name one of engram's tables without its columns).
func ForeignDB(t *testing.T, path, schema string) string {
	t.Helper()
	db := OpenPlain(t, path)
	if _, err := db.Exec(schema); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return path
}

// RefusedFile is a path that goose must not be run on, and a part of what relsync's check (which
// goose.sh runs first) says of it.
type RefusedFile struct{ Name, Path, Want string }

// RefusedFiles writes in dir a text file and an SQLite database that is not engram's, and names a
// path that does not exist: the paths relsync's check refuses.
func RefusedFiles(t *testing.T, dir string) []RefusedFile {
	t.Helper()
	return []RefusedFile{
		{"missing", filepath.Join(dir, "nothere.db"), "no such file (goose would create an empty database there)"},
		{"not sqlite", TextFile(t, filepath.Join(dir, "notes.txt")), "notes.txt is not an SQLite database"},
		{"not engram", ForeignDB(t, filepath.Join(dir, "other.db"), `CREATE TABLE memory_relations (id INTEGER PRIMARY KEY, sync_id TEXT)`),
			"not an engram database (or one older than relsync supports): missing column memory_relations.source_id"},
	}
}

// Unchanged runs fn and fails if the files in dir (database, WAL, anything) changed bytes.
func Unchanged(t *testing.T, dir string, fn func()) {
	t.Helper()
	snapshot := func() map[string][]byte {
		out := map[string][]byte{}
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			b, err := os.ReadFile(filepath.Join(dir, e.Name()))
			if err == nil {
				out[e.Name()] = b
			}
		}
		return out
	}
	before := snapshot()
	fn()
	after := snapshot()
	for name, b := range before {
		if !bytes.Equal(after[name], b) {
			t.Errorf("%s changed", name)
		}
	}
	for name := range after {
		if _, ok := before[name]; !ok && !strings.HasSuffix(name, relsync.LockFileSuffix) {
			t.Errorf("%s appeared", name)
		}
	}
}
