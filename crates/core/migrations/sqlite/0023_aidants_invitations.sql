-- Invitations of aidants (finding 1 of security issue 18): nobody joins a
-- structure without accepting. A référent's invitation (or an accepted
-- habilitation request naming an existing aidant) is only a proposal: an
-- existing aidant accepts it after login with a fresh TOTP code, a new person
-- with the link sent to the address; only then does a membership exist, which
-- the référent activates once the aidant is trained and equipped.
-- Every invitation is stored the same way whatever the address belongs to, so
-- that the référent learns nothing about the accounts of Passerelle.
CREATE TABLE aidants_invitations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    courriel        TEXT    NOT NULL,
    nom             TEXT    NOT NULL,
    jeton_hash      BLOB    NOT NULL UNIQUE,
    invite_par      INTEGER REFERENCES accounts (id),
    statut          TEXT    NOT NULL DEFAULT 'en_attente' CHECK (statut IN ('en_attente', 'acceptee', 'refusee')),
    account_id      INTEGER REFERENCES accounts (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    decided_at      INTEGER
);
CREATE INDEX aidants_invitations_courriel ON aidants_invitations (courriel);
CREATE UNIQUE INDEX aidants_invitations_en_attente ON aidants_invitations (organisation_id, courriel) WHERE statut = 'en_attente';
