//! The store conformance suite (`ucwa-store-conformance`) on a real SQLite file per case.

use std::sync::Arc;

use ucwa_store_conformance::Subject;
use ucwa_store_sqlite::SqliteStore;

async fn open() -> Option<Subject> {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let url = format!("sqlite://{}", dir.path().join("conformance.db").display());
    let store = SqliteStore::open(&url).await.expect("open the database");
    Some(Subject::new(Arc::new(store), dir))
}

ucwa_store_conformance::store_conformance!(open);
