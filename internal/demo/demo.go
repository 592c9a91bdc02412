// Package demo writes the demo's engram database and replays one of engram's judgments on it,
// through internal/engram (relsync's replica of engram). Only cmd/relsync-demo and the tests use
// it: the shipped relsync command does not link the replica.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/relsync/relsync/internal/engram"
)

// ErrNoJournalRow means Judge's relation got no journal row: it would never reach the cloud.
var ErrNoJournalRow = errors.New("no journal row")

// DB writes a new engram v1.16.3 database through internal/engram, relsync's replica of that
// version's schema and write statements: relations its Go code journaled next to the ones it forgot
// (issue #496), and some that never belong in the cloud.
func DB(ctx context.Context, path string, out io.Writer) error {
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		return fmt.Errorf("%s exists: the demo writes a new file", path)
	}
	db, err := engram.Create(path)
	if err != nil {
		os.Remove(path) // Create made the file before engram's open failed
		return err
	}
	defer db.Close()
	d := &demo{ctx: ctx, s: &engram.Store{DB: db, Version: engram.V1163}}
	for _, p := range []string{"alpha", "beta", "delta"} {
		d.do(d.s.CreateSession(ctx, "s-"+p, p, "/home/dev/"+p))
	}
	// alpha is enrolled: mem_judge journals, JudgeBySemantic (path A) does not.
	d.do(d.s.EnrollProject(ctx, "alpha"))
	d.judge(d.pending("alpha"))
	d.judge(d.pending("alpha"))
	d.semantic("alpha")
	d.semantic("alpha")
	d.semantic("alpha")
	d.pending("alpha") // a candidate not judged yet: not for the cloud
	// beta is judged before it is enrolled (path B): v1.16.3's enrollment catches up no relation.
	d.judge(d.pending("beta"))
	d.judge(d.pending("beta"))
	d.semantic("beta")
	d.do(d.s.EnrollProject(ctx, "beta"))
	// delta is never enrolled: its relations stay local.
	d.semantic("delta")
	if d.err != nil {
		db.Close()
		os.Remove(path)
		return d.err
	}
	fmt.Fprint(out, `alpha, enrolled:  2 relations judged with mem_judge     -> engram journaled them
                  3 judged by JudgeBySemantic (path A) -> no journal row
                  1 candidate not judged yet           -> not for the cloud
beta:             2 judged with mem_judge and 1 by JudgeBySemantic,
                  then beta was enrolled (path B)      -> no journal row
delta:            1 relation, never enrolled           -> stays local
`)
	return nil
}

// Judge opens the database as engram v1.16.3 does and lets JudgeBySemantic judge a new pair of
// alpha's observations, then prints the journal rows the relation got: v1.16.3 writes none itself.
func Judge(ctx context.Context, path string, out io.Writer) error {
	s, err := engram.New(path, engram.V1163)
	if err != nil {
		return err
	}
	defer s.Close()
	d := &demo{ctx: ctx, s: s}
	rel := d.semantic("alpha")
	if d.err != nil {
		return d.err
	}
	fmt.Fprintf(out, "engram v1.16.3 JudgeBySemantic judged %s (its Go code writes no journal row)\n", rel)
	rows, err := s.DB.QueryContext(ctx, `SELECT seq, op, project, payload FROM sync_mutations
		WHERE target_key = 'cloud' AND entity = 'relation' AND source = 'local' AND entity_key = ?
		ORDER BY seq`, rel)
	if err != nil {
		return err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var seq int64
		var op, project, payload string
		if err := rows.Scan(&seq, &op, &project, &payload); err != nil {
			return err
		}
		n++
		fmt.Fprintf(out, "journal row seq %d: op %s, project %s\npayload %s\n", seq, op, project, payload)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if n == 0 {
		fmt.Fprintf(out, "no journal row for %s: it will never reach the cloud\n", rel)
		return ErrNoJournalRow
	}
	return nil
}

// demo runs engram's writes one after the other and keeps the first error.
type demo struct {
	ctx context.Context
	s   *engram.Store
	err error
}

func (d *demo) do(err error) {
	if d.err == nil {
		d.err = err
	}
}

func (d *demo) obs(project string) string {
	if d.err != nil {
		return ""
	}
	id, err := d.s.AddObservation(d.ctx, "s-"+project, &project, "a note about "+project, "content")
	d.do(err)
	return id
}

func (d *demo) pending(project string) string {
	a, b := d.obs(project), d.obs(project)
	if d.err != nil {
		return ""
	}
	id, err := d.s.SavePendingRelation(d.ctx, a, b)
	d.do(err)
	return id
}

func (d *demo) judge(rel string) {
	if d.err != nil {
		return
	}
	reason, evidence, confidence, model := "same topic", "both describe the build", 0.8, "opus"
	_, err := d.s.JudgeRelation(d.ctx, rel, engram.Verdict{Relation: engram.RelRelated, Reason: &reason,
		Evidence: &evidence, Confidence: &confidence, Actor: "claude", Kind: "agent", Model: &model})
	d.do(err)
}

func (d *demo) semantic(project string) string {
	a, b := d.obs(project), d.obs(project)
	if d.err != nil {
		return ""
	}
	reason, confidence, model := "", 0.91, "embed-1"
	id, _, err := d.s.JudgeBySemantic(d.ctx, a, b, engram.Verdict{Relation: engram.RelSupersedes,
		Reason: &reason, Confidence: &confidence, Model: &model})
	d.do(err)
	return id
}
