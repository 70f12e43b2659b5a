-- Aidants Connect, part 2: mandates. An usager gives a structure the right
-- to act for him for some démarches (one autorisation each) and a duration.
-- The mandate's text is stored with its version; the state of a mandate is
-- derived (expiry date, revoked autorisations), never stored.

CREATE TABLE mandats_textes (
    version         INTEGER PRIMARY KEY,
    texte           TEXT    NOT NULL,
    -- SHA-256 (hex) of the text, printed on the attestation.
    empreinte       TEXT    NOT NULL,
    created_at      INTEGER  NOT NULL
);

CREATE TABLE mandats (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    organisation_id INTEGER  NOT NULL REFERENCES organisations (id),
    usager_id       INTEGER  NOT NULL REFERENCES usagers (id),
    -- The aidant who concluded it (with a fresh TOTP).
    aidant_id       INTEGER  NOT NULL REFERENCES accounts (id),
    -- SHORT, MONTH, SEMESTER, LONG
    duree           TEXT    NOT NULL,
    texte_version   INTEGER NOT NULL REFERENCES mandats_textes (version),
    created_at      INTEGER  NOT NULL,
    expires_at      INTEGER  NOT NULL,
    -- The mandate this one renews (renewal without a new FranceConnect step).
    renouvelle      INTEGER  REFERENCES mandats (id)
);
CREATE INDEX mandats_usager ON mandats (usager_id);
CREATE INDEX mandats_structure ON mandats (organisation_id, expires_at);

CREATE TABLE autorisations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    mandat_id       INTEGER  NOT NULL REFERENCES mandats (id),
    demarche        TEXT    NOT NULL,
    revoquee_at     INTEGER,
    -- aidant, usager, or remplacement (superseded by a newer mandate of the same structure)
    revoquee_par    TEXT,
    revoquee_par_compte INTEGER REFERENCES accounts (id),
    remplacee_par   INTEGER  REFERENCES autorisations (id),
    UNIQUE (mandat_id, demarche)
);
CREATE INDEX autorisations_demarche ON autorisations (demarche, revoquee_at);

-- Each use of an autorisation by an online service (the proof is the journal
-- entry `journal_seq`; this table finds them per usager and per mandate).
CREATE TABLE mandats_utilisations (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    autorisation_id INTEGER  NOT NULL REFERENCES autorisations (id),
    mandat_id       INTEGER  NOT NULL REFERENCES mandats (id),
    usager_id       INTEGER  NOT NULL REFERENCES usagers (id),
    aidant_id       INTEGER  NOT NULL REFERENCES accounts (id),
    structure_id    INTEGER  NOT NULL REFERENCES organisations (id),
    client_id       TEXT    NOT NULL,
    demarche        TEXT    NOT NULL,
    at              INTEGER  NOT NULL,
    journal_seq     INTEGER  NOT NULL
);
CREATE INDEX mandats_utilisations_usager ON mandats_utilisations (usager_id, at);
CREATE INDEX mandats_utilisations_mandat ON mandats_utilisations (mandat_id, at);

-- Sessions of usagers in their own space (signed in with FranceConnect):
-- separate from accounts' sessions, same rules (hashed token, expiry).
CREATE TABLE usagers_sessions (
    id_hash         BLOB   PRIMARY KEY,
    usager_id       INTEGER  NOT NULL REFERENCES usagers (id),
    created_at      INTEGER  NOT NULL,
    last_seen_at    INTEGER  NOT NULL,
    expires_at      INTEGER  NOT NULL
);
CREATE INDEX usagers_sessions_usager ON usagers_sessions (usager_id);
CREATE INDEX usagers_sessions_expires ON usagers_sessions (expires_at);
