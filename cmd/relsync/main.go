// Command relsync is relsync's Go API for the terminal: up installs, upgrades and backfills with a
// progress bar, repair recreates drifted objects and journals what is missing, status reads where
// relsync stands; scripts/goose.sh uses it to refuse a file before goose touches it and to back the
// file up, scripts/demo.sh to inspect the demo database (cmd/relsync-demo builds it). It changes an
// engram database only where its name says so (up and repair, after a backup; backup writes a new
// file).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

const usage = `usage: relsync COMMAND [--no-backup] <db>

  up <db>           install or upgrade relsync and journal every relation that lacks its row
                    (short transactions: engram may keep running); a progress bar on a terminal,
                    a line every 5 s otherwise. Writes a backup beside <db> first, only when there
                    is something to do (--no-backup skips it)
  repair <db>       recreate relsync objects that went missing or changed and journal every
                    relation that lacks its row (after a backup, as up)
  status <db>       where relsync stands: version, drifted objects, backfill; writes nothing
  check <db>        exit 0 if goose may migrate <db>: it exists, is an SQLite database with
                    engram's tables (relsync's own precheck, run without writing), and was not
                    migrated by a newer relsync
  pending <db>      for scripts/goose.sh: prints "<version> <latest> <backfill version> <version
                    table exists> <the file's SQLite URI>"; exit 0 when up would change something,
                    3 when up to date
  backup <db>       VACUUM INTO a timestamped copy beside <db>; prints the copy's path
  verify <db>       relsync.Verify, readably; exit 1 if relsync is missing, changed or behind
`

// errFailed means the command ran and its answer is "no": exit 1, its output says why.
var errFailed = errors.New("failed")

// errNothing means the command ran and found nothing to do: exit 3 (pending).
var errNothing = errors.New("nothing to do")

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// flags are the options a command may take.
type flags struct {
	noBackup bool
	stderr   io.Writer // progress goes here
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	commands := map[string]func(context.Context, string, io.Writer, flags) error{
		"up":      up,
		"repair":  repairCmd,
		"status":  status,
		"pending": pending,
		"check":   plain(check),
		"backup":  plain(backup),
		"verify":  plain(verify),
	}
	f := flags{stderr: stderr}
	if len(args) == 3 && args[1] == "--no-backup" && (args[0] == "up" || args[0] == "repair") {
		f.noBackup = true
		args = []string{args[0], args[2]}
	}
	if len(args) != 2 || commands[args[0]] == nil {
		fmt.Fprint(stderr, usage)
		return 2
	}
	err := commands[args[0]](ctx, args[1], stdout, f)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errFailed):
		return 1
	case errors.Is(err, errNothing):
		return 3
	}
	fmt.Fprintf(stderr, "relsync %s: %v\n", args[0], err)
	return 1
}

// plain adapts a command that takes no flags.
func plain(fn func(context.Context, string, io.Writer) error) func(context.Context, string, io.Writer, flags) error {
	return func(ctx context.Context, path string, out io.Writer, _ flags) error { return fn(ctx, path, out) }
}
