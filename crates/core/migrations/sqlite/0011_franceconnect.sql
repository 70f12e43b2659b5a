-- FranceConnect, as a relying party: the pending identifications (state and
-- nonce, bound to the browser session, single use), the usagers identified
-- (under a keyed hash of their FranceConnect `sub`), and the built-in
-- simulator's authorisation codes and access tokens (demonstration and tests).

CREATE TABLE franceconnect_etats (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    -- connexion (an aidant identifies an usager), usager (an usager signs in
    -- to his own space) or deconnexion (end session)
    nature          TEXT    NOT NULL,
    -- SHA-256 (hex) of the `state` and of the `nonce` sent to the provider.
    state_hash      TEXT    NOT NULL UNIQUE,
    nonce_hash      TEXT    NOT NULL DEFAULT '',
    -- SHA-256 (hex) of the session token of the browser that started it.
    session_hash    TEXT    NOT NULL,
    -- The aidant who identifies an usager; NULL when an usager signs in to his own space.
    account_id      INTEGER REFERENCES accounts (id),
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER,
    -- After a successful identification: the usager, and the ID token
    -- (encrypted with a key of the data directory) kept for the logout.
    usager_id       INTEGER,
    id_token_scelle TEXT,
    -- The mandate concluded with this identification (one mandate per identification).
    mandat_id       INTEGER
);
CREATE INDEX franceconnect_etats_session ON franceconnect_etats (session_hash, nature);
CREATE INDEX franceconnect_etats_created ON franceconnect_etats (created_at);

CREATE TABLE usagers (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    -- HMAC-SHA-256 (hex) of the FranceConnect `sub`, keyed from the data directory's secret.
    sub_hash            TEXT    NOT NULL UNIQUE,
    given_name          TEXT    NOT NULL,
    family_name         TEXT    NOT NULL,
    preferred_username  TEXT,
    birthdate           TEXT    NOT NULL,
    birthplace          TEXT    NOT NULL,
    birthcountry        TEXT    NOT NULL,
    gender              TEXT    NOT NULL,
    email               TEXT,
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
);

CREATE TABLE fc_simulateur_codes (
    code_hash       TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    redirect_uri    TEXT    NOT NULL,
    nonce           TEXT    NOT NULL,
    acr             TEXT    NOT NULL,
    identite        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    used_at         INTEGER
);

CREATE TABLE fc_simulateur_jetons (
    token_hash      TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    identite        TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
