package engram

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/relsync/relsync/internal/sqlrows"
)

// The backfills find rows of a project with no local journal row for target
// 'cloud' (acked or not), through idx_sync_mutations_lookup.
var (
	selectSessionsToBackfill = selectToBackfill("sessions", "id", "session",
		"project = ?", "started_at, id")
	selectObservationsToBackfill = selectToBackfill("observations", "sync_id", "observation",
		"ifnull(project, '') = ? AND ifnull(sync_id, '') <> ''", "id")
	selectPromptsToBackfill = selectToBackfill("user_prompts", "sync_id", "prompt",
		"ifnull(project, '') = ? AND ifnull(sync_id, '') <> ''", "id")
)

// selectToBackfill is the query of one entity's backfill: the key of each
// row of table that where (its project, the one argument) keeps and that has
// no local journal row of entity for target 'cloud'.
func selectToBackfill(table, key, entity, where, order string) string {
	return `
SELECT ` + key + ` FROM ` + table + `
WHERE ` + where + `
  AND NOT EXISTS (SELECT 1 FROM sync_mutations sm
                  WHERE sm.target_key = 'cloud' AND sm.entity = '` + entity + `'
                    AND sm.entity_key = ` + table + `.` + key + ` AND sm.source = 'local')
ORDER BY ` + order
}

const (
	// relationBackfillRule is v1.17's rule (§6) less the enrollment test, with the v1.17 payload
	// project, which the caller tests; it ends inside the test for a local row, which v3 narrows.
	relationBackfillRule = `
SELECT r.sync_id,
       COALESCE((SELECT COALESCE(NULLIF(o.project, ''), NULLIF(s.project, ''))
                 FROM observations o LEFT JOIN sessions s ON s.id = o.session_id
                 WHERE o.sync_id = r.source_id ORDER BY o.id LIMIT 1), '')
FROM memory_relations r
WHERE r.judgment_status NOT IN ('pending', 'orphaned')
  AND ifnull(r.marked_by_actor, '') <> ''
  AND ifnull(r.marked_by_kind, '') <> ''
  AND EXISTS (SELECT 1 FROM observations o WHERE o.sync_id = r.source_id AND o.deleted_at IS NULL)
  AND EXISTS (SELECT 1 FROM observations o WHERE o.sync_id = r.target_id AND o.deleted_at IS NULL)
  AND NOT EXISTS (SELECT 1 FROM sync_mutations sm
                  WHERE sm.target_key = 'cloud' AND sm.entity = 'relation'
                    AND sm.entity_key = r.sync_id AND sm.source = 'local'`

	// selectRelationBackfill is v1.17's: any local row counts as present.
	selectRelationBackfill = relationBackfillRule + `)
ORDER BY r.id`

	// selectRelationBackfillV3 is v3's: a local row counts as present only
	// while its disposition is pending or quarantined (not superseded).
	selectRelationBackfillV3 = relationBackfillRule + `
                    AND sm.disposition IN ('pending', 'quarantined'))
ORDER BY r.id`

	selectEnrolledProjects = `SELECT project FROM sync_enrolled_projects ORDER BY project`
)

// StartupRepair is what engram's New runs at every open (v1.16.3, v1.17):
// for each enrolled project, one transaction backfilling its sessions,
// observations and prompts and, for v1.17 and v3, then its relations. Engram
// v3 runs the same backfills lazily instead: see PrePushRepair.
func (s *Store) StartupRepair(ctx context.Context) error {
	projects, err := sqlrows.Column[string](ctx, s.DB, selectEnrolledProjects)
	if err != nil {
		return fmt.Errorf("start-up repair: %w", err)
	}
	for _, p := range projects {
		err := s.inTx(ctx, func(tx *sql.Tx) error { return s.backfillProjectTx(ctx, tx, p) })
		if err != nil {
			return fmt.Errorf("start-up repair of %s: %w", p, err)
		}
	}
	return nil
}

// PrePushRepair is engram v3's lazy project backfill, run before a cloud
// export or an autosync push: StartupRepair's backfills (relations last,
// with v3's disposition rule), once per Store. A failed run is retried by
// the next call; after a success it does nothing. It works for every
// Version (v1 Stores run StartupRepair once more).
func (s *Store) PrePushRepair(ctx context.Context) error {
	s.repairMu.Lock()
	defer s.repairMu.Unlock()
	if s.repaired {
		return nil
	}
	if err := s.StartupRepair(ctx); err != nil {
		return fmt.Errorf("pre-push repair: %w", err)
	}
	s.repaired = true
	return nil
}

// BackfillRelations is v1.17's relation backfill over every enrolled
// project, in one transaction, whatever s.Version: it journals, one by one
// through Go's journal path, each relation that §6 says belongs in the
// journal and lacks a row. A V3 Store uses v3's rule instead (disposition
// and central gate). It returns how many rows it wrote. It is the baseline
// relsync's SQL backfill is measured against.
func (s *Store) BackfillRelations(ctx context.Context) (int, error) {
	var n int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		projects, err := sqlrows.Column[string](ctx, tx, selectEnrolledProjects)
		if err != nil {
			return err
		}
		enrolled := make(map[string]bool, len(projects))
		for _, p := range projects {
			enrolled[p] = true
		}
		n, err = s.backfillRelationsTx(ctx, tx, func(p string) bool { return enrolled[p] })
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("relation backfill: %w", err)
	}
	return n, nil
}

// backfillProjectTx is engram's project backfill: sessions, observations
// (soft-deleted ones as op 'delete'), prompts, and for v1.17 and v3 relations last,
// so a relation's row follows its observations' rows.
func (s *Store) backfillProjectTx(ctx context.Context, tx *sql.Tx, project string) error {
	steps := []struct {
		query   string
		journal func(context.Context, Querier, Version, string) (int64, error)
	}{
		{selectSessionsToBackfill, journalSession},
		{selectObservationsToBackfill, journalObservation},
		{selectPromptsToBackfill, journalPrompt},
	}
	for _, st := range steps {
		keys, err := sqlrows.Column[string](ctx, tx, st.query, project)
		if err != nil {
			return fmt.Errorf("backfill %s: %w", project, err)
		}
		for _, k := range keys {
			if _, err := st.journal(ctx, tx, s.Version, k); err != nil {
				return err
			}
		}
	}
	if !s.Version.fixes496() {
		return nil
	}
	_, err := s.backfillRelationsTx(ctx, tx, func(p string) bool { return p == project })
	return err
}

// backfillRelationsTx journals the eligible relations without a local row
// whose payload project, raw (§6), passes keep. Rows are collected first,
// then journaled, so no cursor is open while writing.
func (s *Store) backfillRelationsTx(ctx context.Context, q Querier, keep func(project string) bool) (int, error) {
	query, v := selectRelationBackfill, V117
	if s.Version.v3() {
		query, v = selectRelationBackfillV3, s.Version
	}
	type candidate struct{ id, project string }
	candidates, err := sqlrows.Scan(ctx, q, query, func(rows *sql.Rows, c *candidate) error {
		return rows.Scan(&c.id, &c.project)
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, c := range candidates {
		if !keep(c.project) {
			continue
		}
		p, err := ReadRelationPayload(ctx, q, c.id, v)
		if err != nil {
			return 0, err
		}
		seq, err := JournalRelationVersion(ctx, q, v, p)
		if err != nil {
			return 0, err
		}
		if seq != 0 {
			n++
		}
	}
	return n, nil
}
