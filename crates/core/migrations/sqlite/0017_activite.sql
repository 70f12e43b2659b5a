-- Activity log of conseillers numériques and médiateurs: one row per
-- accompaniment, with an anonymous profile of the person helped (no name,
-- ever). The commune's département is stored so that national dashboards can
-- aggregate by département and month without joining.
CREATE TABLE activites (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    compte_id               INTEGER NOT NULL REFERENCES accounts (id),
    organisation_id         INTEGER NOT NULL REFERENCES organisations (id),
    lieu_id                 INTEGER REFERENCES lieux (id),
    -- Day of the accompaniment (YYYY-MM-DD) and its month (YYYY-MM).
    jour                    TEXT    NOT NULL,
    mois                    TEXT    NOT NULL,
    duree_minutes           INTEGER NOT NULL,
    -- individuel, atelier, aide_ponctuelle
    nature                  TEXT    NOT NULL,
    -- 1 for an individual accompaniment or a quick help; the count for a workshop.
    participants            INTEGER NOT NULL,
    -- Comma-separated keys of the services vocabulary of the places standard.
    thematiques             TEXT    NOT NULL,
    tranche_age             TEXT    NOT NULL,
    commune_insee           TEXT    NOT NULL DEFAULT '',
    departement             TEXT    NOT NULL DEFAULT '',
    statut                  TEXT    NOT NULL,
    -- Pseudonymous follow-up code chosen by the conseiller (never a name).
    suivi                   TEXT,
    cheque_id               INTEGER REFERENCES cheques (id),
    mandat_utilisation_id   INTEGER REFERENCES mandats_utilisations (id),
    created_at              INTEGER NOT NULL,
    updated_at              INTEGER NOT NULL
);
CREATE INDEX activites_compte_jour ON activites (compte_id, jour);
CREATE INDEX activites_organisation_jour ON activites (organisation_id, jour);
CREATE INDEX activites_departement_mois ON activites (departement, mois);
