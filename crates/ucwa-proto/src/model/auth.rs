//! The token endpoint's answers (docs/protocol.md, oauthtoken). They are OAuth bodies, not
//! HAL resources.

use serde::{Deserialize, Serialize};

/// `200` from `POST /WebTicket/oauthtoken`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Seconds.
    pub expires_in: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ms_rtc_identityscope: Option<String>,
    pub token_type: String,
}

/// `400` from the token endpoint: `invalid_request`, `invalid_grant`, `invalid_client`,
/// `unsupported_grant_type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OAuthError {
    pub error: String,
}
