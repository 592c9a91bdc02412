// Command relsync is relsync's Go API for the terminal: scripts/goose.sh uses it to refuse a file
// before goose touches it and to back the file up, scripts/demo.sh to build and inspect a demo
// database. It changes an engram database only where its name says so (backup writes a new file,
// demo-db and demo-judge are engram's own writes).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: relsync COMMAND ARGS

  check <db>        exit 0 if goose may migrate <db>: it exists, is an SQLite database with
                    engram's tables (relsync's own precheck, run without writing), and was not
                    migrated by a newer relsync
  backup <db>       VACUUM INTO a timestamped copy beside <db>; prints the copy's path
  verify <db>       relsync.Verify, readably; exit 1 if relsync is missing, changed or behind
  demo-db <path>    a new engram database at <path> as engram v1.16.3 leaves it (issue #496)
  demo-judge <db>   engram v1.16.3 judges a new relation (JudgeBySemantic); prints its journal rows
`

// errFailed means the command ran and its answer is "no": exit 1, its output says why.
var errFailed = errors.New("failed")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]func(context.Context, string, io.Writer) error{
		"check":      check,
		"backup":     backup,
		"verify":     verify,
		"demo-db":    demoDB,
		"demo-judge": demoJudge,
	}
	if len(args) != 2 || commands[args[0]] == nil {
		fmt.Fprint(stderr, usage)
		return 2
	}
	err := commands[args[0]](ctx, args[1], stdout)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return 1
	}
	fmt.Fprintf(stderr, "relsync %s: %v\n", args[0], err)
	return 1
}
