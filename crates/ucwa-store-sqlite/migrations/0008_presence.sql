-- What users published about themselves (me/presence, me/note, me/location): one row per
-- user who ever set something; NULL columns were never set or were reset.
CREATE TABLE publications (
    uri          TEXT PRIMARY KEY,      -- the user's SIP URI
    availability TEXT,                  -- PreferredAvailability spelling
    note         TEXT,
    location     TEXT,
    updated_ms   INTEGER NOT NULL
);

-- Presence subscriptions (people/presenceSubscriptions): an application watching some
-- people until expires_ms. Gone with their application.
CREATE TABLE presence_subscriptions (
    id         TEXT PRIMARY KEY,
    app_id     TEXT NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL
);
CREATE INDEX presence_subscriptions_by_app ON presence_subscriptions (app_id, expires_ms);
CREATE INDEX presence_subscriptions_expiry ON presence_subscriptions (expires_ms);

CREATE TABLE presence_subscription_members (
    subscription_id TEXT NOT NULL REFERENCES presence_subscriptions (id) ON DELETE CASCADE,
    position        INTEGER NOT NULL,   -- the order the URIs were given in
    uri             TEXT NOT NULL,
    PRIMARY KEY (subscription_id, uri)
);
-- Who watches a user: looked up on every presence change.
CREATE INDEX presence_subscription_members_by_uri ON presence_subscription_members (uri);
