-- Users who sign in with a password.
CREATE TABLE users (
    uri           TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

-- Bearer tokens, stored only as the SHA-256 of the secret.
CREATE TABLE tokens (
    hash        BLOB PRIMARY KEY,
    kind        TEXT NOT NULL,          -- 'user' | 'anonymous'
    uri         TEXT NOT NULL,
    meeting_uri TEXT,                   -- anonymous tokens: the one meeting they may join
    expires_ms  INTEGER NOT NULL
);
CREATE INDEX tokens_expiry ON tokens (expires_ms);

CREATE TABLE applications (
    id            TEXT PRIMARY KEY,
    owner_uri     TEXT NOT NULL,
    anonymous     INTEGER NOT NULL,
    display_name  TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    culture       TEXT NOT NULL,
    instance_id   TEXT,
    status        TEXT NOT NULL,        -- 'active' | 'expired'
    available     INTEGER NOT NULL DEFAULT 0,
    created_ms    INTEGER NOT NULL,
    last_seen_ms  INTEGER NOT NULL,
    -- sticky event-channel parameters
    timeout_s     INTEGER NOT NULL,
    low_s         INTEGER NOT NULL,
    medium_s      INTEGER NOT NULL,
    priority      INTEGER NOT NULL,
    -- per-application event sequence: allocated under this row's write lock
    next_seq      INTEGER NOT NULL DEFAULT 1,
    -- the last delivered batch, kept for replay until the next one is asked for
    batch_no      INTEGER NOT NULL DEFAULT 0,
    batch_body    TEXT NOT NULL DEFAULT '',
    batch_max_seq INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX applications_active_endpoint ON applications (owner_uri, endpoint_id) WHERE status = 'active';
CREATE INDEX applications_idle ON applications (status, last_seen_ms);

-- The mailbox: undelivered and delivered-but-unacknowledged events per application.
CREATE TABLE events (
    app_id      TEXT NOT NULL,
    seq         INTEGER NOT NULL,
    priority    INTEGER NOT NULL,
    created_ms  INTEGER NOT NULL,
    sender_rel  TEXT NOT NULL,
    sender_href TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (app_id, seq)
) WITHOUT ROWID;
