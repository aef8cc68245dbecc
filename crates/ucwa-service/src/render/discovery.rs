//! Autodiscovery (<https://learn.microsoft.com/en-us/skype-sdk/ucwa/rooturl>): the root and
//! the `user` resource, under the absolute base a client reached the server at (recorded in
//! `fixtures/lync2013-trace`, steps 3–6). Both are links only, without `rel`, as recorded.

use serde_json::Value;
use ucwa_proto::model::{Dashboard, Hal};
use ucwa_proto::paths::{self, Prefix};
use ucwa_proto::{Namespace, RelName};

/// A resource of links only, without `rel`.
fn links_only() -> Hal<Dashboard> {
    Hal::without_self(Namespace::Ucwa, None, Dashboard {})
}

/// The root.
pub fn root(base: &str) -> Value {
    links_only()
        .link(RelName::SelfLink, format!("{base}{}", paths::autodiscover_root()))
        .link(RelName::User, format!("{base}{}", paths::oauth_user()))
        .link(RelName::Xframe, format!("{base}{}", paths::XFRAME))
        .into_value()
}

/// The `user` resource of a signed-in caller: where its applications are created.
pub fn user(base: &str, anonymous: bool) -> Value {
    let prefix = if anonymous { Prefix::Anonymous } else { Prefix::User };
    links_only()
        .link(RelName::SelfLink, format!("{base}{}", paths::user()))
        .link(RelName::Applications, format!("{base}{}", paths::applications(prefix)))
        .link(RelName::Xframe, format!("{base}{}", paths::XFRAME))
        .into_value()
}
