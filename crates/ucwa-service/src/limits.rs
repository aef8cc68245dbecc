//! Time limits and sizes of the server. Defaults follow the documented behaviour of a real
//! server; with the `clap` feature every one is also a command-line flag and an `UCWA_*`
//! environment variable.

use std::time::Duration;

/// Time limits and sizes. Defaults follow the documented behaviour of a real server.
#[derive(Debug, Clone)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct Limits {
    /// Lifetime of access tokens, seconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_TOKEN_TTL", default_value_t = 8 * 3600))]
    pub token_ttl_secs: u64,
    /// An application not polled for this long expires (410 InactiveApplicationExpired), seconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_APPLICATION_IDLE", default_value_t = 15 * 60))]
    pub application_idle_secs: u64,
    /// Smallest event-channel `timeout` a client may ask for, seconds (documented: 180).
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_EVENTS_MIN_TIMEOUT", default_value_t = 180))]
    pub events_min_timeout_secs: u32,
    /// Smallest `low`/`medium` hold a client may ask for, seconds (documented: 5).
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_EVENTS_MIN_HOLD", default_value_t = 5))]
    pub events_min_hold_secs: u32,
    /// A joiner waiting in a lobby this long fails with a Timeout reason, seconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_LOBBY_TIMEOUT", default_value_t = 15 * 60))]
    pub lobby_timeout_secs: u64,
    /// An incoming invitation (addParticipant, startMessaging) nobody answers fails after
    /// this long, on both sides, seconds (documented: about 30).
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_INVITATION_TIMEOUT", default_value_t = 30))]
    pub invitation_timeout_secs: u64,
    /// Largest request body, bytes.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_BODY", default_value_t = 64 * 1024))]
    pub max_body_bytes: usize,
    /// Longest instant message (`sendMessage`), characters: every receiver gets a copy
    /// (observed limit of Lync/Skype for Business servers: 8,000).
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_MESSAGE_CHARS", default_value_t = 8000))]
    pub max_message_chars: usize,
    /// Longest first message of an invitation (`startMessaging`, `addParticipant`),
    /// characters (observed limit of Lync/Skype for Business servers: 800).
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_INVITATION_MESSAGE_CHARS", default_value_t = 800))]
    pub max_invitation_message_chars: usize,
    /// Largest event batch, bytes of event bodies: the rest goes in the next batch, in order
    /// (a single larger event goes alone). Callback batches too.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_BATCH_BYTES", default_value_t = 1024 * 1024))]
    pub max_batch_bytes: usize,
    /// Active applications one user (or endpoint) may have; past it creating one answers
    /// 410 Gone / TooManyApplications.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_APPLICATIONS_PER_USER", default_value_t = 64))]
    pub max_applications_per_user: u64,
    /// Unfinished meetings (scheduled, ad hoc, two-party conversations) one user may
    /// organize; past it creating one answers 409 Conflict / TooManyOnlineMeetings.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_MEETINGS_PER_USER", default_value_t = 200))]
    pub max_meetings_per_user: u64,
    /// Unanswered `addParticipant` invitations one conversation may have at once (and 10
    /// times that in all); past it 409 Conflict / TooManyParticipants.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_MAX_PENDING_INVITATIONS", default_value_t = 20))]
    pub max_pending_invitations: usize,
    /// Failed sign-ins allowed per user name (or meeting, for guests) and client address per
    /// minute before 429.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_SIGNIN_RATE", default_value_t = 10))]
    pub signin_attempts_per_minute: u32,
    /// Failed sign-ins allowed per client address (any name; IPv6 by /64) per minute
    /// before 429.
    #[cfg_attr(
        feature = "clap",
        arg(long = "signin-address-rate", env = "UCWA_SIGNIN_ADDRESS_RATE", default_value_t = 100)
    )]
    pub signin_address_attempts_per_minute: u32,
    /// Password and client-secret checks (argon2, about 19 MiB each) running at once; 0: one
    /// per core.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_HASH_CONCURRENCY", default_value_t = 0))]
    pub hash_concurrency: usize,
    /// How long a sign-in waits for a free check before 503 with `Retry-After`, milliseconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_HASH_QUEUE_WAIT_MS", default_value_t = 1000))]
    pub hash_queue_wait_ms: u64,
    /// Failed deliveries of a service application's callback before the conversation is
    /// terminated and the failure recorded.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_CALLBACK_MAX_ATTEMPTS", default_value_t = 10))]
    pub callback_max_attempts: u32,
    /// First retry delay of a failed callback, milliseconds; doubles with each failure.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_CALLBACK_RETRY_BASE_MS", default_value_t = 1000))]
    pub callback_retry_base_ms: u64,
    /// Longest retry delay of a failed callback, seconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_CALLBACK_RETRY_MAX", default_value_t = 300))]
    pub callback_retry_max_secs: u64,
    /// Conversations of one service application endpoint delivered at the same time, on all
    /// nodes together (each node delivers 32 at most), so that one slow receiver cannot hold
    /// up the others.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_CALLBACK_ENDPOINT_CONCURRENCY", default_value_t = 4))]
    pub callback_endpoint_concurrency: usize,
    /// How long a callback receiver may take to answer, seconds.
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_CALLBACK_TIMEOUT", default_value_t = 10))]
    pub callback_timeout_secs: u64,
    /// Finished conversations and meetings, expired applications and recorded callback
    /// failures are deleted this long after they finished, hours (docs/ARCHITECTURE.md,
    /// "Retention").
    #[cfg_attr(feature = "clap", arg(long, env = "UCWA_RETENTION_HOURS", default_value_t = 24))]
    pub retention_hours: u64,
}

impl Limits {
    pub fn token_ttl(&self) -> Duration {
        Duration::from_secs(self.token_ttl_secs)
    }

    pub fn application_idle(&self) -> Duration {
        Duration::from_secs(self.application_idle_secs)
    }

    pub fn retention(&self) -> Duration {
        Duration::from_secs(self.retention_hours.saturating_mul(3600))
    }

    /// How long a joiner may wait in a lobby, milliseconds.
    pub fn lobby_timeout_ms(&self) -> u64 {
        self.lobby_timeout_secs.saturating_mul(1000)
    }

    /// How long an incoming invitation rings, milliseconds.
    pub fn invitation_timeout_ms(&self) -> u64 {
        self.invitation_timeout_secs.saturating_mul(1000)
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            token_ttl_secs: 8 * 3600,
            application_idle_secs: 15 * 60,
            events_min_timeout_secs: 180,
            events_min_hold_secs: 5,
            lobby_timeout_secs: 15 * 60,
            invitation_timeout_secs: 30,
            max_body_bytes: 64 * 1024,
            max_message_chars: 8000,
            max_invitation_message_chars: 800,
            max_batch_bytes: 1024 * 1024,
            max_applications_per_user: 64,
            max_meetings_per_user: 200,
            max_pending_invitations: 20,
            signin_attempts_per_minute: 10,
            signin_address_attempts_per_minute: 100,
            hash_concurrency: 0,
            hash_queue_wait_ms: 1000,
            callback_max_attempts: 10,
            callback_retry_base_ms: 1000,
            callback_retry_max_secs: 300,
            callback_timeout_secs: 10,
            callback_endpoint_concurrency: 4,
            retention_hours: 24,
        }
    }
}
