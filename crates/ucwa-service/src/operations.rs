//! Idempotent retries (issue 11, "Idempotent retries"): a repeated `POST
//! onlineMeetingInvitations` (a join), `startMessaging` or `addParticipant` with the same
//! `operationId` from the same application returns the operation the first request started
//! (the same Location) instead of starting a second one, so a client that lost the answer
//! can retry safely.
//!
//! Where the ids are remembered: with the operation itself. A join or `startMessaging`
//! starts a session whose invitation carries the `operationId`; the store indexes it
//! ([`Store::find_operation`](ucwa_core::Store::find_operation)), so it survives restarts
//! and is found for as long as the session is stored (until its conversation ends and is
//! forgotten, or retention purges the meeting). An `addParticipant` is a participant
//! invitation kept in the inviter's session, found there by the meeting engine, which runs
//! one command at a time per meeting.
//!
//! # Concurrency
//! Two copies of one join can arrive together (a client retrying on a short timeout): the
//! look-up and the start run under a per-application lock ([`OperationLocks`]), so the
//! second waits and then finds the first. The lock is per node. Between nodes the store is
//! the arbiter: it keeps one session per application and `operationId` and refuses to save a
//! second ([`StoreError::Conflict`](ucwa_core::store::StoreError::Conflict)); the node that
//! lost the race then finds the winner's session and answers with it
//! (`Services::settle_operation`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use ucwa_core::meeting::InvitationKind;
use ucwa_core::model::Application;

use crate::Services;
use crate::error::{ServiceError, ServiceResult};

/// One async lock per application, held while an operation with an `operationId` is looked
/// up and started. Entries go away when their last holder does.
#[derive(Default)]
pub struct OperationLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

/// Holds an application's operation lock.
pub struct OperationGuard<'a> {
    locks: &'a OperationLocks,
    key: String,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for OperationGuard<'_> {
    fn drop(&mut self) {
        self.guard.take();
        let mut locks = self.locks.locks.lock().unwrap_or_else(|p| p.into_inner());
        if locks.get(&self.key).is_some_and(|l| Arc::strong_count(l) == 1) {
            locks.remove(&self.key);
        }
    }
}

impl OperationLocks {
    pub async fn lock(&self, app_id: &str) -> OperationGuard<'_> {
        let lock = {
            let mut locks = self.locks.lock().unwrap_or_else(|p| p.into_inner());
            locks.entry(app_id.to_owned()).or_default().clone()
        };
        let guard = lock.lock_owned().await;
        OperationGuard { locks: self, key: app_id.to_owned(), guard: Some(guard) }
    }
}

impl Services {
    /// Takes `app`'s operation lock when the request names an `operationId`.
    pub(crate) async fn operation_lock(
        &self,
        app: &Application,
        operation_id: Option<&str>,
    ) -> Option<OperationGuard<'_>> {
        match operation_id {
            Some(_) => Some(self.operation_locks.lock(&app.id).await),
            None => None,
        }
    }

    /// The session `app` started with `operation_id`, if any: a retry. An `operationId` used
    /// for an operation of another kind is a conflict.
    pub(crate) async fn started_operation(
        &self,
        app: &Application,
        operation_id: Option<&str>,
        kind: InvitationKind,
    ) -> ServiceResult<Option<String>> {
        let Some(operation_id) = operation_id else { return Ok(None) };
        let Some(location) = self.store.find_operation(&app.id, operation_id).await? else { return Ok(None) };
        let same_kind = self
            .view_meeting(&location.meeting_id, &location.session_id, |v| Ok(v.session.invitation.kind == kind))
            .await
            .unwrap_or(false);
        if !same_kind {
            return Err(ServiceError::conflict("This operationId belongs to another operation of this application."));
        }
        Ok(Some(location.session_id))
    }

    /// The answer to a request that tried to start the operation `operation_id` of `app` as
    /// the session `session_id`: that session when `started` succeeded; when it failed and
    /// the application has a session for this `operationId` now, that one (another node
    /// started the same operation at the same moment and the store refused the second,
    /// see the module documentation); otherwise the failure.
    pub(crate) async fn settle_operation(
        &self,
        app: &Application,
        operation_id: Option<&str>,
        kind: InvitationKind,
        session_id: String,
        started: ServiceResult<()>,
    ) -> ServiceResult<String> {
        let Err(failure) = started else { return Ok(session_id) };
        match self.started_operation(app, operation_id, kind).await {
            Ok(Some(first)) => Ok(first),
            _ => Err(failure),
        }
    }
}
