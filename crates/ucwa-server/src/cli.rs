//! The administrative subcommands (`user add`, `user list`, `service-app add|list|failures`,
//! `store copy`) and `--demo` users.

use std::collections::BTreeMap;
use std::io::BufRead;

use anyhow::{Context, bail};
use ucwa_core::Store;
use ucwa_core::meeting::{Meeting, MeetingKind};
use ucwa_core::model::{MeetingRecord, User};
use ucwa_core::service::{ServiceApp, mint_signing_key};

use crate::auth::{hash_password, normalize_sip_uri};

/// `ucwa-server user add SIP_URI --name NAME --password-stdin`.
pub async fn add_user(store: &dyn Store, sip_uri: &str, name: &str, input: impl BufRead) -> anyhow::Result<()> {
    let uri = normalize_sip_uri(sip_uri)
        .with_context(|| format!("{sip_uri:?} is not a SIP URI like sip:alice@example.com"))?;
    let password = input.lines().next().transpose()?.unwrap_or_default();
    if password.is_empty() {
        bail!("no password on standard input");
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 250 || name.chars().any(char::is_control) {
        bail!("the name must be 1 to 250 printable characters");
    }
    let hash =
        tokio::task::spawn_blocking(move || hash_password(&password)).await?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let created =
        store.upsert_user(&User { uri: uri.clone(), display_name: name.to_owned(), password_hash: hash }).await?;
    println!("{} {uri}", if created { "added" } else { "updated" });
    Ok(())
}

/// `ucwa-server user list`.
pub async fn list_users(store: &dyn Store) -> anyhow::Result<()> {
    for user in store.list_users().await? {
        println!("{}\t{}", user.uri, user.display_name);
    }
    Ok(())
}

/// `ucwa-server service-app add SIP_URI --name NAME --secret-stdin [--callback-url URL]`.
/// Prints the endpoint's new callback signing key: it is shown only here (re-adding the
/// endpoint rotates it).
pub async fn add_service_app(
    store: &dyn Store,
    sip_uri: &str,
    name: &str,
    callback_url: Option<&str>,
    input: impl BufRead,
) -> anyhow::Result<String> {
    let uri = normalize_sip_uri(sip_uri)
        .with_context(|| format!("{sip_uri:?} is not a SIP URI like sip:helpdesk@example.com"))?;
    let secret = input.lines().next().transpose()?.unwrap_or_default();
    if secret.len() < 16 {
        bail!("the secret on standard input must be at least 16 characters");
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 250 || name.chars().any(char::is_control) {
        bail!("the name must be 1 to 250 printable characters");
    }
    if let Some(url) = callback_url
        && !crate::callbacks::valid_callback_url(url)
    {
        bail!("--callback-url must be an absolute http(s) URL of at most 1024 characters");
    }
    let hash =
        tokio::task::spawn_blocking(move || hash_password(&secret)).await?.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let signing_key = mint_signing_key();
    let app = ServiceApp {
        uri: uri.clone(),
        display_name: name.to_owned(),
        secret_hash: hash,
        signing_key: signing_key.clone(),
        callback_url: callback_url.map(str::to_owned),
        created_ms: crate::state::now_ms(),
    };
    let created = store.upsert_service_app(&app).await?;
    println!("{} {uri}", if created { "added" } else { "updated" });
    println!("callback signing key (shown once): {signing_key}");
    Ok(signing_key)
}

/// `ucwa-server service-app list`.
pub async fn list_service_apps(store: &dyn Store) -> anyhow::Result<()> {
    for app in store.list_service_apps().await? {
        println!("{}\t{}\t{}", app.uri, app.display_name, app.callback_url.as_deref().unwrap_or("-"));
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
            let password = password.to_string();
            let hash = tokio::task::spawn_blocking(move || hash_password(&password))
                .await?
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            store
                .upsert_user(&User { uri: (*uri).to_owned(), display_name: (*name).to_owned(), password_hash: hash })
                .await?;
        }
        println!("demo user {uri} password {password}");
    }
    Ok(())
}

/// What [`copy_store`] copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub users: usize,
    pub service_apps: usize,
    pub meetings: usize,
    /// Meetings the target had already (`--into-non-empty`), left as they were.
    pub meetings_kept: usize,
}

/// Meetings read per page while copying.
const COPY_PAGE: u32 = 500;

/// `ucwa-server store copy --from URL --to URL [--into-non-empty]`: moves an install to
/// another database (typically from the embedded SQLite file to PostgreSQL). Copies what
/// outlives a sign-in: users with their password hashes, service applications with their
/// secret hashes, signing keys and callback URLs, and meetings (conferences: scheduled and
/// ad hoc) with their settings, join URLs, ETags and versions. Not copied: tokens and
/// applications (clients sign in again), their event logs and callback outboxes, two-party
/// conversations, and who is in a meeting right now (copy with the server stopped; a meeting
/// arrives empty, as after everyone left).
///
/// Refuses a target that holds any user, service application or meeting unless
/// `into_non_empty`: then the source's users and service applications replace those of the
/// same URI, and meetings the target has already are kept as they are.
pub async fn copy_store(from: &dyn Store, to: &dyn Store, into_non_empty: bool) -> anyhow::Result<Copied> {
    if !into_non_empty
        && (!to.list_users().await?.is_empty()
            || !to.list_service_apps().await?.is_empty()
            || !to.meetings_after("", 1).await?.is_empty())
    {
        bail!(
            "the target database is not empty; pass --into-non-empty to merge into it (users and service \
             applications from the source replace those of the same URI, meetings already there are kept)"
        );
    }
    let mut copied = Copied::default();
    for user in from.list_users().await? {
        to.upsert_user(&user).await?;
        copied.users += 1;
    }
    for app in from.list_service_apps().await? {
        to.upsert_service_app(&app).await?;
        copied.service_apps += 1;
    }
    let mut after = String::new();
    loop {
        let page = from.meetings_after(&after, COPY_PAGE).await?;
        let Some(last) = page.last() else { break };
        after = last.meeting.id().to_owned();
        for record in page {
            let m = &record.meeting;
            if m.kind() != MeetingKind::Conference {
                continue;
            }
            if into_non_empty && to.meeting_version(m.id()).await?.is_some() {
                copied.meetings_kept += 1;
                continue;
            }
            let empty = Meeting::restore(m.id(), m.settings().clone(), BTreeMap::new(), m.is_ended(), m.version())
                .with_kind(m.kind());
            to.insert_meeting(&MeetingRecord { meeting: empty, ..record }).await?;
            copied.meetings += 1;
        }
    }
    Ok(copied)
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
