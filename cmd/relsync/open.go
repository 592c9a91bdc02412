package main

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // the driver engram uses
)

// openExisting opens the database file at path, which must exist: a plain path would make SQLite
// create a missing file, while an SQLite URI with mode=rw refuses it (and takes any path once
// percent-encoded). queryOnly makes SQLite refuse every write of this connection.
//
// The connection is read-write even for reading: a read-only one cannot remove the -wal and -shm
// files that opening a WAL database creates, and would leave them behind; a read-write one that
// writes nothing removes them on close, as engram does.
func openExisting(path string, queryOnly bool) (*sql.DB, error) {
	info, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil, fmt.Errorf("%s: no such file (goose would create an empty database there)", path)
	} else if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	dsn := "file:" + uriPath(abs) + "?mode=rw&_pragma=busy_timeout(5000)"
	if queryOnly {
		dsn += "&_pragma=query_only(1)"
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// openForReading opens path so that nothing reaches the file: read-only when a WAL lies beside it
// (engram has it open, or a crash left it: a read-write connection that closes last would
// checkpoint it into the file), else query-only read-write, which removes the -wal and -shm it
// opened when it closes (a read-only one would leave them).
func openForReading(path string) (*sql.DB, error) {
	if _, err := os.Stat(path + "-wal"); err != nil {
		return openExisting(path, true)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", "file:"+uriPath(abs)+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// dbHandle is the database commands hand to relsync.
type dbHandle = *sql.DB

// uriPath percent-encodes every byte of path that is not safe as-is in an SQLite URI path.
func uriPath(path string) string {
	var b strings.Builder
	for i := 0; i < len(path); i++ {
		c := path[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("/._~-", c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
