-- Passerelle as an OpenID Connect provider (Aidants Connect) for registered
-- online services: clients, signing keys, authorisation codes, access tokens.

CREATE TABLE oidc_clients (
    id                      INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id               TEXT    NOT NULL UNIQUE,
    nom                     TEXT    NOT NULL,
    -- SHA-256 of the secret (256 random bits, shown once).
    secret_empreinte        BLOB    NOT NULL,
    -- JSON arrays: exact redirect URIs, post-logout URIs, accepted démarches (empty: all).
    redirect_uris           TEXT    NOT NULL,
    post_logout_uris        TEXT    NOT NULL DEFAULT '[]',
    demarches               TEXT    NOT NULL DEFAULT '[]',
    created_at              INTEGER NOT NULL,
    revoque_at              INTEGER
);

-- ES256 signing keys; the private key is sealed with the deployment secret.
-- 'active' signs; 'publiee' (rotated out) is still in the JWKS; 'retiree' is gone.
CREATE TABLE oidc_cles (
    kid             TEXT    PRIMARY KEY,
    cle_scellee     TEXT    NOT NULL,
    jwk_publique    TEXT    NOT NULL,
    etat            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    rotation_at     INTEGER
);
CREATE UNIQUE INDEX oidc_cles_active ON oidc_cles (etat) WHERE etat = 'active';

-- Authorisation codes: keyed SHA-256 only; single use, 60 s.
CREATE TABLE oidc_codes (
    empreinte           BLOB    PRIMARY KEY,
    client_id           TEXT    NOT NULL,
    redirect_uri        TEXT    NOT NULL,
    nonce               TEXT    NOT NULL,
    code_challenge      TEXT,
    -- What the aidant chose: no foreign keys (checked by the code that writes them).
    aidant_id           INTEGER NOT NULL,
    structure_id        INTEGER NOT NULL,
    usager_id           INTEGER NOT NULL,
    autorisation_id     INTEGER NOT NULL,
    demarche            TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expire_at           INTEGER NOT NULL,
    utilise_at          INTEGER
);

-- Access tokens: keyed SHA-256 only; revoked with their code when it is replayed.
CREATE TABLE oidc_jetons (
    empreinte           BLOB    PRIMARY KEY,
    code_empreinte      BLOB    NOT NULL,
    client_id           TEXT    NOT NULL,
    aidant_id           INTEGER NOT NULL,
    structure_id        INTEGER NOT NULL,
    usager_id           INTEGER NOT NULL,
    autorisation_id     INTEGER NOT NULL,
    demarche            TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expire_at           INTEGER NOT NULL,
    revoque_at          INTEGER
);
CREATE INDEX oidc_jetons_code ON oidc_jetons (code_empreinte);
