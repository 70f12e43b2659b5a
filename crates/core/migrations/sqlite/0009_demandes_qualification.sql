-- Qualification of places: the application a place fills in, its
-- supporting documents, the history of decisions, and the hubs the opérateur
-- delegates the review to.

CREATE TABLE demandes_qualification (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    lieu_id                 INTEGER NOT NULL REFERENCES lieux (id),
    organisation_id         INTEGER NOT NULL REFERENCES organisations (id),
    -- brouillon, deposee, a_modifier, approuvee, refusee
    etat                    TEXT    NOT NULL,
    siret                   TEXT    NOT NULL DEFAULT '',
    raison_sociale          TEXT    NOT NULL DEFAULT '',
    forme_juridique         TEXT    NOT NULL DEFAULT '',
    adresse                 TEXT    NOT NULL DEFAULT '',
    representant_nom        TEXT    NOT NULL DEFAULT '',
    representant_qualite    TEXT    NOT NULL DEFAULT '',
    representant_courriel   TEXT    NOT NULL DEFAULT '',
    charte_acceptee_at      INTEGER,
    -- JSON: the eligibility questionnaire and the service catalogue.
    questionnaire           TEXT    NOT NULL DEFAULT '{}',
    services                TEXT    NOT NULL DEFAULT '[]',
    iban                    TEXT    NOT NULL DEFAULT '',
    bic                     TEXT    NOT NULL DEFAULT '',
    titulaire               TEXT    NOT NULL DEFAULT '',
    -- The last message of the reviewer (reasons of a refusal, changes asked).
    message                 TEXT    NOT NULL DEFAULT '',
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL,
    deposee_at              INTEGER,
    decidee_at              INTEGER
);
-- One application in progress per place.
CREATE UNIQUE INDEX demandes_en_cours ON demandes_qualification (lieu_id) WHERE etat IN ('brouillon', 'deposee', 'a_modifier');
CREATE INDEX demandes_etat ON demandes_qualification (etat);

CREATE TABLE demandes_pieces (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    demande_id      INTEGER NOT NULL REFERENCES demandes_qualification (id),
    nature          TEXT    NOT NULL,
    nom_fichier     TEXT    NOT NULL,
    type_mime       TEXT    NOT NULL,
    taille          INTEGER NOT NULL,
    sha256          TEXT    NOT NULL,
    contenu         BLOB    NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX demandes_pieces_demande ON demandes_pieces (demande_id);

CREATE TABLE demandes_historique (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    demande_id      INTEGER NOT NULL REFERENCES demandes_qualification (id),
    etat            TEXT    NOT NULL,
    message         TEXT    NOT NULL DEFAULT '',
    compte_id       INTEGER REFERENCES accounts (id),
    at              INTEGER NOT NULL
);
CREATE INDEX demandes_historique_demande ON demandes_historique (demande_id);

-- Hubs to which the opérateur delegates the review of their territory.
CREATE TABLE hubs_instruction (
    organisation_id INTEGER PRIMARY KEY REFERENCES organisations (id),
    created_at      INTEGER NOT NULL
);

-- The application a qualification comes from (none for direct or imported ones).
ALTER TABLE qualifications ADD COLUMN demande_id INTEGER REFERENCES demandes_qualification (id);
-- A suspended qualification still holds its SIRET: one qualified place per SIRET.
DROP INDEX qualifications_siret;
CREATE UNIQUE INDEX qualifications_siret ON qualifications (siret) WHERE etat IN ('active', 'suspendue') AND siret IS NOT NULL;
DROP INDEX qualifications_active;
CREATE UNIQUE INDEX qualifications_active ON qualifications (lieu_id) WHERE etat IN ('active', 'suspendue');

-- A bank details change refused by the opérateur keeps its reason.
ALTER TABLE coordonnees_bancaires ADD COLUMN motif TEXT NOT NULL DEFAULT '';
