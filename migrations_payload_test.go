package relsync_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// insertLocal writes a judged relation the way a local engram write does (updated_at now), with
// every column given: nil leaves it NULL.
func insertLocal(w *testworld.World, src, tgt string, reason, evidence, model, session *string, confidence any) string {
	w.T.Helper()
	key := fmt.Sprintf("rel-%016x", w.Count(`SELECT count(*) FROM memory_relations`)+1)
	_, err := w.DB().ExecContext(w.Ctx, `INSERT INTO memory_relations (sync_id, source_id, target_id, relation,
		reason, evidence, confidence, judgment_status, marked_by_actor, marked_by_kind, marked_by_model,
		session_id, created_at, updated_at)
		VALUES (?, ?, ?, 'related', ?, ?, ?, 'judged', 'claude', 'agent', ?, ?, datetime('now'), datetime('now'))`,
		key, src, tgt, reason, evidence, confidence, model, session)
	w.Must(err)
	return key
}

// Each payload's bytes equal what encoding/json makes of the same row (ExpectRows compares bytes
// and decoded values), whatever the row holds.
func TestPayloadEdgeContents(t *testing.T) {
	w := testworld.New(t, engram.V117)
	a, b := testworld.EnrolledPair(w)
	texts := map[string]string{
		"quotes and backslashes": `say "hi" \ back\\slash \"`,
		"html":                   `<script>alert('x') && 1 > 0</script>`,
		"line separators":        "a\u2028b\u2029c",
		"control characters":     "\x00\x01\x07\b\t\n\v\f\r\x1b\x1f\x7f end",
		"invalid utf-8":          "ok \xff\xfe bad \xc3\x28 \xe2\x82 \xed\xa0\x80 \xf4\x90\x80\x80 \xc0\xaf \x80 end\xe2",
		"emoji and accents":      "café — naïve 🧠 日本語 \U0010FFFF \uFFFD \uFFFE",
		"json lookalike":         `","project":"evil","x":"`,
		"1 MB evidence":          strings.Repeat("evidence line with words and numbers 1234567890\n", 1<<20/48),
		"empty":                  "",
	}
	for name, text := range texts {
		t.Run(name, func(t *testing.T) {
			w.T = t
			key := insertLocal(w, a, b, testworld.Ptr(text), testworld.Ptr(text), testworld.Ptr(text), testworld.Ptr(text), 0.5)
			w.ExpectRows(key, 1)
		})
	}
	t.Run("NULL in every nullable column", func(t *testing.T) {
		w.T = t
		key := insertLocal(w, a, b, nil, nil, nil, nil, nil)
		w.ExpectRows(key, 1)
	})
	for _, c := range []float64{0, 1, 0.25, 1.0 / 3, 1e-7, 0.1, 0.9999999999999999, 5e-324, 1e-5, 123456.789,
		10, 50, 1e6, -2500, 1e20, 1.2345678901234567e20, 1e21, 1.5e-6, 0.000012345, 1234567890123456.7} {
		t.Run(fmt.Sprint("confidence ", c), func(t *testing.T) {
			w.T = t
			key := insertLocal(w, a, b, nil, nil, nil, nil, c)
			w.ExpectRows(key, 1)
		})
	}
}
