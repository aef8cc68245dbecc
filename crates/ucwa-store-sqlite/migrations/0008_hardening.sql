-- Issue 11 (hardening). Revoking a principal's tokens (a password change, `user revoke`)
-- finds them by URI.
CREATE INDEX tokens_uri ON tokens (uri);
-- The SIP domains, besides its own, whose meetings a service application endpoint may join
-- trusted or impersonating, mint guest tokens for and rule over (`service-app add
-- --domain`), ';'-separated.
ALTER TABLE service_apps ADD COLUMN domains TEXT NOT NULL DEFAULT '';
