-- Checkpoints numbered without gaps and chained (see crates/core/src/journal/checkpoint.rs).
-- Existing checkpoints stay as they were signed (version 1: seq, head, at); they get
-- their number here, in the order of seq. That number is not signed: the first
-- version 2 checkpoint, signed by the service at its next start, folds every
-- version 1 checkpoint into its link, which pins them from then on.
ALTER TABLE journal_checkpoints
    ADD COLUMN n BIGINT,
    ADD COLUMN version BIGINT NOT NULL DEFAULT 1,
    -- First entry of the segment the checkpoint covers (the entries since the previous one).
    ADD COLUMN debut BIGINT,
    -- Link of the previous checkpoint, signed.
    ADD COLUMN prev_checkpoint_hash BYTEA,
    -- SHA-256 over the segment's entry hashes, signed; and those hashes (32 bytes each).
    ADD COLUMN segment_hash BYTEA,
    ADD COLUMN entry_hashes BYTEA;

ALTER TABLE journal_checkpoints DISABLE TRIGGER journal_checkpoints_append_only;
UPDATE journal_checkpoints AS c SET n = r.n
FROM (SELECT seq, ROW_NUMBER() OVER (ORDER BY seq) AS n FROM journal_checkpoints) AS r
WHERE c.seq = r.seq;
ALTER TABLE journal_checkpoints ENABLE TRIGGER journal_checkpoints_append_only;

CREATE UNIQUE INDEX journal_checkpoints_numero ON journal_checkpoints (n);

-- New checkpoints: version 2, the next number, after the last one, complete.
CREATE FUNCTION passerelle_checkpoint_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    last_n   BIGINT;
    last_seq BIGINT;
BEGIN
    SELECT COALESCE(MAX(n), 0), COALESCE(MAX(seq), 0) INTO last_n, last_seq FROM journal_checkpoints;
    IF NEW.version IS DISTINCT FROM 2 OR NEW.n IS DISTINCT FROM last_n + 1
       OR NEW.debut IS DISTINCT FROM last_seq + 1 OR NEW.seq < NEW.debut
       OR NEW.prev_checkpoint_hash IS NULL OR NEW.segment_hash IS NULL OR NEW.entry_hashes IS NULL THEN
        RAISE EXCEPTION 'les points de contrôle du journal sont en ajout seul : point hors séquence refusé';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER journal_checkpoints_insert_in_order BEFORE INSERT ON journal_checkpoints
    FOR EACH ROW EXECUTE FUNCTION passerelle_checkpoint_in_order();
