-- relsync: the backfill's end, for the goose CLI.
--
-- Migration 5 installs the triggers and leaves the backfill pending (relsync_backfill.next_id).
-- relsync.Up, relsync's Backfill, `relsync up` and scripts/goose.sh journal it a short range of
-- relation ids per transaction and then apply this migration, which finds nothing left. The stock
-- goose CLI alone runs it outright: it runs without a transaction around it, and its one statement
-- journals every relation left in one autocommit transaction (SQL has no loop that commits), which
-- on a large database holds engram's write lock for that long. Running it again journals nothing
-- twice.
-- +goose NO TRANSACTION

-- +goose Up
-- +goose StatementBegin
-- relsync:backfill
INSERT INTO relsync_backfill_range (size) VALUES (NULL);
-- +goose StatementEnd

-- +goose Down
-- Nothing to undo: the journal rows are engram's data, and the next up finds none missing.
SELECT 1;
