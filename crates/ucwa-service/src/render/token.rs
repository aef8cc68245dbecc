//! The OAuth answer of the token endpoint.

use serde_json::{Value, json};

use crate::tokens::Grant;

pub fn grant(grant: &Grant) -> Value {
    json!({
        "access_token": grant.access_token,
        "expires_in": grant.expires_in.as_secs(),
        "ms_rtc_identityscope": "local",
        "token_type": "Bearer",
    })
}

/// An OAuth error answer (`invalid_grant`, ...).
pub fn error(code: &str) -> Value {
    json!({ "error": code })
}
