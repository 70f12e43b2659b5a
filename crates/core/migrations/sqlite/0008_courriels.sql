-- Outgoing e-mail (transactional outbox): written in the transaction of the
-- action that causes it, sent later by whichever instance claims it. `cle`
-- makes a notification idempotent (an alert is queued once).
CREATE TABLE courriels (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    cle                 TEXT    NOT NULL UNIQUE,
    destinataire        TEXT    NOT NULL,
    sujet               TEXT    NOT NULL,
    corps               TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    prochain_essai_at   INTEGER NOT NULL,
    tentatives          INTEGER NOT NULL DEFAULT 0,
    envoye_at           INTEGER,
    erreur              TEXT
);
CREATE INDEX courriels_a_envoyer ON courriels (prochain_essai_at) WHERE envoye_at IS NULL;

-- Runs of scheduled jobs: one row per job and period, so that several
-- instances never run the same job twice in a period.
CREATE TABLE taches_planifiees (
    nom         TEXT    NOT NULL,
    periode     TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    PRIMARY KEY (nom, periode)
);

-- A funder may stop the hand-out of an order's booklets (e.g. near its end).
ALTER TABLE commandes ADD COLUMN remises_arretees_at INTEGER;
