-- Settlement of places: validated bank details, statements, SEPA batches.

-- The legal entity of a qualification: one qualified place per SIRET.
ALTER TABLE qualifications ADD COLUMN siret TEXT;
CREATE UNIQUE INDEX qualifications_siret ON qualifications (siret) WHERE etat = 'active' AND siret IS NOT NULL;

-- Bank details of places. Never updated in place: a change is a new row to
-- validate; the validated row it replaces becomes 'remplacees'.
CREATE TABLE coordonnees_bancaires (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    lieu_id     INTEGER NOT NULL REFERENCES lieux (id),
    iban        TEXT    NOT NULL,
    bic         TEXT    NOT NULL,
    titulaire   TEXT    NOT NULL,
    etat        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    valide_at   INTEGER,
    fin_at      INTEGER
);
CREATE UNIQUE INDEX coordonnees_validees ON coordonnees_bancaires (lieu_id) WHERE etat = 'validees';

-- One run of settlement: one SEPA credit transfer file, kept as produced.
CREATE TABLE lots_virements (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    msg_id          TEXT    NOT NULL UNIQUE,
    jusqu_au        TEXT    NOT NULL,
    virements       INTEGER NOT NULL,
    total_centimes  INTEGER NOT NULL,
    xml             TEXT    NOT NULL,
    etat            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    envoye_at       INTEGER,
    execute_at      INTEGER
);

-- A statement: what one place is paid in one batch. Frozen once issued.
CREATE TABLE releves (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    numero          TEXT    NOT NULL UNIQUE,
    annee           INTEGER NOT NULL,
    rang            INTEGER NOT NULL,
    lieu_id         INTEGER NOT NULL REFERENCES lieux (id),
    lot_id          INTEGER NOT NULL REFERENCES lots_virements (id),
    coordonnees_id  INTEGER NOT NULL REFERENCES coordonnees_bancaires (id),
    jusqu_au        TEXT    NOT NULL,
    premier_jour    TEXT    NOT NULL,
    dernier_jour    TEXT    NOT NULL,
    lignes          INTEGER NOT NULL,
    total_centimes  INTEGER NOT NULL,
    etat            TEXT    NOT NULL,
    motif_rejet     TEXT,
    created_at      INTEGER NOT NULL,
    rejete_at       INTEGER,
    UNIQUE (annee, rang),
    UNIQUE (lot_id, lieu_id)
);
CREATE INDEX releves_lieu ON releves (lieu_id);

-- Its lines: one redemption each. A redemption is in one live statement at
-- most; the lines of a rejected transfer are marked and paid again later.
-- No foreign keys here (a million lines per run would mean two million
-- checks): lines are only written by a run, from existing rows, and
-- `passerelle controle` checks that each refers to its statement and redemption.
CREATE TABLE releve_lignes (
    releve_id       INTEGER NOT NULL,
    encaissement_id INTEGER NOT NULL,
    valeur_centimes INTEGER NOT NULL,
    rejetee         INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (releve_id, encaissement_id)
);
CREATE UNIQUE INDEX releve_lignes_une_fois ON releve_lignes (encaissement_id) WHERE rejetee = 0;
CREATE INDEX encaissements_a_regler ON encaissements (jour) WHERE annule_at IS NULL;
-- The daily cap counts live redemptions only: a partial index covers that query
-- (and `passerelle controle`'s) without reading the table.
DROP INDEX encaissements_plafond;
CREATE INDEX encaissements_plafond ON encaissements (carnet_id, lieu_id, jour) WHERE annule_at IS NULL;
