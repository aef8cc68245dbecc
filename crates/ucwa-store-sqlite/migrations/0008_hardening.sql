-- Issue 11 (hardening). Revoking a principal's tokens (a password change, `user revoke`)
-- finds them by URI.
CREATE INDEX tokens_uri ON tokens (uri);
