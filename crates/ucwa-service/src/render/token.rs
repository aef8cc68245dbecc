//! The OAuth answer of the token endpoint.

use serde_json::Value;
use ucwa_proto::model::{OAuthError, TokenResponse};

use crate::tokens::Grant;

pub fn grant(grant: &Grant) -> Value {
    let body = TokenResponse {
        access_token: grant.access_token.clone(),
        expires_in: grant.expires_in.as_secs(),
        ms_rtc_identityscope: Some("local".to_owned()),
        token_type: "Bearer".to_owned(),
    };
    super::json(&body)
}

/// An OAuth error answer (`invalid_grant`, ...).
pub fn error(code: &str) -> Value {
    super::json(&OAuthError { error: code.to_owned() })
}
