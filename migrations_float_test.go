package relsync_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"
	"testing"

	"github.com/relsync/relsync"
	"github.com/relsync/relsync/internal/engram"
	"github.com/relsync/relsync/internal/testworld"
)

// goFloatValues are doubles of every shape: random bit patterns, random fractions, short decimals,
// whole numbers with trailing zeros, powers of ten around both of Go's notation switches, 17-digit
// values and subnormals.
func goFloatValues(n int) []float64 {
	r := rand.New(rand.NewSource(4))
	vals := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 0.3, 1.0 / 3, 5e-324, 2.2250738585072014e-308, math.MaxFloat64,
		-math.MaxFloat64, 1e-7, 1e-6, 1e21, 1e20, 999999999999999.9, 1e15, 0.1 + 0.2}
	for len(vals) < n {
		switch len(vals) % 6 {
		case 0:
			if v := math.Float64frombits(r.Uint64()); !math.IsNaN(v) && !math.IsInf(v, 0) {
				vals = append(vals, v)
			}
		case 1:
			vals = append(vals, r.Float64())
		case 2:
			vals = append(vals, float64(r.Intn(1000))/1000)
		case 3:
			vals = append(vals, float64(r.Intn(100))*math.Pow(10, float64(r.Intn(30))))
		case 4:
			vals = append(vals, (1+float64(r.Intn(10000))/1000)*math.Pow(10, float64(r.Intn(50)-25)))
		case 5:
			if v := float64(r.Int63n(1<<53)) * math.Pow(2, float64(r.Intn(2100)-1100)); !math.IsInf(v, 0) {
				vals = append(vals, v)
			}
		}
	}
	return vals
}

// The payload's confidence is each double as encoding/json writes it, with the exceptions SQLite's own float
// conversions bring (README, "Guarantees"): where Go needs 16 or 17 significant digits, SQLite's
// printf sometimes picks another last digit, and its text-to-double conversion, which decides how
// many digits read back, can accept digits that denote the neighbouring double. So: a number Go
// writes in 15 digits or fewer comes out byte for byte, and any other is at most one double away;
// beyond 1e±90 (no confidence is) SQLite's conversions drift further, and only a number is asked for.
func TestGoFloatMatchesEncodingJSON(t *testing.T) {
	w := testworld.New(t, engram.V117)
	a, b := w.Pair("alpha")
	w.Enroll("alpha")
	vals := goFloatValues(30000)
	tx, err := w.DB().BeginTx(w.Ctx, nil)
	w.Must(err)
	for i, v := range vals {
		_, err := tx.ExecContext(w.Ctx, `INSERT INTO memory_relations (id, sync_id, source_id, target_id, relation,
			confidence, judgment_status, marked_by_actor, marked_by_kind) VALUES (?, ?, ?, ?, 'related', ?, 'judged', 'claude', 'agent')`,
			i+1, fmt.Sprintf("rel-f%015d", i+1), a, b, v)
		w.Must(err)
	}
	w.Must(tx.Commit())
	w.Up() // the backfill journals every one of them
	// The number between "confidence": and the next field, as the journal holds it.
	rows, err := w.DB().QueryContext(w.Ctx, `SELECT CAST(substr(entity_key, 6) AS INTEGER),
		substr(payload, instr(payload, '"confidence":') + 13,
		       instr(payload, ',"judgment_status"') - instr(payload, '"confidence":') - 13)
		FROM sync_mutations WHERE entity = 'relation' AND entity_key LIKE 'rel-f%'`)
	w.Must(err)
	defer rows.Close()
	seen, otherDigits, neighbour, extreme := 0, 0, 0, 0
	for rows.Next() {
		var id int
		var got string
		w.Must(rows.Scan(&id, &got))
		v := vals[id-1]
		b, err := json.Marshal(v)
		w.Must(err)
		seen++
		if got == string(b) {
			continue
		}
		back, err := strconv.ParseFloat(got, 64)
		switch {
		case err == nil && (math.Abs(v) < 1e-90 || math.Abs(v) >= 1e90):
			extreme++
		case err != nil || significantDigits(string(b)) <= 15:
			t.Errorf("%v: relsync writes %s, Go %s", v, got, b)
		case back == v:
			otherDigits++
		case back == math.Nextafter(v, math.Inf(1)) || back == math.Nextafter(v, math.Inf(-1)):
			neighbour++
		default:
			t.Errorf("%v: relsync writes %s, which reads back as %v (Go writes %s)", v, got, back, b)
		}
	}
	w.Must(rows.Err())
	if seen != len(vals) {
		t.Fatalf("%d numbers, want %d", seen, len(vals))
	}
	t.Logf("%d doubles: %d in other digits of the same value, %d as the neighbouring double, %d beyond 1e±90 not as Go",
		seen, otherDigits, neighbour, extreme)
}

// significantDigits counts the digits of a JSON number's mantissa, leading zeros aside.
func significantDigits(s string) int {
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimLeft(strings.NewReplacer("-", "", ".", "").Replace(s), "0")
	return len(s)
}

// A database at pre-release version 3 (migration 1's float view) counts with this build's views, and once
// upgraded writes whole numbers as Go does; the row written before the upgrade stays as it was.
func TestUpgradeFromVersion3WritesGoFloats(t *testing.T) {
	w := testworld.New(t, engram.V117)
	a, b := w.Pair("alpha")
	w.Enroll("alpha")
	testworld.InstallPrerelease(t, w.DB(), 3)

	key := insertLocal(w, a, b, nil, nil, nil, nil, 50.0)
	rows := w.Rows(key)
	if len(rows) != 1 || !strings.Contains(rows[0].Payload, `"confidence":5e+01`) {
		t.Fatalf("version 3 journaled %+v, want one row with migration 1's 5e+01", rows)
	}
	rep, err := relsync.Verify(w.Ctx, w.DB())
	w.Must(err)
	if rep.Version != 3 || rep.Latest < 5 || rep.AtLatest() || testworld.TotalMissing(rep) != 0 {
		t.Fatalf("Verify at version 3: %+v", rep)
	}

	w.Up()
	_, err = w.DB().ExecContext(w.Ctx, `UPDATE memory_relations SET confidence = 60, updated_at = datetime('now')
		WHERE sync_id = ?`, key)
	w.Must(err)
	w.ExpectRows(key, 2)
	if rows := w.Rows(key); !strings.Contains(rows[0].Payload, `"confidence":5e+01`) ||
		!strings.Contains(rows[1].Payload, `"confidence":60,`) {
		t.Fatalf("after the upgrade: %+v", rows)
	}
}
