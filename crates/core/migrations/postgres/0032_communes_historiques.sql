-- Every name an INSEE commune code has borne, with its dates: FranceConnect's `birthplace` is
-- the code of the commune of birth on the birth date, often a commune since merged. From
-- @etalab/decoupage-administratif 0.8.0 (history of the COG from 1943 to 2019, the last
-- version that ships it) and 6.0.0 (delegated and associated communes, without dates).
-- `debut` and `fin`: AAAA-MM-JJ, empty when open; `rang`: which name wins when several apply
-- (0 a commune, 1 an associated or delegated commune, 2 a parent commune, 3 undated).
CREATE TABLE territoires_communes_historique (
    code  TEXT NOT NULL,
    nom   TEXT NOT NULL,
    debut TEXT NOT NULL DEFAULT '',
    fin   TEXT NOT NULL DEFAULT '',
    rang  BIGINT NOT NULL
);
CREATE INDEX territoires_communes_historique_code ON territoires_communes_historique (code);
