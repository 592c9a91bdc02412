package bench

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/relsync/relsync"
)

// benchVerifyScript is the sqlite3 shell's check, relative to the package directory.
const benchVerifyScript = "scripts/verify.sql"

// BenchmarkVerify counts, on a database of n relations with relsync installed and every relation
// journaled, what belongs in the journal and what is missing: relsync.Verify (api), its floor (one
// pass over relsync_relation_eligible, eligibility-pass), and the
// sqlite3 shell (3.40) running scripts/verify.sql, or, while that file does not exist, reading the
// relsync_coverage view (shell).
func BenchmarkVerify(b *testing.B) {
	fx := newBenchFixtures(b)
	installed := fx.installed(b)
	path := benchCopyOf(b, installed, b.TempDir())
	ctx := context.Background()
	n := fx.n

	b.Run("api", func(b *testing.B) {
		db := benchOpenEngram(b, path)
		defer db.Close()
		var rep relsync.Report
		benchMedian(b, func() {
			var err error
			if rep, err = relsync.Verify(ctx, db); err != nil {
				b.Fatal(err)
			}
		})
		eligible, missing := 0, 0
		for _, p := range rep.Projects {
			eligible += p.Eligible
			missing += p.Missing
		}
		if eligible != n || missing != 0 {
			b.Fatalf("relsync.Verify counted %d eligible and %d missing, want %d and 0", eligible, missing, n)
		}
	})

	// The floor of any relsync.Verify that counts anew: one pass deriving which relations belong in the
	// journal (docs/engram.md §6), nothing else.
	b.Run("eligibility-pass", func(b *testing.B) {
		db := benchOpenEngram(b, path)
		defer db.Close()
		var eligible int
		benchMedian(b, func() {
			eligible = benchCount(b, db, `SELECT count(*) FROM relsync_relation_eligible`)
		})
		if eligible != n {
			b.Fatalf("%d eligible, want %d", eligible, n)
		}
	})

	name, args, stdin, wantOut := "shell-coverage", []string{path, "SELECT * FROM relsync_coverage"}, "", "proj-0|"
	if _, err := os.Stat(benchVerifyScript); err == nil {
		name, args, stdin, wantOut = "shell-verify.sql", []string{path}, benchVerifyScript, "\nOK: "
	}
	b.Run(name, func(b *testing.B) {
		shell := benchNeedTool(b, "sqlite3")
		benchMedian(b, func() {
			cmd := exec.Command(shell, args...)
			if stdin != "" {
				f, err := os.Open(stdin)
				if err != nil {
					b.Fatal(err)
				}
				defer f.Close()
				cmd.Stdin = f
			}
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), wantOut) {
				b.Fatalf("sqlite3 %v: %v\n%s", args, err, out)
			}
		})
	})
}

// benchNeedTool is the path of a program a benchmark runs. Where it is missing the benchmark
// skips, saying why, unless RELSYNC_REQUIRE_TOOLS=1 (CI), where it fails.
func benchNeedTool(b *testing.B, name string) string {
	b.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("RELSYNC_REQUIRE_TOOLS") == "1" {
			b.Fatalf("%s is required (RELSYNC_REQUIRE_TOOLS=1): %v", name, err)
		}
		b.Skipf("SKIP: %s not found (%v); this benchmark runs the real %s", name, err, name)
	}
	return path
}
