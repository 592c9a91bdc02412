package multiprocess

import (
	"context"
	"database/sql"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/sqlitecode"
	"github.com/relsync/relsync/internal/testworld"
)

// A writer that holds the write lock longer than the busy timeout: Up gives up with SQLite's busy
// error once the timeout has passed, writes nothing, and installs once the writer is gone.
var _ = registerChild("hold-write-lock", func() (any, error) {
	db, err := sql.Open(engram.DriverName, engram.DSN(os.Getenv(childDBEnv)))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		return nil, err
	}
	if err := childReady(); err != nil { // holds the lock until the parent releases it
		return nil, err
	}
	_, err = conn.ExecContext(context.Background(), `ROLLBACK`)
	return nil, err
})

func TestLockedByAnotherWriter(t *testing.T) {
	path := engramFile(t, "WAL")
	work := t.TempDir()
	holder := startChild(t, "hold-write-lock", path, work, "holder")
	waitReady(t, []*child{holder})

	db, err := sql.Open(engram.DriverName, path+"?_pragma=busy_timeout(250)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	testworld.SameDatabase(t, path, func() {
		done := make(chan error, 1)
		go func() { done <- relsync.Up(ctx, db) }()
		select {
		case err = <-done:
		case <-time.After(2 * time.Minute): // a guard against a hang, far beyond the 250 ms timeout
			t.Fatal("Up hangs behind a writer that holds the lock")
		}
	})
	if err == nil || !sqlitecode.IsBusy(err) {
		t.Fatalf("Up behind a writer: %v, want SQLite's busy error", err)
	}
	if !strings.Contains(err.Error(), "write lock") {
		t.Errorf("Up's error %q does not say it waited for the write lock", err)
	}

	release(t, work)
	holder.wait(t)
	if err := relsync.Up(ctx, db); err != nil {
		t.Fatalf("Up once the writer is gone: %v", err)
	}
	rep, err := relsync.Verify(ctx, db)
	if err != nil || !rep.OK() {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}
