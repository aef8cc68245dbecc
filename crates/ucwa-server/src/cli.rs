//! The administrative subcommands (`user add`, `user list`) and `--demo` users.

use std::io::BufRead;

use anyhow::{Context, bail};
use ucwa_core::Store;
use ucwa_core::model::User;

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
