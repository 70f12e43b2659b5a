-- E-mail preferences of an account. No row = the defaults (the monthly digest
-- is sent to funders' and hubs' accounts until they opt out).
CREATE TABLE preferences_courriels (
    account_id              INTEGER PRIMARY KEY REFERENCES accounts (id),
    recapitulatif_mensuel   BOOLEAN NOT NULL,
    updated_at              INTEGER NOT NULL
);
