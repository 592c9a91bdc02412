// Command relsync-demo is the demo's part that plays engram, kept out of the relsync command so
// that relsync does not link relsync's replica of engram: db writes a new engram v1.16.3 database,
// judge lets engram v1.16.3's JudgeBySemantic judge a new relation and prints its journal rows.
// scripts/demo.sh runs it.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/relsync/relsync/internal/demo"
)

const usage = `usage: relsync-demo db <path> | judge <db>

  db <path>    a new engram v1.16.3 database at <path>, written by relsync's replica of engram
               (internal/engram): relations engram journaled beside the ones it forgot (issue #496)
  judge <db>   engram v1.16.3 judges a new relation (JudgeBySemantic); prints its journal rows,
               exit 1 if it has none
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]func(context.Context, string, io.Writer) error{"db": demo.DB, "judge": demo.Judge}
	if len(args) != 2 || commands[args[0]] == nil {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch err := commands[args[0]](ctx, args[1], stdout); {
	case err == nil:
		return 0
	case errors.Is(err, demo.ErrNoJournalRow):
		return 1
	default:
		fmt.Fprintf(stderr, "relsync-demo %s: %v\n", args[0], err)
		return 1
	}
}
