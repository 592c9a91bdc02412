package relsync_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// Differential fuzzing of the payload: random contents in every memory_relations column the
// payload reads, each in any SQLite storage class. The write must never fail because of relsync;
// every journal row must be valid UTF-8 and valid JSON with exactly the keys of docs/engram.md §5; and
// for every row Go can scan into engram's struct, the decoded payload must equal encoding/json's.
// CI runs the seeds below and testdata/fuzz; scripts/fuzz.sh runs the fuzzer itself.

// storage classes a fuzzed column value takes, chosen by a kind byte.
const (
	asText = iota
	asInteger
	asReal
	asBlob
	asNull
	classes
)

// fuzzValue turns raw bytes into a column value of the class kind picks.
func fuzzValue(kind byte, raw []byte, notNull bool) any {
	k := int(kind) % classes
	if notNull && k == asNull {
		k = asText
	}
	switch k {
	case asInteger:
		var b [8]byte
		copy(b[:], raw)
		return int64(binary.LittleEndian.Uint64(b[:]))
	case asReal:
		var b [8]byte
		copy(b[:], raw)
		return math.Float64frombits(binary.LittleEndian.Uint64(b[:]))
	case asBlob:
		return append([]byte{}, raw...)
	case asNull:
		return nil
	}
	return string(raw)
}

var payloadKeys = map[string]bool{"sync_id": true, "source_id": true, "target_id": true, "relation": true,
	"reason": true, "evidence": true, "confidence": true, "judgment_status": true, "marked_by_actor": true,
	"marked_by_kind": true, "marked_by_model": true, "session_id": true, "project": true,
	"created_at": true, "updated_at": true}

var requiredKeys = []string{"sync_id", "source_id", "target_id", "relation", "judgment_status",
	"marked_by_actor", "marked_by_kind", "project", "created_at", "updated_at"}

func FuzzPayload(f *testing.F) {
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 2}, []byte("related"), []byte(`say "hi" <b>&`), []byte("ev\x00\xff"), []byte("model"), []byte("sess"), []byte("claude"), []byte("2026-01-01 00:00:00"), 0.25)
	f.Add([]byte{3, 3, 3, 3, 3, 3, 3, 3}, []byte("\xc3\x28"), []byte("\xed\xa0\x80"), []byte("\xf4\x90\x80\x80"), []byte("\xe2\x82"), []byte{0x80}, []byte("\xf0\x9f\x98"), []byte("\xc0\xaf"), 1.0/3)
	f.Add([]byte{1, 2, 4, 4, 4, 4, 0, 0}, []byte("12"), []byte("1e300"), []byte{}, []byte{}, []byte{}, []byte("agent"), []byte("x"), math.Inf(1))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte(`","project":"x`), []byte("\u2028\u2029"), []byte("🧠"), []byte("{}"), []byte("[]"), []byte("a\\"), []byte("\x1f"), math.NaN())
	f.Add([]byte{2, 1, 3, 0, 1, 2, 0, 0}, []byte{0, 0, 0, 0, 0, 0, 0xf0, 0x7f}, []byte{1}, []byte{}, []byte("x"), []byte{0xff, 0xff}, []byte("a"), []byte("b"), -0.0)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte("r"), []byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e"), []byte("f"), 1e-7)
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte("r"), []byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e"), []byte("f"), 5e-324)
	// The walk's edges: a valid character then stray continuation bytes, U+FFFE and U+FFFF (valid
	// to Go, folded by SQLite's decoder), characters across the walk's 64-byte windows, dense Latin-1.
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0}, []byte("r"), []byte("\xc2\xa9\xa9\xe6\x97\xa5\x80\x80"), []byte("\uffff\ufffe\ufffd\xef\xbf"),
		[]byte(strings.Repeat("日本\xe6\x97", 40)), []byte(strings.Repeat("🧠a", 50)), []byte(strings.Repeat("caf\xe9 na\xefve ", 20)), []byte("f"), 0.5)

	w := testworld.New(f, engram.V117)
	src, tgt := testworld.EnrolledPair(w)
	n := 0
	f.Fuzz(func(t *testing.T, kinds, relation, reason, evidence, model, session, actor, created []byte, conf float64) {
		w.T = t
		for len(kinds) < 8 {
			kinds = append(kinds, 0)
		}
		n++
		key := fmt.Sprintf("rel-fz%d-%x", n, kinds)
		confidence := fuzzValue(kinds[7], relation, false)
		if int(kinds[7])%classes == asReal {
			confidence = conf
		}
		cols := []any{
			fuzzValue(kinds[0], relation, true),
			fuzzValue(kinds[1], reason, false),
			fuzzValue(kinds[2], evidence, false),
			fuzzValue(kinds[3], model, false),
			fuzzValue(kinds[4], session, false),
			fuzzValue(kinds[5], actor, false),
			fuzzValue(kinds[6], created, true),
		}
		_, err := w.DB().ExecContext(w.Ctx, `INSERT INTO memory_relations (sync_id, source_id, target_id,
			relation, reason, evidence, marked_by_model, session_id, marked_by_actor, created_at,
			confidence, judgment_status, marked_by_kind, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'judged', 'agent', datetime('now'))`,
			append(append([]any{key, src, tgt}, cols...), confidence)...)
		if err != nil {
			t.Fatalf("the write failed: %v", err)
		}
		rows := w.Rows(key)
		eligible := w.Count(`SELECT count(*) FROM relsync_relation_eligible AS e
			JOIN memory_relations AS r ON r.id = e.relation_id WHERE r.sync_id = ?`, key) == 1
		if want := map[bool]int{true: 1, false: 0}[eligible]; len(rows) != want {
			t.Fatalf("%d journal rows for a relation eligible=%v", len(rows), eligible)
		}
		if len(rows) == 0 {
			return
		}
		payload := rows[0].Payload
		if !utf8.ValidString(payload) || !json.Valid([]byte(payload)) {
			t.Fatalf("payload is not valid UTF-8 JSON: %q", payload)
		}
		var obj map[string]any
		if err := json.Unmarshal([]byte(payload), &obj); err != nil {
			t.Fatal(err)
		}
		for k := range obj {
			if !payloadKeys[k] {
				t.Fatalf("unexpected key %q in %s", k, payload)
			}
		}
		for _, k := range requiredKeys {
			if _, ok := obj[k]; !ok {
				t.Fatalf("missing key %q in %s", k, payload)
			}
		}
		p, err := engram.ReadRelationPayload(w.Ctx, w.DB(), key, engram.V117)
		if err != nil {
			// Go cannot scan the row (a confidence that is text or a blob): relsync leaves the
			// confidence out, as README says, and writes the rest.
			if _, ok := obj["confidence"]; ok {
				t.Fatalf("confidence written for a row Go cannot scan: %s", payload)
			}
			return
		}
		ref, err := json.Marshal(p)
		if err != nil {
			// encoding/json refuses ±Inf: relsync leaves the confidence out.
			if _, ok := obj["confidence"]; ok {
				t.Fatalf("confidence written where encoding/json refuses it: %s", payload)
			}
			return
		}
		var want map[string]any
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(obj, want) && !sameButConfidenceDigits(obj, want) {
			t.Fatalf("payload decodes to another value\n got %s\nwant %s", payload, ref)
		}
	})
}

// sameButConfidenceDigits allows the one difference README's "Faithful rows" states: a confidence
// that Go writes in 16 or 17 digits may come out as the neighbouring double (SQLite's printf).
func sameButConfidenceDigits(got, want map[string]any) bool {
	g, okG := got["confidence"].(float64)
	w, okW := want["confidence"].(float64)
	if !okG || !okW || (g != math.Nextafter(w, math.Inf(1)) && g != math.Nextafter(w, math.Inf(-1))) {
		return false
	}
	b, err := json.Marshal(w)
	if err != nil || significantDigits(string(b)) < 16 {
		return false
	}
	rest := func(m map[string]any) map[string]any {
		out := maps.Clone(m)
		delete(out, "confidence")
		return out
	}
	return reflect.DeepEqual(rest(got), rest(want))
}
