-- The territory of each hub: the départements it covers. A département
-- belongs to one hub at most; places are attached to the hub of their département.
CREATE TABLE hub_departements (
    departement     TEXT    PRIMARY KEY,
    organisation_id INTEGER NOT NULL REFERENCES organisations (id)
);
CREATE INDEX hub_departements_organisation ON hub_departements (organisation_id);
