package testworld

import "github.com/relsync/relsync"

// Schema is the whole sqlite_master, one line per object.
func (w *World) Schema() string {
	w.T.Helper()
	var s string
	w.Must(w.DB().QueryRowContext(w.Ctx, `SELECT group_concat(line, char(10)) FROM
		(SELECT type || ' ' || name || ' ' || ifnull(sql, '') AS line FROM sqlite_master ORDER BY type, name)`).Scan(&s))
	return s
}

// SchemaWithoutRelsync is the schema minus relsync's version table, which goose keeps after Down.
func (w *World) SchemaWithoutRelsync() string {
	w.T.Helper()
	var s string
	w.Must(w.DB().QueryRowContext(w.Ctx, `SELECT group_concat(line, char(10)) FROM
		(SELECT type || ' ' || name || ' ' || ifnull(sql, '') AS line FROM sqlite_master
		 WHERE tbl_name <> ? ORDER BY type, name)`, relsync.VersionTable).Scan(&s))
	return s
}

// UserVersion is PRAGMA user_version, engram's and never relsync's.
func (w *World) UserVersion() int {
	w.T.Helper()
	return w.Count(`PRAGMA user_version`)
}
