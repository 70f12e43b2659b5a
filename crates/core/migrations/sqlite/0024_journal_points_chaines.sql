-- Checkpoints numbered without gaps and chained (see crates/core/src/journal/checkpoint.rs).
-- Existing checkpoints stay as they were signed (version 1: seq, head, at); they get
-- their number here, in the order of seq. That number is not signed: the first
-- version 2 checkpoint, signed by the service at its next start, folds every
-- version 1 checkpoint into its link, which pins them from then on.
DROP TRIGGER journal_checkpoints_no_update;

ALTER TABLE journal_checkpoints ADD COLUMN n INTEGER;
ALTER TABLE journal_checkpoints ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
-- First entry of the segment the checkpoint covers (the entries since the previous one).
ALTER TABLE journal_checkpoints ADD COLUMN debut INTEGER;
-- Link of the previous checkpoint, signed.
ALTER TABLE journal_checkpoints ADD COLUMN prev_checkpoint_hash BLOB;
-- SHA-256 over the segment's entry hashes, signed; and those hashes (32 bytes each).
ALTER TABLE journal_checkpoints ADD COLUMN segment_hash BLOB;
ALTER TABLE journal_checkpoints ADD COLUMN entry_hashes BLOB;

UPDATE journal_checkpoints
SET n = (SELECT COUNT(*) FROM journal_checkpoints AS c WHERE c.seq <= journal_checkpoints.seq);

CREATE TRIGGER journal_checkpoints_no_update BEFORE UPDATE ON journal_checkpoints
BEGIN SELECT RAISE(ABORT, 'les points de contrôle du journal sont en ajout seul : modification refusée'); END;

CREATE UNIQUE INDEX journal_checkpoints_numero ON journal_checkpoints (n);

-- New checkpoints: version 2, the next number, after the last one, complete.
CREATE TRIGGER journal_checkpoints_insert_in_order BEFORE INSERT ON journal_checkpoints
WHEN NEW.version IS NOT 2
  OR NEW.n IS NOT (SELECT COALESCE(MAX(n), 0) + 1 FROM journal_checkpoints)
  OR NEW.debut IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal_checkpoints)
  OR NEW.seq < NEW.debut
  OR NEW.prev_checkpoint_hash IS NULL OR NEW.segment_hash IS NULL OR NEW.entry_hashes IS NULL
BEGIN SELECT RAISE(ABORT, 'les points de contrôle du journal sont en ajout seul : point hors séquence refusé'); END;
