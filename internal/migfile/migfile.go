// Package migfile reads relsync's goose SQL files as text: each file's version and body, and the
// statements a `-- relsync:NAME` line names. relsync runs those statements itself; its tests read
// them from the same place, so that there is one parser of the files.
package migfile

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"github.com/pressly/goose/v3"
)

// File is one migration, known by the version goose reads from its name.
type File struct {
	Version int64
	Name    string
	Body    string
}

// Read returns the migrations at the root of fsys in version order.
func Read(fsys fs.FS) ([]File, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []File
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			continue // goose skips it too
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		out = append(out, File{Version: v, Name: name, Body: string(body)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("relsync: no migrations embedded")
	}
	slices.SortFunc(out, func(a, b File) int { return int(a.Version - b.Version) })
	return out, nil
}

// Mark names a statement of a migration that Go runs itself: it is the first line of a goose
// StatementBegin block, and the block up to StatementEnd is the statement.
const Mark = "-- relsync:"

// Sections returns the statements named name, across files in their order.
func Sections(files []File, name string) ([]string, error) {
	var out []string
	for _, m := range files {
		for _, block := range strings.Split(m.Body, "-- +goose StatementBegin\n")[1:] {
			first, rest, _ := strings.Cut(block, "\n")
			if strings.TrimSpace(first) != Mark+name {
				continue
			}
			stmt, _, ok := strings.Cut(rest, "-- +goose StatementEnd")
			if !ok {
				return nil, fmt.Errorf("relsync: %s: section %s has no StatementEnd", m.Name, name)
			}
			out = append(out, strings.TrimSpace(stmt))
		}
	}
	return out, nil
}

// Section returns the one statement named name.
func Section(files []File, name string) (string, error) {
	s, err := Sections(files, name)
	if err != nil {
		return "", err
	}
	if len(s) != 1 {
		return "", fmt.Errorf("relsync: %d sections named %s in the migrations, want 1", len(s), name)
	}
	return s[0], nil
}
