package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/testtools"
	"github.com/relsync/relsync/internal/testworld"
)

// lastLine is the last non-empty line of the shell's stdout.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

// expectVerdict checks verify.sql's output shape: the verdict is the last line on stdout, and on
// NOT OK the shell adds one line on stderr, the error that makes it exit 1, and nothing else.
func expectVerdict(t *testing.T, r testtools.Result, code int, prefix string, fix string) {
	t.Helper()
	if r.Code != code {
		t.Fatalf("verify.sql: exit %d, want %d\n%v", r.Code, code, r)
	}
	last := lastLine(r.Stdout)
	if !strings.HasPrefix(last, prefix) || !strings.Contains(last, fix) {
		t.Errorf("verify.sql's last line %q, want %q ... %q", last, prefix, fix)
	}
	stderr := strings.TrimSpace(r.Stderr)
	switch {
	case code == 0 && stderr != "":
		t.Errorf("verify.sql wrote to stderr on OK: %q", stderr)
	case code != 0 && (strings.Count(stderr, "\n") > 0 || !strings.Contains(stderr, "verify.sql: exit 1") ||
		strings.Contains(stderr, "JSON")):
		t.Errorf("verify.sql's stderr on NOT OK: %q, want one line naming its exit", stderr)
	}
}

func TestVerifySQLVerdictShape(t *testing.T) {
	t.Run("not installed", func(t *testing.T) {
		_, w := testworld.BuildMixed(t)
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 1, "NOT OK: relsync is not installed", "Fix: go run ./cmd/relsync up <db>")
	})
	t.Run("healthy", func(t *testing.T) {
		_, w := testworld.BuildMixed(t)
		w.Up()
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 0, "OK: ", "")
	})
	t.Run("missing row", func(t *testing.T) {
		m, w := testworld.BuildMixed(t)
		w.Up()
		w.DeleteRows(m.Missing[0])
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 1, "NOT OK: 1 relation(s) without their journal row",
			"Fix: go run ./cmd/relsync repair <db>")
	})
	t.Run("dropped trigger", func(t *testing.T) {
		_, w := testworld.BuildMixed(t)
		w.Up()
		w.Exec(`DROP TRIGGER relsync_relation_au`)
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 1, "NOT OK: 1 relsync object(s) missing",
			"Fix: go run ./cmd/relsync repair <db>")
	})
	t.Run("backfill pending", func(t *testing.T) {
		_, w := testworld.BuildMixed(t)
		w.Must(relsync.Install(w.Ctx, w.DB()))
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 1, "NOT OK: the backfill has not finished",
			"Fix: go run ./cmd/relsync up <db>")
	})
	t.Run("behind", func(t *testing.T) {
		_, w := testworld.BuildMixed(t)
		testworld.InstallPrerelease(t, w.DB(), 4)
		expectVerdict(t, testtools.VerifyUnchanged(t, w), 1, "NOT OK: relsync is at version 4", "Fix: go run ./cmd/relsync up <db>")
	})
}

// The README's command opens the file read-only: a mistyped path is an error and creates nothing.
func TestVerifySQLWrongPathCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "engarm.db")
	r := testtools.VerifySQL(t, path)
	if r.Code == 0 || !strings.Contains(r.Stderr, "unable to open database") {
		t.Errorf("verify.sql on a missing file: %v", r)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("verify.sql created %s (%v)", path, err)
	}
}
