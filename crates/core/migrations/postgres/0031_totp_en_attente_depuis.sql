-- When the pending TOTP secret was drawn (microseconds): the enrolment page shows the same
-- secret again for a while (a reload keeps the code of the app that scanned it), then a new one.
ALTER TABLE accounts ADD COLUMN totp_pending_at BIGINT;
