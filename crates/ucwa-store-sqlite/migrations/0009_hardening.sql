-- Issue 11 (hardening). Revoking a principal's tokens (a password change, `user revoke`)
-- finds them by URI.
CREATE INDEX tokens_uri ON tokens (uri);
-- The SIP domains, besides its own, whose meetings a service application endpoint may join
-- trusted or impersonating, mint guest tokens for and rule over (`service-app add
-- --domain`), ';'-separated.
ALTER TABLE service_apps ADD COLUMN domains TEXT NOT NULL DEFAULT '';
-- Idempotent retries: the operationId a session's application started it with (a join or
-- startMessaging), so that a retried request finds the operation it started.
ALTER TABLE meeting_sessions ADD COLUMN operation_id TEXT;
CREATE INDEX meeting_sessions_operation ON meeting_sessions (app_id, operation_id) WHERE operation_id IS NOT NULL;
