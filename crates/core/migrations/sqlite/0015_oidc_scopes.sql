-- OpenID Connect provider, part 2: the scopes a request asked for travel
-- with its code and its access token, so that userinfo returns only the
-- claims they allow.
ALTER TABLE oidc_codes ADD COLUMN scope TEXT NOT NULL DEFAULT 'openid';
ALTER TABLE oidc_jetons ADD COLUMN scope TEXT NOT NULL DEFAULT 'openid';
