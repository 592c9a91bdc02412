package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/relsync/relsync"
)

// errNotEngram is a refusal by relsync's precheck; its message names what the file lacks.
var errNotEngram = errors.New("not an engram database")

// runPrecheck runs, on a read-only connection, the statement that opens relsync's first migration:
// a SELECT that raises an error naming the missing tables and columns, and that relsync itself runs
// before goose writes anything. Reading it from the embedded migrations keeps one list of what
// relsync needs.
func runPrecheck(ctx context.Context, db *sql.DB) error {
	stmt, err := precheckStatement(relsync.Migrations())
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		msg := err.Error()
		i := strings.Index(msg, "relsync: ")
		if i < 0 {
			return err
		}
		msg = strings.TrimSuffix(strings.TrimSuffix(msg[i+len("relsync: "):], " (1)"), "'")
		return fmt.Errorf("%w%s", errNotEngram, strings.TrimPrefix(msg, "not an engram database"))
	}
	return nil
}

// precheckStatement is the first statement block of the Up section of the first migration. It
// must read as a query; the read-only connection it runs on is what guarantees that it writes
// nothing.
func precheckStatement(fsys fs.FS) (string, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil || len(names) == 0 {
		return "", fmt.Errorf("relsync: no embedded migrations (%v)", err)
	}
	sort.Strings(names)
	body, err := fs.ReadFile(fsys, names[0])
	if err != nil {
		return "", err
	}
	text := string(body)
	const up, begin, end = "\n-- +goose Up\n", "\n-- +goose StatementBegin\n", "\n-- +goose StatementEnd\n"
	i := strings.Index(text, up)
	j := strings.Index(text[max(i, 0):], begin)
	if i < 0 || j < 0 {
		return "", fmt.Errorf("relsync: %s has no precheck block", names[0])
	}
	rest := text[i+j+len(begin):]
	k := strings.Index(rest, end)
	if k < 0 {
		return "", fmt.Errorf("relsync: %s: unterminated precheck block", names[0])
	}
	stmt := strings.TrimSpace(rest[:k])
	upper := strings.ToUpper(stmt)
	if !strings.HasPrefix(upper, "WITH") && !strings.HasPrefix(upper, "SELECT") {
		return "", fmt.Errorf("relsync: %s: the first statement is not the precheck query", names[0])
	}
	return stmt, nil
}
