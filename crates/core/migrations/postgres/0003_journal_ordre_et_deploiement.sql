-- Deployment facts (e.g. the id of the journal key this database was created with).
CREATE TABLE deployment (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The journal only grows at its end, linked to its head.
CREATE FUNCTION passerelle_journal_in_order() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    head_seq  BIGINT;
    head_hash BYTEA;
BEGIN
    SELECT seq, hash INTO head_seq, head_hash FROM journal ORDER BY seq DESC LIMIT 1;
    IF head_seq IS NULL THEN
        head_seq := 0;
        head_hash := '\x4ddbe4eff447daf4d92ee8c876235d89f16073c8ac007a1fc6bd4d38811ed1ba'::bytea;
    END IF;
    IF NEW.seq IS DISTINCT FROM head_seq + 1 OR NEW.prev_hash IS DISTINCT FROM head_hash THEN
        RAISE EXCEPTION 'le journal est en ajout seul : entrée hors séquence ou mal chaînée refusée';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER journal_insert_in_order BEFORE INSERT ON journal
    FOR EACH ROW EXECUTE FUNCTION passerelle_journal_in_order();
