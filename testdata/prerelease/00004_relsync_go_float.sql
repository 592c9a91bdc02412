-- relsync 4: confidences written as Go writes them, for every double.
--
-- Migration 1's relsync_go_float searched for the shortest digits with %g at 1, 2, … 17 digits, and
-- %g switches to exponent form once the exponent reaches the precision: a whole number with
-- trailing zeros (10, 50, 1000000) came out as 1e+01, 5e+01, 1e+06 where Go writes 10, 50, 1000000
-- (the same value, other bytes), and a 17-digit confidence took 17 printf calls. This view starts at
-- 15 digits: for a normal double, any shorter digits that read back to it are what %.15g prints with
-- its trailing zeros dropped (15-digit decimals lie further apart than one double's rounding
-- interval), so it tries 15, 16, 17 and only subnormals search from 1. Same name and columns:
-- relsync_relation_journal and every trigger read it by name.

-- +goose Up

DROP VIEW relsync_go_float;

-- A confidence as Go's encoding/json writes a float64: the shortest digits that read back to the
-- same value, fixed notation from 1e-6 to 1e21, else exponent form without a leading zero in a
-- negative exponent. NULL when the column holds no finite number (the field is then left out).
-- g is printf's %g at the shortest precision (subnormals search all of them), read through
-- json_each so that its expression is written once: a subquery column would be copied into every
-- reference, each compiled anew. printf's '!' gives up to 17 digits, and a '.0' that Go does not
-- write. Where %g chose exponent form and Go writes fixed notation, the digits are placed around
-- the point. (Comments stay outside the statement: SQLite keeps its text in the schema, which every
-- engram connection parses.)
-- +goose StatementBegin
CREATE VIEW relsync_go_float AS
SELECT id AS relation_id,
  (SELECT CASE
     WHEN instr(g.value, 'e') = 0 THEN replace(replace(g.value || '~', '.0~', ''), '~', '')
     WHEN CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER) NOT BETWEEN -6 AND 20
       THEN replace(replace(g.value, '.0e', 'e'), 'e-0', 'e-')
     ELSE CASE WHEN g.value LIKE '-%' THEN '-' ELSE '' END || CASE
       WHEN CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER) < 0
         THEN '0.' || substr('00000', 1, -1 - CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER))
              || replace(replace(replace(ltrim(substr(g.value, 1, instr(g.value, 'e') - 1), '-') || '~', '.0~', ''), '~', ''), '.', '')
       ELSE rtrim(substr(replace(replace(replace(ltrim(substr(g.value, 1, instr(g.value, 'e') - 1), '-') || '~', '.0~', ''), '~', ''), '.', '')
                         || '000000000000000000000', 1, CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER) + 1)
                  || '.' || substr(replace(replace(replace(ltrim(substr(g.value, 1, instr(g.value, 'e') - 1), '-') || '~', '.0~', ''), '~', ''), '.', ''),
                                   CAST(substr(g.value, instr(g.value, 'e') + 1) AS INTEGER) + 2), '.')
       END
   END
   FROM json_each(json_array(printf('%!.*g', CASE
     WHEN abs(c) < 2.2250738585072014e-308 AND c <> 0
       THEN ifnull((SELECT min(k.value) FROM json_each('[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]') AS k
                    WHERE CAST(printf('%!.*g', k.value, c) AS REAL) = c), 17)
     WHEN CAST(printf('%!.15g', c) AS REAL) = c THEN 15
     WHEN CAST(printf('%!.16g', c) AS REAL) = c THEN 16
     ELSE 17 END, c))) AS g) AS number
FROM (SELECT id, CAST(confidence AS REAL) AS c FROM memory_relations
      WHERE typeof(confidence) IN ('real', 'integer')
        AND abs(CAST(confidence AS REAL)) <= 1.7976931348623157e308);
-- +goose StatementEnd

INSERT OR REPLACE INTO relsync_objects (name, type, sql) SELECT name, type, sql FROM relsync_schema;

-- +goose Down
-- Nothing to undo: the view above replaces migration 1's under the same name and columns, and
-- writes the same bytes wherever that one matched Go. Migration 1's Down drops it.
SELECT 1;
