//! Bearer tokens and opaque ids.
//!
//! Tokens are 256 random bits, base64url, with a greppable `ucwa_` prefix; only their
//! SHA-256 is stored, so a leaked database does not leak usable credentials (the scheme
//! crates.io uses for API tokens).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// A freshly minted token: the secret goes to the client once, the hash to the store.
pub struct MintedToken {
    pub secret: String,
    pub hash: Vec<u8>,
}

/// Random bytes from the operating system.
///
/// # Panics
/// Only if the OS has no entropy source, in which case no secure server can run at all.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).expect("the operating system's random source is unavailable");
    buf
}

pub fn mint_token() -> MintedToken {
    let secret = format!("ucwa_{}", URL_SAFE_NO_PAD.encode(random_bytes::<32>()));
    let hash = hash_token(&secret);
    MintedToken { secret, hash }
}

/// The stored form of a token.
pub fn hash_token(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// An unguessable id for server-created resources (applications, conversations, ...):
/// 80 random bits as 20 lowercase hex digits. Hrefs are opaque to clients, and ids that
/// cannot be guessed keep one user's resources out of another's reach even before the
/// ownership check.
pub fn new_id() -> String {
    hex::encode(random_bytes::<10>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = mint_token();
        let b = mint_token();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with("ucwa_"));
        assert_eq!(hash_token(&a.secret), a.hash);
        assert_eq!(a.hash.len(), 32);
    }

    #[test]
    fn ids_are_hex() {
        let id = new_id();
        assert_eq!(id.len(), 20);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit()));
    }
}
