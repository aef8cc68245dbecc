//! What the administrative command line does (`ucwa-server user add|passwd|revoke`,
//! `service-app add`, `store copy`): validation, hashing and storing, with errors worded for a
//! person at a terminal. Changing a user's password or an endpoint's secret revokes its tokens.

use std::collections::BTreeMap;

use ucwa_core::clock::{Clock, SystemClock};
use ucwa_core::meeting::{Meeting, MeetingKind};
use ucwa_core::model::{MeetingRecord, Principal, Publication, PublicationChange, User};
use ucwa_core::service::{ServiceApp, domain_of, mint_signing_key};
use ucwa_core::store::{Store, StoreError};

use crate::callbacks::valid_callback_url;
use crate::tokens::hash_password;
use crate::validate::normalize_sip_uri;

/// A refused administrative request, or a failure to carry it out.
#[derive(Debug)]
pub struct AdminError(pub String);

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AdminError {}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError(e.to_string())
    }
}

fn refuse<T>(message: impl Into<String>) -> Result<T, AdminError> {
    Err(AdminError(message.into()))
}

/// A display name: 1 to 250 printable characters, trimmed.
fn checked_name(name: &str) -> Result<&str, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 250 || name.chars().any(char::is_control) {
        return refuse("the name must be 1 to 250 printable characters");
    }
    Ok(name)
}

/// Hashes a secret off the async runtime (argon2 is deliberately slow).
async fn hashed(secret: String) -> Result<String, AdminError> {
    tokio::task::spawn_blocking(move || hash_password(&secret))
        .await
        .map_err(|e| AdminError(e.to_string()))?
        .map_err(|e| AdminError(e.to_string()))
}

fn user_uri(sip_uri: &str) -> Result<String, AdminError> {
    normalize_sip_uri(sip_uri)
        .ok_or_else(|| AdminError(format!("{sip_uri:?} is not a SIP URI like sip:alice@example.com")))
}

/// Adds a user or updates its name and password; returns the stored URI and whether it is
/// new. Updating an existing user revokes its tokens (the password may have changed).
pub async fn add_user(
    store: &dyn Store,
    sip_uri: &str,
    name: &str,
    password: String,
) -> Result<(String, bool), AdminError> {
    let uri = user_uri(sip_uri)?;
    if password.is_empty() {
        return refuse("no password on standard input");
    }
    let name = checked_name(name)?;
    let password_hash = hashed(password).await?;
    let user = User { uri: uri.clone(), display_name: name.to_owned(), password_hash };
    let created = store.upsert_user(&user).await?;
    if !created {
        store.revoke_tokens(&Principal::User { uri: uri.clone() }).await?;
    }
    Ok((uri, created))
}

/// `user passwd`: replaces an existing user's password and revokes its tokens; returns how
/// many were revoked.
pub async fn set_password(store: &dyn Store, sip_uri: &str, password: String) -> Result<u64, AdminError> {
    let uri = user_uri(sip_uri)?;
    if password.is_empty() {
        return refuse("no password on standard input");
    }
    let Some(user) = store.find_user(&uri).await? else {
        return refuse(format!("no user {uri}: add it with `user add`"));
    };
    let password_hash = hashed(password).await?;
    store.upsert_user(&User { password_hash, ..user }).await?;
    Ok(store.revoke_tokens(&Principal::User { uri }).await?)
}

/// `user revoke`: ends every session of a user (its tokens stop working within the token
/// cache's freshness period); returns how many tokens were revoked.
pub async fn revoke_user(store: &dyn Store, sip_uri: &str) -> Result<u64, AdminError> {
    let uri = user_uri(sip_uri)?;
    if store.find_user(&uri).await?.is_none() {
        return refuse(format!("no user {uri}"));
    }
    Ok(store.revoke_tokens(&Principal::User { uri }).await?)
}

/// What `service-app add` stored.
pub struct AddedServiceApp {
    pub uri: String,
    pub created: bool,
    /// The callback signing key, shown once (adding the endpoint again rotates it).
    pub signing_key: String,
}

/// Registers a service application endpoint (or replaces its name, secret, callback URL,
/// signing key and the domains besides its own it may act in).
pub async fn add_service_app(
    store: &dyn Store,
    sip_uri: &str,
    name: &str,
    callback_url: Option<&str>,
    domains: &[String],
    secret: String,
    now_ms: i64,
) -> Result<AddedServiceApp, AdminError> {
    let Some(uri) = normalize_sip_uri(sip_uri) else {
        return refuse(format!("{sip_uri:?} is not a SIP URI like sip:helpdesk@example.com"));
    };
    if secret.len() < 16 {
        return refuse("the secret on standard input must be at least 16 characters");
    }
    let name = checked_name(name)?;
    if callback_url.is_some_and(|url| !valid_callback_url(url)) {
        return refuse("--callback-url must be an absolute http(s) URL of at most 1024 characters");
    }
    let mut checked_domains = Vec::new();
    for domain in domains {
        let Some(uri) = normalize_sip_uri(&format!("x@{domain}")) else {
            return refuse(format!("--domain {domain:?} is not a SIP domain like example.com"));
        };
        checked_domains.push(domain_of(&uri));
    }
    let signing_key = mint_signing_key();
    let app = ServiceApp {
        uri: uri.clone(),
        display_name: name.to_owned(),
        secret_hash: hashed(secret).await?,
        signing_key: signing_key.clone(),
        callback_url: callback_url.map(str::to_owned),
        created_ms: now_ms,
        domains: checked_domains,
    };
    let created = store.upsert_service_app(&app).await?;
    if !created {
        // The secret may have changed: the tokens signed in with the old one end.
        store.revoke_tokens(&Principal::Service { uri: uri.clone() }).await?;
    }
    Ok(AddedServiceApp { uri, created, signing_key })
}

/// What [`copy_store`] copied.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    pub users: usize,
    /// Users whose published presence, note or location was copied with them.
    pub publications: usize,
    pub service_apps: usize,
    pub meetings: usize,
    /// Meetings the target had already (`--into-non-empty`), left as they were.
    pub meetings_kept: usize,
    /// Notes and locations that held a NUL (U+0000), copied without it: the server has refused
    /// one since it learned that PostgreSQL cannot keep one, but an older database may hold it.
    pub nuls_removed: usize,
}

/// Copies what `uri` published, field by field (a field never set is left as the target has
/// it), counting in `copied` the user and each note or location it had to remove a NUL from.
/// No events: nobody is signed in to the target yet.
async fn copy_publication(from: &dyn Store, to: &dyn Store, uri: &str, copied: &mut Copied) -> Result<(), AdminError> {
    let Publication { availability, note, location } = from.publication(uri).await?;
    let mut without_nul = |text: String| {
        if text.contains('\0') {
            copied.nuls_removed += 1;
            text.replace('\0', "")
        } else {
            text
        }
    };
    let note = note.map(&mut without_nul);
    let location = location.map(&mut without_nul);
    let changes: Vec<PublicationChange> = [
        availability.map(|v| PublicationChange::Availability(Some(v))),
        note.map(|v| PublicationChange::Note(Some(v))),
        location.map(|v| PublicationChange::Location(Some(v))),
    ]
    .into_iter()
    .flatten()
    .collect();
    let now_ms = SystemClock.now_ms();
    for change in &changes {
        to.publish(uri, change, Vec::new(), now_ms).await?;
    }
    if !changes.is_empty() {
        copied.publications += 1;
    }
    Ok(())
}

/// Meetings read per page while copying.
const COPY_PAGE: u32 = 500;

/// `ucwa-server store copy`: moves an install to
/// another database (typically from the embedded SQLite file to PostgreSQL). Copies what
/// outlives a sign-in: users with their password hashes and what they published (the
/// availability they chose, their note and location), service applications with their
/// secret hashes, signing keys and callback URLs, and meetings (conferences: scheduled and
/// ad hoc) with their settings, join URLs, ETags and versions. Not copied: tokens and
/// applications (clients sign in again), their presence subscriptions, event logs and
/// callback outboxes, two-party conversations, and who is in a meeting right now (copy with
/// the server stopped; a meeting arrives empty, as after everyone left).
///
/// Refuses a target that holds any user, service application or meeting unless
/// `into_non_empty`: then the source's users and service applications replace those of the
/// same URI, and meetings the target has already are kept as they are.
pub async fn copy_store(from: &dyn Store, to: &dyn Store, into_non_empty: bool) -> Result<Copied, AdminError> {
    if !into_non_empty
        && (!to.list_users().await?.is_empty()
            || !to.list_service_apps().await?.is_empty()
            || !to.meetings_after("", 1).await?.is_empty())
    {
        return refuse(
            "the target database is not empty; pass --into-non-empty to merge into it (users and service \
             applications from the source replace those of the same URI, meetings already there are kept)",
        );
    }
    let mut copied = Copied::default();
    for user in from.list_users().await? {
        to.upsert_user(&user).await?;
        copied.users += 1;
        copy_publication(from, to, &user.uri, &mut copied).await?;
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
            // Notices still pending were for the sessions left behind.
            to.insert_meeting(&MeetingRecord { meeting: empty, pending: Vec::new(), ..record }).await?;
            copied.meetings += 1;
        }
    }
    Ok(copied)
}
