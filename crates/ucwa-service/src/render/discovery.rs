//! Autodiscovery (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/rooturl>): the root and
//! the `user` resource, under the absolute base a client reached the server at (recorded in
//! `fixtures/lync2013-trace`, steps 3–6).

use serde_json::{Value, json};
use ucwa_proto::{Namespace, Resource};

use crate::urls::{ANONYMOUS_PREFIX, USER_PREFIX};

/// The autodiscover root path.
pub const ROOT: &str = "/autodiscover/autodiscoverservice.svc/root";

/// The root: links only, no `rel`, as recorded.
pub fn root(base: &str) -> Value {
    json!({"_links": {
        "self": {"href": format!("{base}{ROOT}")},
        "user": {"href": format!("{base}{ROOT}/oauth/user")},
        "xframe": {"href": format!("{base}/autodiscover/xframe/xframe.html")},
    }})
}

/// The `user` resource of a signed-in caller: where its applications are created.
pub fn user(base: &str, anonymous: bool) -> Value {
    let prefix = if anonymous { ANONYMOUS_PREFIX } else { USER_PREFIX };
    let mut body = Resource::new(Namespace::Ucwa, "user", format!("{base}{ROOT}/user"))
        .link("applications", format!("{base}{prefix}/applications"))
        .link("xframe", format!("{base}/autodiscover/xframe/xframe.html"))
        .into_value();
    // Like the recorded user resource: links only.
    if let Some(obj) = body.as_object_mut() {
        obj.remove("rel");
    }
    body
}
