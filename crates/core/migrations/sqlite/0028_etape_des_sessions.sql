-- Closed sets of values (issue 19), continued from 0027: the stage of an
-- account's session (accounts::session::Stage), the one state column 0027
-- left without a constraint. Every other state column is already
-- constrained: by 0027, or inline (aidants_invitations.statut, 0023).
--
-- As in 0027, SQLite cannot add a CHECK to an existing table: a pair of
-- triggers refuses an unknown value on INSERT and on UPDATE (read by the
-- test `schema_dialectes` as the CHECK of the other dialect), and the
-- existing rows holding an unknown value are rewritten to themselves, which
-- fires the UPDATE trigger, so the migration fails (and is rolled back) on
-- such data, as PostgreSQL's ADD CONSTRAINT does.

-- accounts::session::Stage
CREATE TRIGGER sessions_stage_valeurs_insert BEFORE INSERT ON sessions
WHEN NEW.stage NOT IN ('totp', 'enrolement', 'active')
BEGIN SELECT RAISE(ABORT, 'sessions.stage : valeur inconnue, écriture refusée'); END;
CREATE TRIGGER sessions_stage_valeurs_update BEFORE UPDATE OF stage ON sessions
WHEN NEW.stage NOT IN ('totp', 'enrolement', 'active')
BEGIN SELECT RAISE(ABORT, 'sessions.stage : valeur inconnue, écriture refusée'); END;
UPDATE sessions SET stage = stage WHERE stage NOT IN ('totp', 'enrolement', 'active');
