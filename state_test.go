package relsync_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// A database migrated by a newer relsync: every entry point refuses it and runs nothing.

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

// A database migrated by a newer relsync: Up and Verify refuse it (TestNewerDatabaseIsRefused); Status,
// Version and Down must refuse it too, and Down must not run this build's Down SQL over objects it
// does not know.
func TestNewerDatabaseStatusAndDownRefuse(t *testing.T) {
	w := testworld.New(t, engram.V117)
	w.Up()
	_, err := w.DB().Exec(`INSERT INTO ` + relsync.VersionTable + ` (version_id, is_applied) VALUES (999, 1)`)
	w.Must(err)
	before := w.Schema()
	testworld.SameDatabase(t, w.Path, func() {
		if _, err := relsync.Status(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
			t.Errorf("Status: %v, want ErrNewerDatabase", err)
		}
		if _, _, err := relsync.Version(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) || !strings.Contains(err.Error(), "999") {
			t.Errorf("Version: %v, want ErrNewerDatabase naming version 999", err)
		}
		if err := relsync.Down(w.Ctx, w.DB()); !errors.Is(err, relsync.ErrNewerDatabase) {
			t.Errorf("Down: %v, want ErrNewerDatabase", err)
		}
	})
	if w.Schema() != before {
		t.Fatal("Down on a newer database changed the schema")
	}
}
