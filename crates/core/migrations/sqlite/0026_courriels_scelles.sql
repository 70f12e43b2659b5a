-- Outgoing e-mails that carry a secret (a login link, a habilitation
-- follow-up link) keep their body sealed with the deployment's key
-- (XChaCha20-Poly1305, purpose « courriel »): a copy of the database alone
-- holds no usable link. The body is erased once the message is sent.
ALTER TABLE courriels ADD COLUMN scelle BOOLEAN NOT NULL DEFAULT FALSE;
