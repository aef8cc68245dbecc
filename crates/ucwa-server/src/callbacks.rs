//! How callbacks travel: the HTTP side of `ucwa_service::callbacks` (which decides what is
//! sent, when, and what a failure means). POSTs go over http or https with rustls and the
//! ring provider, never follow redirects (a receiver must answer itself) and time out after
//! `--callback-timeout`.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use ucwa_core::credentials::new_id;
use ucwa_service::CallbackTransport;
use ucwa_service::callbacks::{CALLBACK_CONTENT_TYPE, DELIVERY_HEADER, SIGNATURE_HEADER};

/// Sends callbacks with one shared `reqwest::Client`.
pub struct HttpTransport {
    client: reqwest::Client,
}

impl HttpTransport {
    pub fn new(timeout: Duration) -> Self {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        Self { client }
    }
}

#[async_trait]
impl CallbackTransport for HttpTransport {
    async fn post(
        &self,
        url: &url::Url,
        signature: &str,
        delivery: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, String> {
        let mut request = self
            .client
            .post(url.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(CALLBACK_CONTENT_TYPE))
            .header("x-ms-correlation-id", new_id())
            .header(SIGNATURE_HEADER, signature);
        if let Some(delivery) = delivery {
            request = request.header(DELIVERY_HEADER, delivery);
        }
        let resp = request.body(body).send().await.map_err(|e| format!("callback request failed: {e}"))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(format!("callback receiver answered {status}"));
        }
        Ok(resp.bytes().await.map(|b| b.to_vec()).unwrap_or_default())
    }
}

/// https uses rustls with the ring provider (built without aws-lc or OpenSSL), and reqwest
/// refuses to build any client in the process until a process-wide provider is installed.
/// Call this before building a `reqwest::Client`; a second call changes nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
