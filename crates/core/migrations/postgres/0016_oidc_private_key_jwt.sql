-- OpenID Connect provider, part 3: a service may authenticate at the token
-- endpoint with a JWT signed by its private key (private_key_jwt, ES256)
-- instead of a secret. Such a service has a public key (SPKI PEM); its
-- secret_empreinte is then that of a random secret never shown, and refused.
ALTER TABLE oidc_clients ADD COLUMN cle_publique TEXT;

-- The jti of the client assertions already used, kept until they expire:
-- an assertion is accepted once, whichever instance receives it.
CREATE TABLE oidc_assertions_jti (
    client_id   TEXT    NOT NULL,
    jti         TEXT    NOT NULL,
    expire_at   BIGINT  NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_assertions_jti_expire ON oidc_assertions_jti (expire_at);
