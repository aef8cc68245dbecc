//! Wire format of UCWA 2.0 and the Trusted Application API, with no I/O: what the server
//! sends and what a client reads, defined once.
//!
//! Both surfaces share one resource model; they differ only in the *rel namespace* (`""` for
//! UCWA and anonymous guests, `ms:rtc:saas:` for service applications). A rel is a
//! [`RelName`] plus a "prefixed" flag ([`Rel`]), and each resource knows its [`Namespace`],
//! which spells the rels of links and embedded resources added to it. This was chosen over a
//! second set of types (duplicated definitions) and over prefixing at serialization time only
//! (which cannot represent the recorded payloads that mix both spellings, and hides the
//! surface from a client): a server adds links by name, a client looks them up by name, and
//! every recorded payload round-trips exactly. See docs/protocol.md for what the server
//! implements.
//!
//! # Layout
//! - [`model`]: the typed model: resources ([`model::Hal`] and one properties type per
//!   kind), [`model::AnyResource`], event batches.
//! - [`rel`]: [`Namespace`], [`RelName`], [`Rel`].
//! - [`ids`]: [`AppId`], [`SessionId`], [`SipUri`].
//! - [`values`]: property enumerations (one spelling each, unknown values kept) and dates.
//! - [`paths`]: every route template and the href builder [`paths::AppHrefs`].
//! - [`error`]: the error body `{code, subcode, message, parameters}` and its codes.
//! - [`input`]: request bodies as a server reads them (property names in any letter case).
//! - [`request`]: request bodies as a client writes them, one type per operation.
//! - [`encode`]: scalar encodings (ASP.NET dates, data URIs).
//! - [`string_enum`]: how enumerations are spelled; [`strict`] parsing for conformance tests.
//! - [`resource`] and [`event`]: the JSON builders the server renders with until it switches
//!   to [`model`].

pub mod encode;
pub mod error;
pub mod event;
pub mod ids;
pub mod input;
pub mod model;
pub mod paths;
pub mod rel;
pub mod request;
pub mod resource;
pub mod string_enum;
pub mod values;

pub use ids::{AppId, InvalidId, SessionId, SipUri};
pub use rel::{Namespace, Rel, RelName};
pub use resource::Resource;
pub use string_enum::strict;

/// Content type of every JSON response (what real servers send).
pub const JSON_CONTENT_TYPE: &str = "application/json; charset=utf-8";
