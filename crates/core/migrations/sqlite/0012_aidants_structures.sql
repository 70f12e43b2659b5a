-- Aidants Connect, part 1: habilitation requests of structures, their
-- allowed démarches, aidants' memberships (several structures per account),
-- training and activation, TOTP cards, magic login links, the current
-- structure and the last TOTP check on the session, inactivity.

CREATE TABLE habilitations (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- SHA-256 of the follow-up link's token (sent to the contact, never stored in clear).
    jeton_hash          BLOB    NOT NULL UNIQUE,
    -- deposee, a_modifier, acceptee, refusee
    etat                TEXT    NOT NULL,
    siret               TEXT    NOT NULL,
    nom                 TEXT    NOT NULL,
    type_structure      TEXT    NOT NULL,
    adresse             TEXT    NOT NULL,
    contact_courriel    TEXT    NOT NULL,
    referent_nom        TEXT    NOT NULL,
    referent_courriel   TEXT    NOT NULL,
    -- JSON array of {"nom", "courriel"}: the aidants to train.
    aidants             TEXT    NOT NULL DEFAULT '[]',
    -- Comma-separated keys of the closed list of démarches.
    demarches           TEXT    NOT NULL DEFAULT '',
    message             TEXT    NOT NULL DEFAULT '',
    organisation_id     INTEGER REFERENCES organisations (id),
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    decidee_at          INTEGER
);
CREATE INDEX habilitations_etat ON habilitations (etat);

CREATE TABLE habilitations_historique (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    habilitation_id INTEGER NOT NULL REFERENCES habilitations (id),
    etat            TEXT    NOT NULL,
    message         TEXT    NOT NULL DEFAULT '',
    compte_id       INTEGER REFERENCES accounts (id),
    at              INTEGER NOT NULL
);
CREATE INDEX habilitations_historique_demande ON habilitations_historique (habilitation_id);

CREATE TABLE structures_demarches (
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    demarche        TEXT    NOT NULL,
    PRIMARY KEY (organisation_id, demarche)
);

-- Training is the person's (whatever the structure).
CREATE TABLE aidants_formations (
    account_id      INTEGER PRIMARY KEY REFERENCES accounts (id),
    formee_at       INTEGER,
    test_reussi_at  INTEGER,
    updated_at      INTEGER NOT NULL
);

-- An aidant account may belong to several structures.
CREATE TABLE aidants_membres (
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    actif           BOOLEAN NOT NULL DEFAULT FALSE,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (account_id, organisation_id)
);
CREATE INDEX aidants_membres_structure ON aidants_membres (organisation_id);

-- Physical TOTP cards; the seed is sealed like account TOTP secrets.
CREATE TABLE cartes_totp (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    numero_serie    TEXT    NOT NULL UNIQUE,
    graine          TEXT    NOT NULL,
    duree           INTEGER NOT NULL DEFAULT 30,
    account_id      INTEGER UNIQUE REFERENCES accounts (id),
    created_at      INTEGER NOT NULL,
    associee_at     INTEGER
);

CREATE TABLE liens_connexion (
    jeton_hash      BLOB    PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);
CREATE INDEX liens_connexion_account ON liens_connexion (account_id);

ALTER TABLE sessions ADD COLUMN structure_id INTEGER;
ALTER TABLE sessions ADD COLUMN totp_verified_at INTEGER;
ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;
ALTER TABLE accounts ADD COLUMN inactivite_avertie_at INTEGER;
