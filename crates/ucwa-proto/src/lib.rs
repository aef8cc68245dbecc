//! Wire format of UCWA 2.0 and the Trusted Application API, with no I/O.
//!
//! Both surfaces share one resource model; they differ only in the *rel namespace*
//! (`""` for UCWA and anonymous guests, `ms:rtc:saas:` for service applications), which
//! [`Namespace`] applies to `rel` properties, `_links`/`_embedded` keys and event rels.
//!
//! # Layout
//! - [`resource`]: the HAL-like resource builder (`rel`, properties, `_links`, `_embedded`).
//! - [`event`]: event batches as sent on the event channel and in callbacks.
//! - [`error`]: the error body `{code, subcode, message, parameters}` and its codes.
//! - [`input`]: request bodies, whose property names clients send in any letter case.
//! - [`encode`]: scalar encodings (ASP.NET dates, data URIs).

pub mod encode;
pub mod error;
pub mod event;
pub mod input;
pub mod resource;

pub use resource::{Namespace, Resource};

/// Content type of every JSON response (what real servers send).
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
