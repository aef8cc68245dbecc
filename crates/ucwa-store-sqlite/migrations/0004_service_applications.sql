-- Trusted Application API: service application endpoints, psat guest tokens, and the
-- callback outbox of service applications' conversations.

-- Registered endpoints (`ucwa-server service-app add`). The client secret is kept only as an
-- argon2 hash; the signing key is a separate random secret that keys callback signatures.
CREATE TABLE service_apps (
    uri           TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    signing_key   TEXT NOT NULL,
    callback_url  TEXT,
    created_ms    INTEGER NOT NULL
);

-- Which surface an application belongs to: 'ucwa' | 'service' | 'psanon'. Part of the
-- one-active-application-per-endpoint rule, so a user and a service endpoint that share a
-- URI never share an application.
ALTER TABLE applications ADD COLUMN kind TEXT NOT NULL DEFAULT 'ucwa';
DROP INDEX applications_active_endpoint;
CREATE UNIQUE INDEX applications_active_endpoint ON applications (kind, owner_uri, endpoint_id) WHERE status = 'active';

-- psat guest tokens (kind 'psguest'): the browser origins allowed, ';'-separated.
ALTER TABLE tokens ADD COLUMN origins TEXT;

-- Where each service-application conversation delivers its events, and its retry state.
-- url NULL: the conversation's events go to the event log (long poll) instead.
CREATE TABLE callback_routes (
    session_id      TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    url             TEXT,
    context         TEXT,
    base_uri        TEXT NOT NULL,
    failed          INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_ms INTEGER NOT NULL DEFAULT 0,
    delivered       INTEGER NOT NULL DEFAULT 0,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX callback_routes_due ON callback_routes (next_attempt_ms) WHERE failed = 0 AND url IS NOT NULL;

-- The outbox: callback events not yet acknowledged by the receiver, appended in the same
-- transaction as the state change that produced them. Ordered by id within a conversation.
CREATE TABLE callback_outbox (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id  TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    created_ms  INTEGER NOT NULL,
    sender_rel  TEXT NOT NULL,
    sender_href TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX callback_outbox_session ON callback_outbox (session_id, id);

-- Conversations whose callbacks were given up on (the receiver failed too long).
CREATE TABLE callback_failures (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    app_id      TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    last_error  TEXT NOT NULL,
    dropped     INTEGER NOT NULL,
    failed_ms   INTEGER NOT NULL
);
