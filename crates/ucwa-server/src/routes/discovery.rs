//! Autodiscovery (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/autodiscoveryinucwa>):
//! `GET /` and `GET /autodiscover/autodiscoverservice.svc/root` answer the root; its `user`
//! link answers 401 until a token is shown, then links to the applications collection
//! (recorded in `fixtures/lync2013-trace`, steps 3–6).

use axum::extract::State;
use axum::http::HeaderMap;
use ucwa_proto::{Namespace, Resource};

use crate::auth::Caller;
use crate::response::Json;
use crate::state::AppState;
use crate::urls::{ANONYMOUS_PREFIX, USER_PREFIX, public_base};

const ROOT: &str = "/autodiscover/autodiscoverservice.svc/root";

pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Json {
    let base = public_base(&state, &headers);
    // The recorded root has no `rel`; only links.
    let body = serde_json::json!({"_links": {
        "self": {"href": format!("{base}{ROOT}")},
        "user": {"href": format!("{base}{ROOT}/oauth/user")},
        "xframe": {"href": format!("{base}/autodiscover/xframe/xframe.html")},
    }});
    Json(body)
}

pub async fn user(State(state): State<AppState>, headers: HeaderMap, Caller(principal): Caller) -> Json {
    let base = public_base(&state, &headers);
    let prefix = if principal.is_anonymous() { ANONYMOUS_PREFIX } else { USER_PREFIX };
    let mut body = Resource::new(Namespace::Ucwa, "user", format!("{base}{ROOT}/user"))
        .link("applications", format!("{base}{prefix}/applications"))
        .link("xframe", format!("{base}/autodiscover/xframe/xframe.html"))
        .into_value();
    // Like the recorded user resource: links only.
    if let Some(obj) = body.as_object_mut() {
        obj.remove("rel");
    }
    Json(body)
}

/// The cross-domain helper page the root advertises. Browser clients load it in an iframe;
/// we have nothing to bridge, so it is an empty page.
pub async fn xframe() -> axum::response::Html<&'static str> {
    axum::response::Html("<!DOCTYPE html><html><head><title>XFrame</title></head><body></body></html>")
}
