-- Deployment facts (e.g. the id of the journal key this database was created with).
CREATE TABLE deployment (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- The journal only grows at its end, linked to its head: this also refuses
-- INSERT OR REPLACE, which would delete a row without firing DELETE triggers.
CREATE TRIGGER journal_insert_in_order BEFORE INSERT ON journal
WHEN NEW.seq IS NOT (SELECT COALESCE(MAX(seq), 0) + 1 FROM journal)
  OR NEW.prev_hash IS NOT COALESCE((SELECT hash FROM journal ORDER BY seq DESC LIMIT 1), X'4ddbe4eff447daf4d92ee8c876235d89f16073c8ac007a1fc6bd4d38811ed1ba')
BEGIN SELECT RAISE(ABORT, 'le journal est en ajout seul : entrée hors séquence ou mal chaînée refusée'); END;

CREATE TRIGGER journal_checkpoints_insert_once BEFORE INSERT ON journal_checkpoints
WHEN EXISTS (SELECT 1 FROM journal_checkpoints WHERE seq = NEW.seq)
BEGIN SELECT RAISE(ABORT, 'les points de contrôle du journal sont en ajout seul : remplacement refusé'); END;
