-- OpenID Connect provider, part 4: the profile of each service (`standard`, or
-- `franceconnect` when FranceConnect itself is the client: Aidants Connect as an
-- identity provider of the federation), its signatures, the aidant's real
-- authentication time, the OP session (`sid`) and back-channel logout.

-- 'standard' or 'franceconnect'.
ALTER TABLE oidc_clients ADD COLUMN profil TEXT NOT NULL DEFAULT 'standard';
-- Signature of the ID token: 'ES256' (our keys, JWKS) or 'HS256' (the client's secret).
ALTER TABLE oidc_clients ADD COLUMN id_token_alg TEXT NOT NULL DEFAULT 'ES256';
-- Signature of userinfo: NULL (plain JSON), 'ES256' or 'HS256' (application/jwt).
ALTER TABLE oidc_clients ADD COLUMN userinfo_alg TEXT;
-- The client secret sealed with the deployment secret, only when something is
-- signed with it (HS256); otherwise only its SHA-256 is kept.
ALTER TABLE oidc_clients ADD COLUMN secret_scelle TEXT;
-- Back-channel logout 1.0: where to POST the logout token (NULL: none).
ALTER TABLE oidc_clients ADD COLUMN backchannel_logout_uri TEXT;

-- When the aidant last proved who he is on the session that issued the code
-- (his TOTP check, µs), and that session's public identifier (`sid`).
ALTER TABLE oidc_codes ADD COLUMN auth_time INTEGER;
ALTER TABLE oidc_codes ADD COLUMN sid TEXT;
ALTER TABLE oidc_jetons ADD COLUMN sid TEXT;
CREATE INDEX oidc_jetons_sid ON oidc_jetons (sid);

-- Logout tokens to deliver (back-channel logout), one per service, session and usager:
-- claimed by any instance (prochain_essai_at moved ahead as a lease), retried with a back-off.
CREATE TABLE oidc_deconnexions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id           TEXT    NOT NULL,
    usager_id           INTEGER NOT NULL,
    sid                 TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    prochain_essai_at   INTEGER NOT NULL,
    tentatives          INTEGER NOT NULL DEFAULT 0,
    envoye_at           INTEGER,
    erreur              TEXT,
    UNIQUE (client_id, sid, usager_id)
);
CREATE INDEX oidc_deconnexions_dues ON oidc_deconnexions (envoye_at, prochain_essai_at);

-- The FranceConnect simulator's federation mode (demonstration and tests):
-- an online service logs in « with FranceConnect », the usager's identity
-- coming from an identity provider (Aidants Connect). Its codes and tokens
-- may carry that identity (JSON) instead of a fictitious one.
ALTER TABLE fc_simulateur_codes ADD COLUMN identite_fi TEXT;
ALTER TABLE fc_simulateur_jetons ADD COLUMN identite_fi TEXT;
-- The simulator's pending requests to the identity provider: its own state
-- and nonce, and the online service's request to answer afterwards.
CREATE TABLE fc_simulateur_federation (
    state_hash          TEXT    PRIMARY KEY,
    nonce               TEXT    NOT NULL,
    fs_client_id        TEXT    NOT NULL,
    fs_redirect_uri     TEXT    NOT NULL,
    fs_state            TEXT    NOT NULL,
    fs_nonce            TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    used_at             INTEGER
);

-- ProConnect, as a relying party: professionals log in with the State's
-- identity federation. Pending logins (state and nonce hashed, bound to the
-- browser by a cookie's hash, single use, 10 minutes).
CREATE TABLE proconnect_etats (
    state_hash          TEXT    PRIMARY KEY,
    nonce_hash          TEXT    NOT NULL,
    navigateur_hash     TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    used_at             INTEGER
);
-- Accounts linked to a ProConnect identity (keyed hash of the issuer and `sub`).
CREATE TABLE proconnect_comptes (
    sub_hash            TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL UNIQUE REFERENCES accounts (id),
    siret               TEXT,
    created_at          INTEGER NOT NULL,
    derniere_connexion_at INTEGER
);
-- A first login waiting for the person to confirm the link (password, or a
-- link sent to the account's address): token hashed, single use, 15 minutes.
CREATE TABLE proconnect_liaisons (
    jeton_hash          TEXT    PRIMARY KEY,
    account_id          INTEGER NOT NULL REFERENCES accounts (id),
    sub_hash            TEXT    NOT NULL,
    siret               TEXT,
    -- ProConnect's authentication time when its amr proved several factors (µs), else NULL.
    mfa_at              INTEGER,
    -- SHA-256 of the token of the link sent by e-mail, once asked.
    courriel_jeton_hash TEXT,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    used_at             INTEGER
);
-- The ProConnect simulator (demonstration and tests): its codes and tokens.
CREATE TABLE pc_simulateur_codes (
    code_hash           TEXT    PRIMARY KEY,
    nonce               TEXT    NOT NULL,
    identite            TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL,
    used_at             INTEGER
);
CREATE TABLE pc_simulateur_jetons (
    token_hash          TEXT    PRIMARY KEY,
    identite            TEXT    NOT NULL,
    created_at          INTEGER NOT NULL,
    expires_at          INTEGER NOT NULL
);
