package relsync_test

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// Every statement relsync runs must reach engram's big tables through an index: one full pass over
// sync_mutations, memory_relations, observations or sessions per judged relation is what makes a
// trigger cost grow with the database. This test reads the plan SQLite compiles for each statement
// that the triggers, the backfill and the verification views run, and fails on a full pass over
// those tables, except where one pass over memory_relations is the job: the backfill, the
// enrollment catch-up (a project's backfill) and the unfiltered coverage views.
//
// The plan is read from the bytecode (EXPLAIN), not from EXPLAIN QUERY PLAN's text, which names
// tables by their alias: a cursor opened on a root page of one of those tables (or of one of
// their indexes) and started with Rewind (or Last and then Prev) is a full pass; a Count is too.
// The EXPLAIN QUERY PLAN text is logged for each statement that fails.

// planWatchedTables are engram's tables that grow with its data.
var planWatchedTables = map[string]bool{
	"sync_mutations": true, "memory_relations": true, "observations": true, "sessions": true,
}

// planStatement is one statement relsync runs, and the full passes it may take (table → count).
type planStatement struct {
	origin, sql string
	allowed     map[string]int
}

// planOnePass allows one pass, not nested in another loop, over each of tables.
func planOnePass(tables ...string) map[string]int {
	out := map[string]int{}
	for _, t := range tables {
		out[t] = 1
	}
	return out
}

func TestQueryPlansSearchEngramTables(t *testing.T) {
	// Without statistics (engram never runs ANALYZE) SQLite plans from the schema alone, so a small
	// engram database with relsync installed shows the plans a large one gets.
	ctx := context.Background()
	w := testworld.New(t, engram.V1163)
	a, b := testworld.EnrolledPair(w)
	w.Semantic(a, b, testworld.SemVerdict("related"))
	conn, err := w.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	stmts := planTriggerStatements(t, conn)
	stmts = append(stmts, planMigrationStatements(t, ctx, conn)...)
	stmts = append(stmts, planViewStatements(t, conn)...)
	if len(stmts) < 20 {
		t.Fatalf("found only %d statements to plan", len(stmts))
	}
	roots := planRoots(t, conn)
	for _, st := range stmts {
		passes, err := planFullPasses(ctx, conn, roots, st.sql)
		if err != nil {
			t.Errorf("%s: %v\n%s", st.origin, err, st.sql)
			continue
		}
		var bad []string
		allowed := st.allowed
		for _, p := range passes {
			// A statement may read memory_relations whole; of the journal, only a range.
			if !p.nested && allowed[p.table] > 0 && (p.table == "memory_relations" || !p.whole) {
				allowed[p.table]--
				continue
			}
			bad = append(bad, p.String())
		}
		if len(bad) > 0 {
			t.Errorf("%s: full pass over %s (BENCHMARKS.md, section \"Query plans\", has the proposed fixes)\n%s\nplan:\n%s",
				st.origin, strings.Join(bad, "; "), st.sql, planText(ctx, conn, st.sql))
		} else if testing.Verbose() {
			t.Logf("%s: ok, full passes %v", st.origin, passes)
		}
	}
}

// planTriggerStatements are the statements in the bodies of relsync's triggers as installed, with
// NEW.x and OLD.x turned into parameters (a trigger reads them as registers, as it would a bound
// value).
func planTriggerStatements(t *testing.T, conn *sql.Conn) []planStatement {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(),
		`SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'relsync\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	rowRef := regexp.MustCompile(`(?i)\b(NEW|OLD)\.(\w+)`)
	begin := regexp.MustCompile(`(?i)\bBEGIN\b`)
	var out []planStatement
	for rows.Next() {
		var name, text string
		if err := rows.Scan(&name, &text); err != nil {
			t.Fatal(err)
		}
		loc := begin.FindStringIndex(text)
		end := strings.LastIndex(strings.ToUpper(text), "END")
		if loc == nil || end < loc[1] {
			t.Fatalf("trigger %s: no BEGIN … END body", name)
		}
		var allowed map[string]int
		if name == "relsync_enrolled_ai" { // the backfill of the project just enrolled
			allowed = planOnePass("memory_relations")
		}
		for i, s := range planSplitSQL(text[loc[1]:end]) {
			out = append(out, planStatement{
				origin:  fmt.Sprintf("trigger %s, statement %d", name, i+1),
				sql:     rowRef.ReplaceAllString(s, ":${1}_$2"),
				allowed: allowed,
			})
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// planMigrationStatements are the statements of the migration that Go runs by name and that read
// rows (the precheck and the backfill), planned on the installed database.
func planMigrationStatements(t *testing.T, ctx context.Context, conn *sql.Conn) []planStatement {
	t.Helper()
	var out []planStatement
	for _, name := range []string{"precheck", "backfill"} {
		stmt, err := testworld.Section(name)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, planStatement{
			origin:  "section " + name,
			sql:     strings.TrimSuffix(strings.TrimSpace(stmt), ";"),
			allowed: planOnePass("memory_relations", "sync_mutations"),
		})
	}
	return out
}

// planViewStatements read whole each relsync view that no other relsync object reads (what Verify
// and scripts/verify.sql read); the views inside them are planned as part of them, and the views
// the triggers and the backfill read are planned in their statements.
func planViewStatements(t *testing.T, conn *sql.Conn) []planStatement {
	t.Helper()
	rows, err := conn.QueryContext(context.Background(),
		`SELECT v.name FROM sqlite_master AS v
		 WHERE v.type = 'view' AND v.name LIKE 'relsync\_%' ESCAPE '\'
		   AND NOT EXISTS (SELECT 1 FROM sqlite_master AS o
		                   WHERE o.name LIKE 'relsync\_%' ESCAPE '\' AND o.name <> v.name
		                     AND o.type IN ('view', 'trigger') AND instr(o.sql, v.name) > 0)
		 ORDER BY v.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []planStatement
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		// Counting needs one pass over the relations and one over a range of their journal rows.
		out = append(out, planStatement{origin: "view " + name, sql: "SELECT * FROM " + name,
			allowed: planOnePass("memory_relations", "sync_mutations")})
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// planSplitSQL splits SQL text on the semicolons that are outside quotes and comments.
func planSplitSQL(text string) []string {
	var out []string
	start := 0
	for i := 0; i < len(text); i++ {
		switch c := text[i]; {
		case c == '\'' || c == '"' || c == '`':
			for i++; i < len(text) && text[i] != c; i++ {
			}
		case c == '-' && strings.HasPrefix(text[i:], "--"):
			for ; i < len(text) && text[i] != '\n'; i++ {
			}
		case c == ';':
			if s := strings.TrimSpace(text[start:i]); s != "" {
				out = append(out, s)
			}
			start = i + 1
		}
	}
	if s := strings.TrimSpace(text[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

// planRoot identifies a b-tree: schema (0 main, 1 temp) and root page.
type planRoot struct{ db, page int64 }

// planTree is a b-tree of a watched table: the table itself (columns nil) or one of its indexes.
type planTree struct {
	table, name string
	columns     []string
}

// planFewValues are the columns of the watched tables that take a handful of values, so that a
// search constrained by them alone reads a large part of the table: deleted_at is NULL for every
// live observation, target_key is 'cloud' for every journal row.
var planFewValues = map[string]bool{
	"observations.deleted_at":          true,
	"observations.type":                true,
	"observations.scope":               true,
	"memory_relations.judgment_status": true,
	"sync_mutations.target_key":        true,
	"sync_mutations.entity":            true,
	"sync_mutations.source":            true,
	// Every row is unacked until the pusher runs: right after a backfill, all of them.
	"sync_mutations.acked_at": true,
}

// planRoots maps the b-trees of the watched tables (theirs and their indexes') to what they are.
func planRoots(t *testing.T, conn *sql.Conn) map[planRoot]planTree {
	t.Helper()
	out := map[planRoot]planTree{}
	rows, err := conn.QueryContext(context.Background(),
		`SELECT m.rootpage, m.tbl_name, m.name, m.type, ifnull(group_concat(i.name, ','), '')
		 FROM sqlite_master AS m LEFT JOIN pragma_index_info(m.name) AS i
		 WHERE m.rootpage > 0 GROUP BY m.name ORDER BY m.name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var page int64
		var table, name, kind, columns string
		if err := rows.Scan(&page, &table, &name, &kind, &columns); err != nil {
			t.Fatal(err)
		}
		if !planWatchedTables[table] {
			continue
		}
		tree := planTree{table: table, name: name}
		if kind == "index" {
			tree.columns = strings.Split(columns, ",")
		}
		out[planRoot{0, page}] = tree
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// group_concat's order is not promised: read each index's columns in order.
	for root, tree := range out {
		if tree.columns == nil {
			continue
		}
		cols, err := conn.QueryContext(context.Background(), `SELECT name FROM pragma_index_info(?) ORDER BY seqno`, tree.name)
		if err != nil {
			t.Fatal(err)
		}
		tree.columns = tree.columns[:0]
		for cols.Next() {
			var c string
			if err := cols.Scan(&c); err != nil {
				t.Fatal(err)
			}
			tree.columns = append(tree.columns, c)
		}
		cols.Close()
		out[root] = tree
	}
	return out
}

// planOp is one instruction of a compiled statement.
type planOp struct {
	addr, p1, p2, p3 int64
	opcode           string
	p4               any
}

// planPass is a full pass over a watched table found in a compiled statement.
type planPass struct {
	table, how string
	whole      bool // the whole table or index, not a range of it
	nested     bool // inside the loop of another cursor: run once per row of that loop
}

func (p planPass) String() string {
	if p.nested {
		return p.table + " (" + p.how + ", once per row of an outer loop)"
	}
	return p.table + " (" + p.how + ")"
}

// planFullPasses compiles stmt and lists its full passes over the watched tables: a cursor started
// with Rewind (or Last, then Prev), a Count, or an index search constrained only by columns of
// planFewValues. The child-row scans of foreign-key checks are left out: they run only while a
// violation is outstanding.
func planFullPasses(ctx context.Context, conn *sql.Conn, roots map[planRoot]planTree, stmt string) ([]planPass, error) {
	rows, err := conn.QueryContext(ctx, "EXPLAIN "+stmt, planNullArgs(stmt)...)
	if err != nil {
		return nil, err
	}
	var ops []planOp
	for rows.Next() {
		var op planOp
		var p5 int64
		var comment any
		if err := rows.Scan(&op.addr, &op.opcode, &op.p1, &op.p2, &op.p3, &op.p4, &p5, &comment); err != nil {
			rows.Close()
			return nil, err
		}
		if op.opcode == "Init" && len(ops) > 0 {
			// The programs of the triggers this statement fires follow; they are planned on
			// their own, from their bodies.
			break
		}
		ops = append(ops, op)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Loops (a Next or Prev jumping back) and blocks that run once per statement (Once).
	type span struct{ from, to int64 }
	var loops, once []span
	for _, op := range ops {
		switch op.opcode {
		case "Next", "Prev", "SorterNext", "VNext":
			if op.p2 <= op.addr {
				loops = append(loops, span{op.p2, op.addr})
			}
		case "Once":
			once = append(once, span{op.addr, op.p2})
		}
	}
	nested := func(addr int64) bool {
		for _, l := range loops {
			if addr <= l.from || addr > l.to {
				continue
			}
			runsOnce := false
			for _, o := range once {
				if o.from > l.from && o.from < addr && addr < o.to {
					runsOnce = true
				}
			}
			if !runsOnce {
				return true
			}
		}
		return false
	}

	cursors := map[int64]planTree{}
	last := map[int64]bool{}
	var passes []planPass
	for i, op := range ops {
		switch op.opcode {
		case "OpenRead", "OpenWrite", "ReopenIdx":
			tree, ok := roots[planRoot{op.p3, op.p2}]
			if ok && (i == 0 || ops[i-1].opcode != "FkIfZero") {
				cursors[op.p1] = tree
			} else {
				delete(cursors, op.p1)
			}
		case "OpenEphemeral", "OpenAutoindex", "OpenPseudo", "OpenDup", "SorterOpen":
			delete(cursors, op.p1)
		case "Rewind", "Count":
			if tree, ok := cursors[op.p1]; ok {
				passes = append(passes, planPass{tree.table, strings.ToLower(op.opcode) + " " + tree.name, true, nested(op.addr)})
			}
		case "Last":
			last[op.p1] = true
		case "Prev":
			if tree, ok := cursors[op.p1]; ok && last[op.p1] {
				passes = append(passes, planPass{tree.table, "reverse scan " + tree.name, true, nested(op.addr)})
				delete(last, op.p1)
			}
		case "SeekGE", "SeekGT", "SeekLE", "SeekLT":
			tree, ok := cursors[op.p1]
			if !ok || tree.columns == nil {
				continue
			}
			n, _ := op.p4.(int64)
			if s, isText := op.p4.(string); isText {
				fmt.Sscan(s, &n)
			}
			few := n > 0 && int(n) <= len(tree.columns)
			for _, c := range tree.columns[:min(int(n), len(tree.columns))] {
				few = few && planFewValues[tree.table+"."+c]
			}
			if few {
				passes = append(passes, planPass{tree.table, fmt.Sprintf("search %s on (%s) only", tree.name,
					strings.Join(tree.columns[:n], ", ")), false, nested(op.addr)})
			}
		}
	}
	return passes, nil
}

// planText is EXPLAIN QUERY PLAN's text, for the failure message.
func planText(ctx context.Context, conn *sql.Conn, stmt string) string {
	rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+stmt, planNullArgs(stmt)...)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	depth := map[int64]int{}
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int64
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return err.Error()
		}
		depth[id] = depth[parent] + 1
		fmt.Fprintf(&b, "%s%s\n", strings.Repeat("  ", depth[id]), detail)
	}
	return b.String()
}

var planParam = regexp.MustCompile(`:(\w+)`)

// planNullArgs binds NULL to each named parameter of stmt: the plan is made before any value is.
func planNullArgs(stmt string) []any {
	seen := map[string]bool{}
	var args []any
	for _, m := range planParam.FindAllStringSubmatch(stmt, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			args = append(args, sql.Named(m[1], nil))
		}
	}
	return args
}
