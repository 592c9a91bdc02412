package engram

import (
	"bufio"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/sqlrows"
)

// describeSchema reads db's schema back through SQLite's own catalogue and
// renders it in the line format of shared/ENGRAM-SCHEMA.md (and of
// testdata/schema-*.txt): one line per table, index, trigger and non-empty
// table, plus the user_version line.
func describeSchema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var lines []string
	type object struct{ name, table, sql string }
	objects := func(kind string) []object {
		out, err := sqlrows.Scan(t.Context(), db, `SELECT name, tbl_name, sql FROM sqlite_master
			WHERE type = ? AND name NOT LIKE 'sqlite_%' AND sql IS NOT NULL ORDER BY tbl_name, name`,
			func(rows *sql.Rows, o *object) error { return rows.Scan(&o.name, &o.table, &o.sql) }, kind)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	space := regexp.MustCompile(`\s+`)
	squash := func(s string) string {
		s = space.ReplaceAllString(strings.TrimSpace(s), " ")
		return strings.NewReplacer("( ", "(", " )", ")").Replace(s)
	}

	var plain []string // tables whose rows are counted
	for _, o := range objects("table") {
		if strings.HasPrefix(strings.ToUpper(o.sql), "CREATE VIRTUAL TABLE") {
			using := regexp.MustCompile(`(?is)\bUSING\s+(.*)$`).FindStringSubmatch(o.sql)
			lines = append(lines, fmt.Sprintf("- **%s**: virtual table, %s", o.name, squash(using[1])))
			continue
		}
		plain = append(plain, o.name)
		var cols []string
		rows, err := db.Query(`SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info(?) ORDER BY cid`, o.name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var notNull bool
			var dflt sql.NullString
			var pk int
			if err := rows.Scan(&name, &typ, &notNull, &dflt, &pk); err != nil {
				t.Fatal(err)
			}
			c := fmt.Sprintf("`%s` %s", name, typ)
			if notNull {
				c += " NOT NULL"
			}
			if dflt.Valid {
				c += " DEFAULT " + dflt.String
			}
			if pk > 0 {
				c += " PK"
			}
			cols = append(cols, c)
		}
		rows.Close()

		var extras []string
		if regexp.MustCompile(`(?i)\bAUTOINCREMENT\b`).MatchString(o.sql) {
			extras = append(extras, "AUTOINCREMENT")
		}
		fks, err := db.Query(`SELECT id, "table", "from", "to", on_delete FROM pragma_foreign_key_list(?) ORDER BY id, seq`, o.name)
		if err != nil {
			t.Fatal(err)
		}
		type fk struct {
			table, onDelete string
			from, to        []string
		}
		var fkList []*fk
		lastID := -1
		for fks.Next() {
			var id int
			var table, from, onDelete string
			var to sql.NullString
			if err := fks.Scan(&id, &table, &from, &to, &onDelete); err != nil {
				t.Fatal(err)
			}
			if id != lastID {
				fkList = append(fkList, &fk{table: table, onDelete: onDelete})
				lastID = id
			}
			f := fkList[len(fkList)-1]
			f.from, f.to = append(f.from, from), append(f.to, to.String)
		}
		fks.Close()
		for _, f := range fkList {
			extras = append(extras, fmt.Sprintf("FK %s → %s(%s) ON DELETE %s",
				strings.Join(f.from, ", "), f.table, strings.Join(f.to, ", "), f.onDelete))
		}
		uniques, err := sqlrows.Column[string](t.Context(), db,
			`SELECT name FROM pragma_index_list(?) WHERE origin = 'u' ORDER BY name`, o.name)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range uniques {
			names, err := sqlrows.Column[string](t.Context(), db,
				`SELECT name FROM pragma_index_info(?) ORDER BY seqno`, u)
			if err != nil {
				t.Fatal(err)
			}
			extras = append(extras, "UNIQUE("+strings.Join(names, ", ")+")")
		}
		if regexp.MustCompile(`(?i)\bWITHOUT\s+ROWID\s*$`).MatchString(o.sql) {
			extras = append(extras, "WITHOUT ROWID")
		}
		line := fmt.Sprintf("- **%s**: %s", o.name, strings.Join(cols, "; "))
		if len(extras) > 0 {
			line += ". " + strings.Join(extras, "; ")
		}
		lines = append(lines, line)
	}

	for _, o := range objects("index") {
		rows, err := db.Query(`SELECT cid, name, "desc" FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno`, o.name)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		expression := false
		for rows.Next() {
			var cid int
			var name sql.NullString
			var desc bool
			if err := rows.Scan(&cid, &name, &desc); err != nil {
				t.Fatal(err)
			}
			expression = expression || cid == -2
			c := name.String
			if desc {
				c += " DESC"
			}
			cols = append(cols, c)
		}
		rows.Close()
		list := strings.Join(cols, ", ")
		m := regexp.MustCompile(`(?is)\bON\s+\S+?\s*\((.*)\)\s*(?:WHERE\s+(.*))?$`).FindStringSubmatch(o.sql)
		if expression { // index_xinfo names no expression: take the text
			list = squash(m[1])
		}
		line := fmt.Sprintf("- `%s`: %s(%s)", o.name, o.table, list)
		if m != nil && m[2] != "" {
			line += " WHERE " + squash(m[2])
		}
		lines = append(lines, line)
	}

	header := regexp.MustCompile(`(?is)^CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\s+(?:IF\s+NOT\s+EXISTS\s+)?\S+\s+` +
		`(BEFORE\s+|AFTER\s+|INSTEAD\s+OF\s+)?(INSERT|DELETE|UPDATE(?:\s+OF\s+.*?)?)\s+ON\s`)
	for _, o := range objects("trigger") {
		m := header.FindStringSubmatch(o.sql)
		if m == nil {
			t.Fatalf("trigger %s: cannot read %q", o.name, o.sql)
		}
		when := strings.ToUpper(squash(m[1]))
		if when == "" {
			when = "BEFORE"
		}
		lines = append(lines, fmt.Sprintf("- `%s`: %s %s ON %s", o.name, when, squash(m[2]), o.table))
	}

	for _, table := range plain {
		n := count(t, db, `SELECT count(*) FROM "`+table+`"`)
		switch {
		case n == 0:
		case table == "sync_state":
			states, err := sqlrows.Column[string](t.Context(), db, `
				SELECT '`+"`"+`' || target_key || '`+"`"+`, lifecycle `+"`"+`' || lifecycle || '`+"`"+`, ' ||
				       CASE WHEN last_enqueued_seq = 0 AND last_acked_seq = 0 AND last_pulled_seq = 0
				            THEN 'every seq 0'
				            ELSE 'seqs ' || last_enqueued_seq || '/' || last_acked_seq || '/' || last_pulled_seq END
				FROM sync_state ORDER BY target_key`)
			if err != nil {
				t.Fatal(err)
			}
			noun := "row"
			if n > 1 {
				noun = "rows"
			}
			lines = append(lines, fmt.Sprintf("- sync_state: %d %s: %s", n, noun, strings.Join(states, "; ")))
		default:
			lines = append(lines, fmt.Sprintf("- %s: %d row(s)", table, n))
		}
	}
	lines = append(lines, fmt.Sprintf("PRAGMA user_version: %d", count(t, db, "PRAGMA user_version")))
	return lines
}

// readSpec reads the lines of a schema spec file that describe the schema:
// those starting with "- " or "PRAGMA ".
func readSpec(t *testing.T, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimRight(sc.Text(), " \t"); strings.HasPrefix(l, "- ") || strings.HasPrefix(l, "PRAGMA ") {
			lines = append(lines, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// schemaDiff lists the lines only in want ("missing") and only in got
// ("unexpected"), order ignored.
func schemaDiff(want, got []string) (missing, unexpected []string) {
	in := func(lines []string, l string) bool { return slices.Contains(lines, l) }
	for _, l := range want {
		if !in(got, l) {
			missing = append(missing, l)
		}
	}
	for _, l := range got {
		if !in(want, l) {
			unexpected = append(unexpected, l)
		}
	}
	return missing, unexpected
}

// rowLine matches describeSchema's row-count lines ("- table: ...").
var rowLine = regexp.MustCompile("^- [a-z_0-9]+: ")

// withoutRows drops the row-count lines, for databases that hold data.
func withoutRows(lines []string) []string {
	return slices.DeleteFunc(slices.Clone(lines), rowLine.MatchString)
}

func checkSchema(t *testing.T, db *sql.DB, spec string) {
	t.Helper()
	checkSchemaLines(t, spec, readSpec(t, spec), describeSchema(t, db))
}

// checkObjects is checkSchema without the row-count lines.
func checkObjects(t *testing.T, db *sql.DB, spec string) {
	t.Helper()
	checkSchemaLines(t, spec, withoutRows(readSpec(t, spec)), withoutRows(describeSchema(t, db)))
}

func checkSchemaLines(t *testing.T, spec string, want, got []string) {
	t.Helper()
	missing, unexpected := schemaDiff(want, got)
	for _, l := range missing {
		t.Errorf("%s, missing from the database:\n%s", spec, l)
	}
	for _, l := range unexpected {
		t.Errorf("%s, not in the spec:\n%s", spec, l)
	}
}

func TestSchemaMatchesSpec(t *testing.T) {
	path, db := createDB(t, V1163)
	var err error
	checkSchema(t, db, "schema-v1.txt")
	db.Close()
	// The schema pass at every open adds nothing.
	if db, err = Open(path); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkSchema(t, db, "schema-v1.txt")
}

// TestSchemaSpecCatchesDifferences breaks a copy of the schema in several
// ways and checks that the comparison names each break.
func TestSchemaSpecCatchesDifferences(t *testing.T) {
	_, db := createDB(t, V1163)
	defer db.Close()
	exec(t, db, `ALTER TABLE observations ADD COLUMN extra TEXT`)
	exec(t, db, `DROP INDEX idx_obs_type`)
	exec(t, db, `CREATE INDEX idx_obs_type ON observations(type DESC)`)
	exec(t, db, `DROP TRIGGER prompt_fts_update`)
	exec(t, db, `UPDATE sync_state SET last_pulled_seq = 3`)
	exec(t, db, `PRAGMA user_version = 7`)
	missing, unexpected := schemaDiff(readSpec(t, "schema-v1.txt"), describeSchema(t, db))
	wantMissing := []string{"- **observations**:", "- `idx_obs_type`: observations(type)",
		"- `prompt_fts_update`:", "- sync_state: 1 row: `cloud`, lifecycle `idle`, every seq 0", "PRAGMA user_version: 0"}
	wantUnexpected := []string{"`embedding_created_at` TEXT; `extra` TEXT. AUTOINCREMENT",
		"- `idx_obs_type`: observations(type DESC)", "seqs 0/0/3", "PRAGMA user_version: 7"}
	for _, c := range []struct {
		lines, want []string
		what        string
	}{{missing, wantMissing, "missing"}, {unexpected, wantUnexpected, "unexpected"}} {
		if len(c.lines) != len(c.want) {
			t.Errorf("%s lines %q, want %d", c.what, c.lines, len(c.want))
			continue
		}
		for _, w := range c.want {
			if !slices.ContainsFunc(c.lines, func(l string) bool { return strings.Contains(l, w) }) {
				t.Errorf("%s lines %q lack %q", c.what, c.lines, w)
			}
		}
	}
}

func TestSchemaV3MatchesSpec(t *testing.T) {
	path, db := createDB(t, V3)
	checkSchema(t, db, "schema-v3.txt")
	db.Close()
	// migrate() at every open adds nothing, and a v1 open after v3 neither.
	var err error
	for _, v := range []Version{V3, V117, V3} {
		if db, err = OpenVersion(path, v); err != nil {
			t.Fatal(err)
		}
		checkSchema(t, db, "schema-v3.txt")
		db.Close()
	}
	// A v1.16.3 database opened by v3 ends with the same schema.
	path, db = createDB(t, V1163)
	db.Close()
	if db, err = OpenVersion(path, V3); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkSchema(t, db, "schema-v3.txt")
}
