-- Lieux de médiation numérique: the standard's fields (same names, text as in
-- the standard, `|`-joined lists), plus what Passerelle adds.

CREATE TABLE lieux (
    id                              INTEGER PRIMARY KEY AUTOINCREMENT,
    ext_id                          TEXT    NOT NULL UNIQUE,
    pivot                           TEXT    NOT NULL,
    nom                             TEXT    NOT NULL,
    commune                         TEXT    NOT NULL,
    code_postal                     TEXT    NOT NULL,
    code_insee                      TEXT    NOT NULL DEFAULT '',
    adresse                         TEXT    NOT NULL,
    complement_adresse              TEXT    NOT NULL DEFAULT '',
    latitude                        REAL,
    longitude                       REAL,
    typologie                       TEXT    NOT NULL DEFAULT '',
    telephone                       TEXT    NOT NULL DEFAULT '',
    courriels                       TEXT    NOT NULL DEFAULT '',
    site_web                        TEXT    NOT NULL DEFAULT '',
    horaires                        TEXT    NOT NULL DEFAULT '',
    presentation_resume             TEXT    NOT NULL DEFAULT '',
    presentation_detail             TEXT    NOT NULL DEFAULT '',
    source                          TEXT    NOT NULL DEFAULT '',
    itinerance                      TEXT    NOT NULL DEFAULT '',
    structure_parente               TEXT    NOT NULL DEFAULT '',
    date_maj                        TEXT    NOT NULL,
    services                        TEXT    NOT NULL DEFAULT '',
    publics_specifiquement_adresses TEXT    NOT NULL DEFAULT '',
    prise_en_charge_specifique      TEXT    NOT NULL DEFAULT '',
    frais_a_charge                  TEXT    NOT NULL DEFAULT '',
    dispositif_programmes_nationaux TEXT    NOT NULL DEFAULT '',
    formations_labels               TEXT    NOT NULL DEFAULT '',
    autres_formations_labels        TEXT    NOT NULL DEFAULT '',
    modalites_acces                 TEXT    NOT NULL DEFAULT '',
    modalites_accompagnement        TEXT    NOT NULL DEFAULT '',
    fiche_acces_libre               TEXT    NOT NULL DEFAULT '',
    prise_rdv                       TEXT    NOT NULL DEFAULT '',
    -- Passerelle's own data
    digest                          TEXT    NOT NULL,
    dedup_key                       TEXT    NOT NULL,
    departement                     TEXT    NOT NULL DEFAULT '',
    pass_numerique                  BOOLEAN NOT NULL DEFAULT FALSE,
    labels                          TEXT    NOT NULL DEFAULT '',
    organisation_id                 INTEGER REFERENCES organisations (id),
    import_source                   TEXT    NOT NULL DEFAULT '',
    import_id                       INTEGER,
    import_ligne                    INTEGER,
    created_at                      INTEGER NOT NULL,
    updated_at                      INTEGER NOT NULL
);
CREATE INDEX lieux_dedup ON lieux (dedup_key);
CREATE INDEX lieux_departement ON lieux (departement);

-- Each import run; every place points to the run and line that last wrote it.
CREATE TABLE lieux_imports (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    source      TEXT    NOT NULL,
    fichier     TEXT    NOT NULL,
    lignes      INTEGER NOT NULL,
    crees       INTEGER NOT NULL,
    mis_a_jour  INTEGER NOT NULL,
    at          INTEGER NOT NULL
);
