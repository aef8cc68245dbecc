//! What opening a database written by an earlier release does to its rows.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use sqlx::{Connection, SqliteConnection};
use ucwa_core::Store;
use ucwa_core::model::User;
use ucwa_store_sqlite::SqliteStore;

/// Users stored before user search had its folded keys (migration 0015 adds them empty) get
/// them when the store opens, so search finds them as it finds everyone else.
#[tokio::test]
async fn users_stored_before_search_keys_are_found_after_the_store_opens() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("ucwa.db").display());
    let store = SqliteStore::open(&url).await.unwrap();
    let emile =
        User { uri: "sip:emile@example.com".into(), display_name: "Émile Zola".into(), password_hash: "x".into() };
    store.upsert_user(&emile).await.unwrap();
    store.close().await;
    // As an earlier release left the row: no keys.
    let mut db = SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("UPDATE users SET name_key = NULL, uri_key = NULL").execute(&mut db).await.unwrap();
    db.close().await.unwrap();

    let store = SqliteStore::open(&url).await.unwrap();
    let found = store.search_users("ÉMILE", 10).await.unwrap();
    assert_eq!(found, [emile]);
    store.close().await;
}
