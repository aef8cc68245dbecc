//! The store conformance suite (`ucwa-store-conformance`) on PostgreSQL: each case in a
//! database of its own on the server of `UCWA_TEST_POSTGRES_URL` (skipped with a notice
//! without it, outside CI).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "test code: a failed unwrap is a failed test")]

use std::sync::Arc;

use ucwa_store_conformance::Subject;
use ucwa_store_postgres::PostgresStore;
use ucwa_store_postgres::scratch::ScratchDatabase;

async fn open() -> Option<Subject> {
    let db = ScratchDatabase::create("a store conformance case").await.expect("a test database")?;
    let store = PostgresStore::open(db.url()).await.expect("open the database");
    Some(Subject::new(Arc::new(store), db))
}

ucwa_store_conformance::store_conformance!(open);
