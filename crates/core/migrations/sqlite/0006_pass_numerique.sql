-- Pass Numérique: orders, their documents, booklets, cheques, redemptions,
-- qualification of places and the places' API keys.
-- Amounts are integer cents; dates of validity are AAAA-MM-JJ (Europe/Paris).

CREATE TABLE commandes (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    commanditaire_id    INTEGER NOT NULL REFERENCES organisations (id),
    carnets             INTEGER NOT NULL,
    cheques_par_carnet  INTEGER NOT NULL,
    valeur_centimes     INTEGER NOT NULL,
    frais_pour_dix_mille INTEGER NOT NULL,
    debut               TEXT    NOT NULL,
    fin                 TEXT    NOT NULL,
    tolerance_jours     INTEGER NOT NULL,
    perimetre           TEXT    NOT NULL,
    publics             TEXT    NOT NULL,
    services            TEXT    NOT NULL,
    plafond_jour        INTEGER NOT NULL,
    marque              TEXT    NOT NULL,
    etat                TEXT    NOT NULL,
    reference_paiement  TEXT,
    payee_at            INTEGER,
    emise_at            INTEGER,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);
CREATE INDEX commandes_commanditaire ON commandes (commanditaire_id);

CREATE TABLE commande_prescripteurs (
    commande_id     INTEGER NOT NULL REFERENCES commandes (id),
    organisation_id INTEGER NOT NULL REFERENCES organisations (id),
    PRIMARY KEY (commande_id, organisation_id)
);

-- Quotes, invoices and credit notes, numbered without gaps per kind and year.
CREATE TABLE documents (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    type                TEXT    NOT NULL,
    annee               INTEGER NOT NULL,
    rang                INTEGER NOT NULL,
    numero              TEXT    NOT NULL UNIQUE,
    commande_id         INTEGER NOT NULL REFERENCES commandes (id),
    valeur_centimes     INTEGER NOT NULL,
    frais_centimes      INTEGER NOT NULL,
    total_centimes      INTEGER NOT NULL,
    created_at          INTEGER NOT NULL,
    UNIQUE (type, annee, rang)
);

-- Booklets: numbered across the deployment (the number is the key), contiguous within an order. The
-- seed derives the codes with a key of the data directory (never stored).
CREATE TABLE carnets (
    numero          INTEGER PRIMARY KEY,
    commande_id     INTEGER NOT NULL REFERENCES commandes (id),
    graine          BLOB    NOT NULL,
    prescripteur_id INTEGER REFERENCES organisations (id),
    attribue_at     INTEGER,
    remis_at        INTEGER,
    remis_par       INTEGER REFERENCES accounts (id),
    public          TEXT,
    commune         TEXT,
    tranche_age     TEXT,
    contact         TEXT,
    perdu_at        INTEGER
);
CREATE INDEX carnets_commande ON carnets (commande_id);

-- Cheques: found by a keyed hash of their code, never by the code.
-- No foreign keys here: a million rows would fire two million checks. Cheques
-- are written by the issue only, which checks the same references with one
-- query before it commits (pass_numerique::issue).
CREATE TABLE cheques (
    id              INTEGER PRIMARY KEY,
    carnet_id       INTEGER NOT NULL,
    rang            INTEGER NOT NULL,
    commande_id     INTEGER NOT NULL,
    empreinte       BLOB    NOT NULL UNIQUE,
    valeur_centimes INTEGER NOT NULL,
    etat            TEXT    NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (carnet_id, rang)
);
CREATE INDEX cheques_commande_etat ON cheques (commande_id, etat);

-- Qualification of places for the Pass Numérique (one active at most per place).
CREATE TABLE qualifications (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lieu_id     INTEGER NOT NULL REFERENCES lieux (id),
    etat        TEXT    NOT NULL,
    motif       TEXT    NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX qualifications_active ON qualifications (lieu_id) WHERE etat = 'active';

-- API keys of places' own software: only a SHA-256 of the key is kept.
CREATE TABLE cles_api (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    lieu_id             INTEGER NOT NULL REFERENCES lieux (id),
    prefixe             TEXT    NOT NULL UNIQUE,
    empreinte           BLOB    NOT NULL UNIQUE,
    created_at          INTEGER NOT NULL,
    revoquee_at         INTEGER
);

-- Redemptions. One live redemption per cheque at most (the partial unique
-- index), one per idempotency key and place.
CREATE TABLE encaissements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    cheque_id       INTEGER NOT NULL REFERENCES cheques (id),
    carnet_id       INTEGER NOT NULL REFERENCES carnets (numero),
    commande_id     INTEGER NOT NULL REFERENCES commandes (id),
    lieu_id         INTEGER NOT NULL REFERENCES lieux (id),
    compte_id       INTEGER REFERENCES accounts (id),
    cle_api_id      INTEGER REFERENCES cles_api (id),
    service         TEXT    NOT NULL,
    valeur_centimes INTEGER NOT NULL,
    jour            TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    idempotence     TEXT,
    annule_at       INTEGER,
    UNIQUE (lieu_id, idempotence)
);
CREATE UNIQUE INDEX encaissements_un_par_cheque ON encaissements (cheque_id) WHERE annule_at IS NULL;
CREATE INDEX encaissements_plafond ON encaissements (carnet_id, lieu_id, jour);
