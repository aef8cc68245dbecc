-- Failed sign-ins per user name in fixed windows (the sign-in rate limit): the window ends at
-- until_ms; a failure after that opens a new one. Closed windows are purged with expired
-- tokens.
CREATE TABLE signin_failures (
    name     TEXT PRIMARY KEY,
    until_ms INTEGER NOT NULL,
    failures INTEGER NOT NULL
);
