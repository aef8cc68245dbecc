//! Autodiscovery (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/rooturl>): `GET /` and
//! `GET /autodiscover/autodiscoverservice.svc/root` answer the root; its `user` link answers
//! 401 until a token is shown, then links to the applications collection.

use ucwa_service::render::discovery;

use crate::auth::Caller;
use crate::response::Json;
use crate::urls::PublicBase;

pub async fn root(PublicBase(base): PublicBase) -> Json {
    Json(discovery::root(&base))
}

pub async fn user(PublicBase(base): PublicBase, Caller(principal): Caller) -> Json {
    Json(discovery::user(&base, principal.is_anonymous()))
}

/// The cross-domain helper page the root advertises. Browser clients load it in an iframe;
/// we have nothing to bridge, so it is an empty page.
pub async fn xframe() -> axum::response::Html<&'static str> {
    axum::response::Html("<!DOCTYPE html><html><head><title>XFrame</title></head><body></body></html>")
}
