//! The administrative subcommands (`user add|passwd|revoke|list`, `service-app
//! add|list|failures`, `store copy`) and `--demo` users: read standard input, call
//! [`ucwa_service::admin`], print.

use std::io::BufRead;

use ucwa_core::Store;
use ucwa_core::clock::{Clock, SystemClock};
use ucwa_service::admin;

/// `ucwa-server user add SIP_URI --name NAME --password-stdin`.
pub async fn add_user(store: &dyn Store, sip_uri: &str, name: &str, input: impl BufRead) -> anyhow::Result<()> {
    let password = input.lines().next().transpose()?.unwrap_or_default();
    let (uri, created) = admin::add_user(store, sip_uri, name, password).await?;
    println!("{} {uri}", if created { "added" } else { "updated" });
    Ok(())
}

/// `ucwa-server user passwd SIP_URI --password-stdin`.
pub async fn set_password(store: &dyn Store, sip_uri: &str, input: impl BufRead) -> anyhow::Result<()> {
    let password = input.lines().next().transpose()?.unwrap_or_default();
    let revoked = admin::set_password(store, sip_uri, password).await?;
    println!("password changed; {revoked} token(s) revoked");
    Ok(())
}

/// `ucwa-server user revoke SIP_URI`.
pub async fn revoke_user(store: &dyn Store, sip_uri: &str) -> anyhow::Result<()> {
    let revoked = admin::revoke_user(store, sip_uri).await?;
    println!("{revoked} token(s) revoked");
    Ok(())
}

/// `ucwa-server user list`.
pub async fn list_users(store: &dyn Store) -> anyhow::Result<()> {
    for user in store.list_users().await? {
        println!("{}\t{}", user.uri, user.display_name);
    }
    Ok(())
}

/// `ucwa-server service-app add SIP_URI --name NAME --secret-stdin [--callback-url URL]
/// [--domain DOMAIN]...`.
/// Prints the endpoint's new callback signing key: it is shown only here (re-adding the
/// endpoint rotates it).
pub async fn add_service_app(
    store: &dyn Store,
    sip_uri: &str,
    name: &str,
    callback_url: Option<&str>,
    domains: &[String],
    input: impl BufRead,
) -> anyhow::Result<String> {
    let secret = input.lines().next().transpose()?.unwrap_or_default();
    let now = SystemClock.now_ms();
    let added = admin::add_service_app(store, sip_uri, name, callback_url, domains, secret, now).await?;
    println!("{} {}", if added.created { "added" } else { "updated" }, added.uri);
    println!("callback signing key (shown once): {}", added.signing_key);
    Ok(added.signing_key)
}

/// `ucwa-server service-app list`.
pub async fn list_service_apps(store: &dyn Store) -> anyhow::Result<()> {
    for app in store.list_service_apps().await? {
        let domains = if app.domains.is_empty() { "-".to_owned() } else { app.domains.join(",") };
        println!("{}\t{}\t{}\t{domains}", app.uri, app.display_name, app.callback_url.as_deref().unwrap_or("-"));
    }
    Ok(())
}

/// `ucwa-server service-app failures`: conversations whose callbacks were given up on.
pub async fn list_callback_failures(store: &dyn Store) -> anyhow::Result<()> {
    for f in store.callback_failures().await? {
        println!(
            "{}\t{}\t{}\t{}\tattempts={}\tdropped={}\t{}",
            f.failed_ms, f.app_id, f.session_id, f.url, f.attempts, f.dropped, f.last_error
        );
    }
    Ok(())
}

/// Demo users for `--demo`: created only if absent, so a restart keeps their passwords.
const DEMO_USERS: &[(&str, &str, &str)] = &[
    ("sip:alice@example.com", "Alice Organizer", "alice-demo-password"),
    ("sip:bob@example.com", "Bob Attendee", "bob-demo-password"),
    ("sip:carol@example.com", "Carol Leader", "carol-demo-password"),
];

pub async fn ensure_demo_users(store: &dyn Store) -> anyhow::Result<()> {
    for (uri, name, password) in DEMO_USERS {
        if store.find_user(uri).await?.is_none() {
            admin::add_user(store, uri, name, (*password).to_owned()).await?;
        }
        println!("demo user {uri} password {password}");
    }
    Ok(())
}

/// `ucwa-server store copy --from URL --to URL [--into-non-empty]` (see
/// [`admin::copy_store`]); prints what it copied.
pub async fn copy_store(
    from: &dyn Store,
    to: &dyn Store,
    into_non_empty: bool,
    names: (&str, &str),
) -> anyhow::Result<()> {
    let copied = admin::copy_store(from, to, into_non_empty).await?;
    println!(
        "copied {} users, {} service applications, {} meetings from {} to {}",
        copied.users,
        copied.service_apps,
        copied.meetings,
        redact_url(names.0),
        redact_url(names.1)
    );
    if copied.publications > 0 {
        println!("with the published presence, note or location of {} users", copied.publications);
    }
    if copied.meetings_kept > 0 {
        println!("kept {} meetings the target had already", copied.meetings_kept);
    }
    if copied.nuls_removed > 0 {
        println!(
            "removed the NUL characters (U+0000) of {} notes or locations: no store keeps them any more",
            copied.nuls_removed
        );
    }
    Ok(())
}

/// A database URL fit for messages: the password of `scheme://user:password@host/...` is
/// replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((credentials, host)) if credentials.contains(':') => {
            let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
            format!("{scheme}://{user}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn passwords_are_left_out_of_database_urls() {
        assert_eq!(redact_url("postgres://ucwa:s3cret@db:5432/ucwa"), "postgres://ucwa:***@db:5432/ucwa");
        assert_eq!(
            redact_url("postgresql://ucwa:p@ss@db/ucwa?sslmode=require"),
            "postgresql://ucwa:***@db/ucwa?sslmode=require"
        );
        assert_eq!(redact_url("postgres://ucwa@db/ucwa"), "postgres://ucwa@db/ucwa");
        assert_eq!(redact_url("sqlite://ucwa-data/ucwa.db"), "sqlite://ucwa-data/ucwa.db");
    }
}
