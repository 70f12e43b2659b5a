-- Closed sets of values (issue 19), continued from 0027: the stage of an
-- account's session (accounts::session::Stage), the one state column 0027
-- left without a constraint. Every other state column is already
-- constrained: by 0027, or inline (aidants_invitations.statut, 0023).
-- PostgreSQL checks the existing rows when the constraint is added: the
-- migration fails, and changes nothing, if a row holds an unknown value.

-- accounts::session::Stage
ALTER TABLE sessions ADD CONSTRAINT sessions_stage_valeurs CHECK (stage IN ('totp', 'enrolement', 'active'));
