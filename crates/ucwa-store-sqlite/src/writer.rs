//! The one connection that writes, on a thread of its own, with group commit.
//!
//! sqlx runs every SQLite statement as a round trip to the connection's worker thread: a
//! meeting save of a few statements was a dozen thread hand-offs, and under load ~40 % of
//! the server's CPU went to those hand-offs and their futex wake-ups (docs/BENCHMARKS.md).
//! Here a write is one closure sent to this thread, which runs it whole (rusqlite, prepared
//! statements cached) and answers once.
//!
//! Group commit: the thread takes every job that is waiting (up to [`GROUP_MAX`]) and runs
//! them in one `BEGIN IMMEDIATE ... COMMIT`, each inside its own savepoint, so a job that
//! fails rolls back alone while the others commit (a job alone needs no savepoint). Nobody hears back before the commit:
//! results (and so the doorbell rings the callers do next) are released only after the
//! group is durable, and a failed commit fails every job in it. Jobs run in arrival order,
//! so a later job sees what an earlier one wrote, as with separate transactions.
//!
//! Concurrency: callers wait on a `tokio::sync::oneshot`; the thread blocks on a
//! `std::sync::mpsc` queue (it never runs async code). SQLite has one writer anyway, so one
//! thread loses nothing, and readers (sqlx, WAL) never wait for it.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use ucwa_core::store::{StoreError, StoreResult};

/// Most jobs one commit takes: bounds how long the first job of a group waits for the
/// others to run.
const GROUP_MAX: usize = 64;

/// What the thread runs: the work (told whether it runs alone, i.e. without a savepoint),
/// which hands back whether it failed and how to answer once the commit is known.
type Job = Box<dyn FnOnce(&Connection, bool) -> (bool, Answer) + Send>;
type Answer = Box<dyn FnOnce(StoreResult<()>) + Send>;

enum Message {
    Write(Job),
    /// Copy the write-ahead log back and truncate it, outside any transaction.
    Checkpoint(tokio::sync::oneshot::Sender<()>),
}

pub(crate) struct Writer {
    jobs: mpsc::Sender<Message>,
}

/// A rusqlite error as a [`StoreError`]: what may pass ([`is_transient`]) is unavailable
/// (503, try again); anything else is a failure.
pub(crate) fn sql_error(e: rusqlite::Error) -> StoreError {
    if e.sqlite_error().is_some_and(|f| is_transient(f.extended_code)) {
        StoreError::Unavailable(e.to_string())
    } else {
        StoreError::Failed(e.to_string())
    }
}

/// Whether an SQLite result code (primary or extended) may pass: the database busy or locked
/// past the busy timeout (another process holds the write lock), or full (the disk, or the
/// file's size limit; the write was rolled back, and space may be freed). The PostgreSQL store
/// treats a full disk the same way.
pub(crate) fn is_transient(code: i32) -> bool {
    matches!(code & 0xff, rusqlite::ffi::SQLITE_BUSY | rusqlite::ffi::SQLITE_LOCKED | rusqlite::ffi::SQLITE_FULL)
}

/// The writer dropped a job: its transaction could not begin (the database stayed busy) or
/// the store is closing.
fn closed() -> StoreError {
    StoreError::Unavailable("the database writer could not run the write (see the log)".into())
}

impl Writer {
    /// Opens the database file (already created and migrated) for writing and starts the
    /// thread.
    pub(crate) fn open(path: &Path) -> StoreResult<Self> {
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(sql_error)?;
        conn.busy_timeout(Duration::from_secs(10)).map_err(sql_error)?;
        // Per-connection settings, as `SqliteStore::open` sets them for the readers: WAL,
        // durable across application crashes (NORMAL), checkpoints in the background only,
        // and foreign keys. The page cache is larger than the 2 MB default: a fan-out to a
        // thousand applications touches as many pages of the events and applications tables.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;
             PRAGMA foreign_keys = ON; PRAGMA cache_size = -32768;",
        )
        .map_err(sql_error)?;
        conn.set_prepared_statement_cache_capacity(128);
        let (jobs, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || serve(conn, queue))
            .map_err(|e| StoreError::Failed(format!("cannot start the database writer: {e}")))?;
        Ok(Self { jobs })
    }

    /// Runs `work` in a write transaction and returns its result once that has committed.
    /// An `Err` from `work` rolls back what it wrote (and only that).
    pub(crate) async fn run<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn, alone| {
            let out = if alone { work(conn) } else { in_savepoint(conn, work) };
            let failed = out.is_err();
            let answer: Answer = Box::new(move |commit: StoreResult<()>| {
                let _ = answer.send(commit.and(out));
            });
            (failed, answer)
        });
        self.jobs.send(Message::Write(job)).map_err(|_| closed())?;
        result.await.map_err(|_| closed())?
    }

    /// Copies the whole write-ahead log back into the database and truncates it, after the
    /// writes queued before it (on close: leaves a compact file behind).
    pub(crate) async fn checkpoint(&self) -> StoreResult<()> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.jobs.send(Message::Checkpoint(done)).map_err(|_| closed())?;
        result.await.map_err(|_| closed())
    }
}

/// Runs `work` inside a savepoint: released on success, rolled back on error.
fn in_savepoint<T>(conn: &Connection, work: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
    let step = |sql: &str| conn.prepare_cached(sql).and_then(|mut s| s.execute([])).map_err(sql_error);
    step("SAVEPOINT job")?;
    let out = work(conn);
    if out.is_err() {
        step("ROLLBACK TO job")?;
    }
    step("RELEASE job")?;
    out
}

/// The thread: one group of jobs per commit, until every sender is gone.
fn serve(conn: Connection, queue: mpsc::Receiver<Message>) {
    let mut next = queue.recv().ok();
    while let Some(message) = next.take() {
        let first = match message {
            Message::Write(job) => job,
            Message::Checkpoint(done) => {
                if let Err(e) = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)") {
                    tracing::warn!(error = %e, "WAL checkpoint failed");
                }
                let _ = done.send(());
                next = queue.recv().ok();
                continue;
            }
        };
        let mut group = vec![first];
        while group.len() < GROUP_MAX {
            match queue.try_recv() {
                Ok(Message::Write(job)) => group.push(job),
                Ok(checkpoint) => {
                    // After this group.
                    next = Some(checkpoint);
                    break;
                }
                Err(_) => break,
            }
        }
        commit_group(&conn, group);
        if next.is_none() {
            next = queue.recv().ok();
        }
    }
}

/// Runs `group` in one transaction and answers every job once the commit is known. A job
/// alone runs without a savepoint (SQLite copies every page a savepoint touches to a
/// sub-journal, a large share of a big fan-out's cost) and its error rolls the transaction
/// back; in a group, each job has its savepoint and the group commits.
fn commit_group(conn: &Connection, group: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        // None ran; dropping a job drops its answer, which its caller sees as an error.
        tracing::warn!(error = %e, jobs = group.len(), "a write transaction could not start");
        return;
    }
    let alone = group.len() == 1;
    let mut failed = false;
    let mut answers: Vec<Answer> = Vec::with_capacity(group.len());
    for job in group {
        let (job_failed, answer) = job(conn, alone);
        failed |= job_failed;
        answers.push(answer);
    }
    let end = if alone && failed { "ROLLBACK" } else { "COMMIT" };
    let commit = conn.execute_batch(end).map_err(sql_error);
    if commit.is_err() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for answer in answers {
        answer(commit.clone());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code: a failed unwrap is a failed test")]

    use super::*;

    /// A database another process keeps locked is unavailable (503, try again); a statement
    /// the database rejects is a failure (500).
    #[test]
    fn a_locked_database_is_unavailable_and_a_rejected_statement_a_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("locked.db");
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (x); BEGIN IMMEDIATE").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(Duration::ZERO).unwrap();

        let locked = other.execute_batch("BEGIN IMMEDIATE").map_err(sql_error);
        assert!(matches!(locked, Err(StoreError::Unavailable(_))), "{locked:?}");
        let rejected = other.execute_batch("INSERT INTO missing VALUES (1)").map_err(sql_error);
        assert!(matches!(rejected, Err(StoreError::Failed(_))), "{rejected:?}");
    }

    /// A full database (here the file's page limit; a full disk gives the same error) is
    /// unavailable, and what was stored before is intact.
    #[test]
    fn a_full_database_is_unavailable_and_keeps_what_it_had() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("full.db")).unwrap();
        conn.execute_batch("CREATE TABLE t (x BLOB); INSERT INTO t VALUES (zeroblob(100))").unwrap();
        let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0)).unwrap();
        conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 2)).unwrap();
        let full = conn.execute_batch("INSERT INTO t VALUES (zeroblob(1000000))").map_err(sql_error);
        assert!(matches!(full, Err(StoreError::Unavailable(_))), "{full:?}");
        let rows: i64 = conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
    }
}
