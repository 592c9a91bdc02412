package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/relsync/relsync"
)

// verify prints relsync.Verify's report: the objects, then per enrolled project what belongs in
// the journal and what is missing. It fails (exit 1) unless the report is OK.
func verify(ctx context.Context, path string, out io.Writer) error {
	db, err := openExisting(path, false)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := relsync.Verify(ctx, db)
	if err != nil {
		return explain(path, err)
	}
	printReport(out, rep, path)
	if !rep.OK() {
		return errFailed
	}
	return nil
}

func printReport(out io.Writer, rep relsync.Report, path string) {
	switch {
	case rep.Version == 0:
		fmt.Fprintf(out, "relsync: not installed (this build installs version %d); counts are what it would backfill\n", rep.Latest)
	case !rep.AtLatest():
		fmt.Fprintf(out, "relsync: version %d installed, this build has %d\n", rep.Version, rep.Latest)
	default:
		fmt.Fprintf(out, "relsync: version %d installed\n", rep.Version)
	}
	if rep.Version > 0 {
		var bad []string
		for _, o := range rep.Objects {
			if o.State != relsync.ObjectOK {
				bad = append(bad, fmt.Sprintf("%s %s %s", o.Type, o.Name, o.State))
			}
		}
		fmt.Fprintf(out, "objects: %d ok", len(rep.Objects)-len(bad))
		if len(bad) > 0 {
			fmt.Fprintf(out, "; %s", strings.Join(bad, "; "))
		}
		fmt.Fprintln(out)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "project\teligible\tjournaled\tstale\tmissing\tfrom_cloud\tunacked")
	for _, p := range rep.Projects {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\n", p.Project, p.Eligible, p.Journaled, p.Stale, p.Missing, p.FromCloud, p.Unacked)
	}
	tw.Flush()
	for _, p := range rep.Projects {
		if len(p.Sample) > 0 {
			fmt.Fprintf(out, "missing in %s: %s\n", p.Project, strings.Join(p.Sample, " "))
		}
		if p.Held > 0 {
			fmt.Fprintf(out, "held in %s: %d unpushed relation row(s) engram quarantined (not in unacked)\n", p.Project, p.Held)
		}
	}
	if len(rep.UnjournaledColumns) > 0 {
		fmt.Fprintf(out, "memory_relations columns the payload does not carry: %s\n", strings.Join(rep.UnjournaledColumns, ", "))
	}
	if rep.OrphanRows > 0 {
		fmt.Fprintf(out, "journal rows whose relation is gone: %d\n", rep.OrphanRows)
	}
	if rep.OK() {
		fmt.Fprintln(out, "OK: every relation that belongs in the journal has its row")
		return
	}
	// The last line says what is wrong and which command fixes it.
	var problems []string
	fix := "relsync repair " + path
	switch {
	case rep.Version == 0:
		problems, fix = append(problems, "relsync is not installed"), "relsync up "+path
	case rep.Version == rep.Latest-1:
		problems, fix = append(problems, "the backfill has not finished"), "relsync up "+path
	case !rep.AtLatest():
		problems = append(problems, fmt.Sprintf("relsync is at version %d, this build has %d", rep.Version, rep.Latest))
		fix = "relsync up " + path
	}
	bad, missing, stale := 0, 0, 0
	for _, o := range rep.Objects {
		if o.State != relsync.ObjectOK {
			bad++
		}
	}
	for _, p := range rep.Projects {
		missing += p.Missing
		stale += p.Stale
	}
	if bad > 0 {
		problems = append(problems, fmt.Sprintf("%d relsync object(s) missing, changed or unexpected", bad))
	}
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d relation(s) without their journal row", missing))
	}
	if stale > 0 {
		problems = append(problems, fmt.Sprintf("%d relation(s) whose latest journal row is outdated", stale))
	}
	if len(rep.UnjournaledColumns) > 0 {
		problems = append(problems, fmt.Sprintf("%d memory_relations column(s) the payload does not carry", len(rep.UnjournaledColumns)))
		if len(problems) == 1 {
			fix = "none in this relsync: a newer release must carry those columns"
		}
	}
	fmt.Fprintf(out, "NOT OK: %s. Fix: %s\n", strings.Join(problems, "; "), fix)
}
