package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
)

func backups(t *testing.T, path string) []string {
	t.Helper()
	m, err := filepath.Glob(path + ".relsync-backup-*")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// up installs and backfills after a backup, with plain progress lines when stderr is not a
// terminal; a second up has nothing to do and writes no backup.
func TestUpBacksUpInstallsAndBackfills(t *testing.T) {
	path := demoFile(t)
	code, stdout, stderr := relsyncCmd(t, "up", path)
	if code != 0 {
		t.Fatalf("up: exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"Backup of " + path + " written to ", "Installing relsync (version 6)", "Done in "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("up's stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{"relsync backfill: ", "relations to pass", " of ", "relations/s"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("up's progress lacks %q:\n%s", want, stderr)
		}
	}
	if n := len(backups(t, path)); n != 1 {
		t.Fatalf("%d backups after up, want 1", n)
	}
	if code, stdout, _ := relsyncCmd(t, "verify", path); code != 0 {
		t.Fatalf("verify after up: exit %d\n%s", code, stdout)
	}

	code, stdout, _ = readOnlyCmd(t, "up", path) // nothing to do
	if code != 0 || !strings.Contains(stdout, "nothing to do, no backup written") {
		t.Fatalf("second up: exit %d\n%s", code, stdout)
	}
	if n := len(backups(t, path)); n != 1 {
		t.Errorf("%d backups after a second up, want 1", n)
	}
}

// status reads and writes nothing, before and after the install.
func TestStatusWritesNothing(t *testing.T) {
	path := demoFile(t)
	code, stdout, stderr := readOnlyCmd(t, "status", path)
	if code != 0 || !strings.Contains(stdout, "relsync is not installed") {
		t.Fatalf("status: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, _, stderr := relsyncCmd(t, "up", "--no-backup", path); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	if n := len(backups(t, path)); n != 0 {
		t.Errorf("--no-backup wrote %d backups", n)
	}
	code, stdout, _ = readOnlyCmd(t, "status", path)
	if code != 0 || !strings.Contains(stdout, "relsync at version 6 of 6") || !strings.Contains(stdout, "backfill: done") {
		t.Fatalf("status after up: exit %d\n%s", code, stdout)
	}
}

// repair journals a relation whose row went, after a backup; on a file without relsync it
// refuses and writes nothing.
func TestRepairCommand(t *testing.T) {
	path := demoFile(t)
	code, _, stderr := readOnlyCmd(t, "repair", path) // refused
	if code != 1 || !strings.Contains(stderr, "relsync is not installed") {
		t.Fatalf("repair before up: exit %d, %q", code, stderr)
	}
	if len(backups(t, path)) != 0 {
		t.Fatal("a refused repair wrote a backup")
	}
	if code, _, stderr := relsyncCmd(t, "up", "--no-backup", path); code != 0 {
		t.Fatalf("up: %s", stderr)
	}
	db := openRW(t, path)
	if _, err := db.Exec(`DELETE FROM sync_mutations WHERE seq = (SELECT max(seq) FROM sync_mutations WHERE entity = 'relation')`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	code, stdout, _ := relsyncCmd(t, "verify", path)
	if code != 1 || !strings.Contains(stdout, "Fix: relsync repair") {
		t.Fatalf("verify with a lost row: exit %d\n%s", code, stdout)
	}
	code, stdout, stderr = relsyncCmd(t, "repair", path)
	if code != 0 || !strings.Contains(stdout, "Backup of ") {
		t.Fatalf("repair: exit %d\n%s%s", code, stdout, stderr)
	}
	if code, stdout, _ := relsyncCmd(t, "verify", path); code != 0 {
		t.Fatalf("verify after repair: exit %d\n%s", code, stdout)
	}
}

func openRW(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=rw&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	return db
}
