-- Official territories (INSEE codes), loaded from the reference dataset
-- @etalab/decoupage-administratif (npm), never typed by hand.
CREATE TABLE territoires_regions (
    code TEXT PRIMARY KEY,
    nom  TEXT NOT NULL
);
CREATE TABLE territoires_departements (
    code   TEXT PRIMARY KEY,
    nom    TEXT NOT NULL,
    region TEXT NOT NULL
);
CREATE TABLE territoires_communes (
    code          TEXT PRIMARY KEY,
    nom           TEXT NOT NULL,
    departement   TEXT NOT NULL,
    region        TEXT NOT NULL,
    codes_postaux TEXT NOT NULL,
    population    INTEGER
);
CREATE INDEX territoires_communes_departement ON territoires_communes (departement);
