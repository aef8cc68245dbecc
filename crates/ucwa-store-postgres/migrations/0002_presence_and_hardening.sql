-- Issue 10 (presence, people) and issue 11 (hardening), as the SQLite store's migrations 0008
-- and 0009 have them, plus the index the callback claim counts an endpoint's leases with.

-- What users published about themselves (me/presence, me/note, me/location): one row per
-- user who ever set something; NULL columns were never set or were reset.
CREATE TABLE publications (
    uri          TEXT PRIMARY KEY,      -- the user's SIP URI
    availability TEXT,                  -- PreferredAvailability spelling
    note         TEXT,
    location     TEXT,
    updated_ms   BIGINT NOT NULL
);

-- Presence subscriptions (people/presenceSubscriptions): an application watching some
-- people until expires_ms. Gone with their application.
CREATE TABLE presence_subscriptions (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    created_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);
CREATE INDEX presence_subscriptions_by_app ON presence_subscriptions (app_id, expires_ms);
CREATE INDEX presence_subscriptions_expiry ON presence_subscriptions (expires_ms);

CREATE TABLE presence_subscription_members (
    subscription_id TEXT NOT NULL REFERENCES presence_subscriptions (id) ON DELETE CASCADE,
    position        BIGINT NOT NULL,    -- the order the URIs were given in
    uri             TEXT NOT NULL,
    PRIMARY KEY (subscription_id, uri)
);
-- Who watches a user: looked up on every presence change.
CREATE INDEX presence_subscription_members_by_uri ON presence_subscription_members (uri);

-- Revoking a principal's tokens (a password change, `user revoke`) finds them by URI.
CREATE INDEX tokens_uri ON tokens (uri);

-- The SIP domains, besides its own, whose meetings a service application endpoint may join
-- trusted or impersonating, mint guest tokens for and rule over (`service-app add
-- --domain`), ';'-separated.
ALTER TABLE service_apps ADD COLUMN domains TEXT NOT NULL DEFAULT '';

-- Idempotent retries: the operationId a session's application started it with (a join or
-- startMessaging), so that a retried request finds the operation it started.
ALTER TABLE meeting_sessions ADD COLUMN operation_id TEXT;
CREATE INDEX meeting_sessions_operation ON meeting_sessions (app_id, operation_id) WHERE operation_id IS NOT NULL;

-- The claim counts each endpoint's conversations being delivered (leases held) to keep it
-- within --callback-endpoint-concurrency on all nodes together.
CREATE INDEX callback_routes_leased ON callback_routes (app_id) WHERE lease_owner IS NOT NULL;
