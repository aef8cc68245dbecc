//! Connections for the hot point reads, which run on the calling thread.
//!
//! Every poll reads its events, every conversation request locates its session, every join
//! reads its meeting. Through sqlx each of those statements was a round trip to a
//! connection's own thread, two futex wake-ups at least, and together with the writes that
//! hand-off was most of the server's CPU under load (docs/BENCHMARKS.md). These reads are
//! lookups through a primary key or index of a database that sits in the page cache: they
//! take microseconds, less than the hand-off, and in WAL mode a reader never waits for the
//! writer. So they run inline on the async task's thread, each on a connection taken from a
//! small free list (a `std` mutex held only to push or pop). Reads that scan (listings,
//! housekeeping, retention) stay on the sqlx reader pool.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use ucwa_core::store::StoreResult;

use crate::writer::sql_error;

/// Idle connections kept: one per thread that may read at once (the runtime's workers and a
/// few blocking threads), more than a 2-core server uses.
const KEEP_IDLE: usize = 8;

pub struct Reads {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl Reads {
    pub fn new(path: PathBuf) -> Self {
        Self { path, idle: Mutex::new(Vec::new()) }
    }

    fn open(&self) -> StoreResult<Connection> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&self.path, flags).map_err(sql_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql_error)?;
        conn.set_prepared_statement_cache_capacity(32);
        Ok(conn)
    }

    /// Runs `read` on an idle connection (opening one if none is free).
    pub fn with<T>(&self, read: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => self.open()?,
        };
        let out = read(&conn);
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < KEEP_IDLE {
            idle.push(conn);
        }
        out
    }
}
