-- OpenUCWA on PostgreSQL: the same data as the SQLite store (its migrations 0001-0009 folded
-- into one), plus what several nodes on one database need (the callback delivery lease).
-- Times are milliseconds since the Unix epoch (BIGINT), as in the SQLite store. Event bodies,
-- meeting settings and sessions are JSON kept as TEXT, not JSONB: JSONB reorders object keys,
-- and a replayed event batch must be byte for byte what the SQLite store would give.

-- Users who sign in with a password.
CREATE TABLE users (
    uri           TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL
);

-- Bearer tokens, stored only as the SHA-256 of the secret.
CREATE TABLE tokens (
    hash        BYTEA PRIMARY KEY,
    kind        TEXT NOT NULL,          -- 'user' | 'anonymous' | 'service' | 'psguest'
    uri         TEXT NOT NULL,
    meeting_uri TEXT,                   -- anonymous and psguest tokens: the one meeting they may join
    origins     TEXT,                   -- psguest tokens: the browser origins allowed, ';'-separated
    expires_ms  BIGINT NOT NULL
);
CREATE INDEX tokens_expiry ON tokens (expires_ms);

-- Failed sign-ins per user name in fixed windows (the sign-in rate limit, shared by every
-- node): the window ends at until_ms; a failure after that opens a new one. Closed windows
-- are purged with expired tokens.
CREATE TABLE signin_failures (
    name     TEXT PRIMARY KEY,
    until_ms BIGINT NOT NULL,
    failures BIGINT NOT NULL
);

CREATE TABLE applications (
    id            TEXT PRIMARY KEY,
    owner_uri     TEXT NOT NULL,
    anonymous     BOOLEAN NOT NULL,
    display_name  TEXT NOT NULL,
    endpoint_id   TEXT NOT NULL,
    user_agent    TEXT NOT NULL,
    culture       TEXT NOT NULL,
    instance_id   TEXT,
    kind          TEXT NOT NULL,        -- 'ucwa' | 'service' | 'psanon'
    status        TEXT NOT NULL,        -- 'active' | 'expired'
    available     BOOLEAN NOT NULL DEFAULT FALSE,
    created_ms    BIGINT NOT NULL,
    last_seen_ms  BIGINT NOT NULL,
    -- sticky event-channel parameters
    timeout_s     BIGINT NOT NULL,
    low_s         BIGINT NOT NULL,
    medium_s      BIGINT NOT NULL,
    priority      BIGINT NOT NULL,
    -- per-application event sequence: allocated while holding this row's lock (see events.rs)
    next_seq      BIGINT NOT NULL DEFAULT 1,
    -- the last delivered batch, kept for replay until the next one is asked for
    batch_no      BIGINT NOT NULL DEFAULT 0,
    batch_body    TEXT NOT NULL DEFAULT '',
    batch_max_seq BIGINT NOT NULL DEFAULT 0,
    -- the highest sequence number the client has acknowledged; events up to it are deleted
    -- in the background, by key: events up to purged_seq are gone already
    acked_max_seq BIGINT NOT NULL DEFAULT 0,
    purged_seq    BIGINT NOT NULL DEFAULT 0,
    -- the event request holding the channel, on whichever node (Store::claim_poll): its
    -- ticket, its priority (NULL once it returned) and when it ends (or ended); until then
    -- the application counts as active for idle expiry
    poll_ticket   BIGINT NOT NULL DEFAULT 0,
    poll_priority BIGINT,
    poll_until_ms BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX applications_active_endpoint ON applications (kind, owner_uri, endpoint_id) WHERE status = 'active';
CREATE INDEX applications_idle ON applications (status, last_seen_ms);
CREATE INDEX applications_online ON applications (owner_uri) WHERE available AND status = 'active';
-- The applications with acknowledged events still stored: only those acknowledged lately.
CREATE INDEX applications_unpurged ON applications (id) WHERE acked_max_seq > purged_seq;

-- The mailbox: undelivered and delivered-but-unacknowledged events per application.
CREATE TABLE events (
    app_id      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    priority    BIGINT NOT NULL,
    created_ms  BIGINT NOT NULL,
    sender_rel  TEXT NOT NULL,
    sender_href TEXT NOT NULL,
    body        TEXT NOT NULL,
    PRIMARY KEY (app_id, seq)
);

-- Meetings: the aggregate header. Sessions live in their own rows so a command that moves
-- one participant rewrites one row, not a thousand.
CREATE TABLE meetings (
    id                TEXT PRIMARY KEY,      -- onlineMeetingId
    organizer_uri     TEXT NOT NULL,
    kind              TEXT NOT NULL,         -- 'Conference' | 'TwoParty'
    settings          TEXT NOT NULL,         -- MeetingSettings as JSON
    ended             BOOLEAN NOT NULL,
    version           BIGINT NOT NULL,       -- compare-and-swap between nodes
    settings_revision BIGINT NOT NULL,
    join_url          TEXT NOT NULL,
    created_ms        BIGINT NOT NULL,
    next_deadline_ms  BIGINT,                -- earliest lobby or invitation deadline, for the sweep
    finished_ms       BIGINT                 -- Meeting::finished_at: NULL while someone is in it
);
CREATE INDEX meetings_organizer ON meetings (organizer_uri, created_ms);
CREATE INDEX meetings_deadline ON meetings (next_deadline_ms) WHERE next_deadline_ms IS NOT NULL;
CREATE INDEX meetings_finished ON meetings (finished_ms) WHERE finished_ms IS NOT NULL;

CREATE TABLE meeting_sessions (
    session_id TEXT PRIMARY KEY,            -- conversation and invitation id
    meeting_id TEXT NOT NULL REFERENCES meetings (id) ON DELETE CASCADE,
    app_id     TEXT NOT NULL,
    live       BOOLEAN NOT NULL,            -- not yet disconnected
    state      TEXT NOT NULL                -- Session as JSON
);
CREATE INDEX meeting_sessions_meeting ON meeting_sessions (meeting_id);
CREATE INDEX meeting_sessions_app ON meeting_sessions (app_id) WHERE live;

-- Trusted Application API endpoints. The client secret is kept only as an argon2 hash; the
-- signing key is a separate random secret that keys callback signatures.
CREATE TABLE service_apps (
    uri           TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    signing_key   TEXT NOT NULL,
    callback_url  TEXT,
    created_ms    BIGINT NOT NULL
);

-- Where each service-application conversation delivers its events, its retry state, and
-- which node delivers it now: a conversation is delivered by the node holding its lease
-- (lease_owner, until lease_until_ms), claimed with FOR UPDATE SKIP LOCKED.
-- url NULL: the conversation's events go to the event log (long poll) instead.
CREATE TABLE callback_routes (
    session_id      TEXT PRIMARY KEY,
    app_id          TEXT NOT NULL,
    url             TEXT,
    context         TEXT,
    base_uri        TEXT NOT NULL,
    failed          BOOLEAN NOT NULL DEFAULT FALSE,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_ms BIGINT NOT NULL DEFAULT 0,
    delivered       BIGINT NOT NULL DEFAULT 0,
    created_ms      BIGINT NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT NOT NULL DEFAULT 0,
    -- the end of the batch being delivered, pinned at its first attempt (NULL: none), so a
    -- retry or a takeover sends the same events under the same ack
    batch_through   BIGINT
);
CREATE INDEX callback_routes_due ON callback_routes (next_attempt_ms) WHERE NOT failed AND url IS NOT NULL;

-- The outbox: callback events not yet acknowledged by the receiver, appended in the same
-- transaction as the state change that produced them, after the application row is locked,
-- so ids within a conversation follow commit order.
CREATE TABLE callback_outbox (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT NOT NULL,
    app_id      TEXT NOT NULL,
    created_ms  BIGINT NOT NULL,
    sender_rel  TEXT NOT NULL,
    sender_href TEXT NOT NULL,
    body        TEXT NOT NULL
);
CREATE INDEX callback_outbox_session ON callback_outbox (session_id, id);

-- Conversations whose callbacks were given up on (the receiver failed too long).
CREATE TABLE callback_failures (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    app_id      TEXT NOT NULL,
    session_id  TEXT NOT NULL,
    url         TEXT NOT NULL,
    attempts    BIGINT NOT NULL,
    last_error  TEXT NOT NULL,
    dropped     BIGINT NOT NULL,
    failed_ms   BIGINT NOT NULL
);
