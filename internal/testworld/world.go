package testworld

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
)

// World is an engram database on a real file, replayed as engram version S.Version writes it.
type World struct {
	T    testing.TB
	Ctx  context.Context
	Path string
	S    *engram.Store
}

// New creates an empty engram database of version v in the test's temporary directory.
func New(t testing.TB, v engram.Version) *World {
	t.Helper()
	path := filepath.Join(t.TempDir(), "engram.db")
	db, err := engram.CreateVersion(path, v)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &World{T: t, Ctx: context.Background(), Path: path, S: &engram.Store{DB: db, Version: v}}
}

func (w *World) DB() *sql.DB { return w.S.DB }

func (w *World) Exec(query string) {
	w.T.Helper()
	_, err := w.DB().ExecContext(w.Ctx, query)
	w.Must(err)
}

// DeleteRows deletes the relation's journal rows, as a hand cleanup would: the relation then
// lacks its row.
func (w *World) DeleteRows(key string) {
	w.T.Helper()
	_, err := w.DB().ExecContext(w.Ctx, `DELETE FROM sync_mutations WHERE entity = 'relation' AND entity_key = ?`, key)
	w.Must(err)
}

// Verify is relsync.Verify on the world's database.
func (w *World) Verify() relsync.Report {
	w.T.Helper()
	rep, err := relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	return rep
}

func (w *World) Must(err error) {
	w.T.Helper()
	if err != nil {
		w.T.Fatal(err)
	}
}

func (w *World) Up() {
	w.T.Helper()
	w.Must(relsync.Up(w.Ctx, w.DB()))
}

func (w *World) Session(id, project string) {
	w.T.Helper()
	w.Must(w.S.CreateSession(w.Ctx, id, project, "/home/dev/"+project))
}

// Obs adds an observation; project nil leaves its project column NULL.
func (w *World) Obs(session string, project *string) string {
	w.T.Helper()
	id, err := w.S.AddObservation(w.Ctx, session, project, "title", "content")
	w.Must(err)
	return id
}

func (w *World) Enroll(project string) {
	w.T.Helper()
	w.Must(w.S.EnrollProject(w.Ctx, project))
}

func (w *World) Pending(src, tgt string) string {
	w.T.Helper()
	id, err := w.S.SavePendingRelation(w.Ctx, src, tgt)
	w.Must(err)
	return id
}

func (w *World) Judge(rel string, v engram.Verdict) {
	w.T.Helper()
	_, err := w.S.JudgeRelation(w.Ctx, rel, v)
	w.Must(err)
}

func (w *World) Semantic(src, tgt string, v engram.Verdict) string {
	w.T.Helper()
	id, _, err := w.S.JudgeBySemantic(w.Ctx, src, tgt, v)
	w.Must(err)
	return id
}

// Pair adds session s1 of project with two observations of that project, and enrolls nothing.
func (w *World) Pair(project string) (a, b string) {
	w.T.Helper()
	w.Session("s1", project)
	return w.Obs("s1", Ptr(project)), w.Obs("s1", Ptr(project))
}

// EnrolledPair is an enrolled project with two observations, relsync installed.
func EnrolledPair(w *World) (a, b string) {
	w.T.Helper()
	a, b = w.Pair("alpha")
	w.Enroll("alpha")
	w.Up()
	return a, b
}
