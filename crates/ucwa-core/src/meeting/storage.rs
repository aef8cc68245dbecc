//! What a store derives from a meeting when it saves one, computed here once so that every
//! backend writes the same rows: which sessions a command changed, and from when a meeting
//! counts as finished (the retention clock).

use std::sync::Arc;

use super::session::{ConversationState, Session, SessionId};
use super::{Meeting, MeetingKind};

/// The session rows a save must write: what changed between the stored meeting and the
/// one being saved.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SessionChanges<'a> {
    /// Sessions that are new or differ from their stored copy, in id order.
    pub written: Vec<(&'a SessionId, &'a Session)>,
    /// Sessions the stored meeting had and this one forgot, in id order.
    pub removed: Vec<&'a SessionId>,
}

impl Session {
    /// Not yet disconnected: the application is still in the conversation (ringing, in the
    /// lobby or in it). Stores index live sessions per application.
    pub fn is_live(&self) -> bool {
        self.state != ConversationState::Disconnected
    }
}

impl Meeting {
    /// The sessions to write when this meeting replaces `before`. Sessions a command did not
    /// touch still share their allocation with `before` (copy-on-write), so most are skipped
    /// by a pointer comparison; equal copies are skipped too.
    pub fn session_changes<'a>(&'a self, before: &'a Meeting) -> SessionChanges<'a> {
        let written = self
            .sessions
            .iter()
            .filter(|(id, session)| {
                !before.sessions.get(*id).is_some_and(|old| Arc::ptr_eq(old, session) || old == *session)
            })
            .map(|(id, session)| (id, &**session))
            .collect();
        let removed = before.sessions.keys().filter(|id| !self.sessions.contains_key(*id)).collect();
        SessionChanges { written, removed }
    }

    /// From when this meeting is finished if nothing changes any more, saved at `now_ms`;
    /// `None` while any session is live. A store deletes a meeting once this instant is
    /// older than the retention period.
    ///
    /// - A two-party conversation nobody is in any more is finished: it has no URI, so
    ///   nobody can come back to it.
    /// - A meeting that was ended (`Command::End`) is finished.
    /// - Any other meeting (scheduled, ad hoc, or an escalated two-party conversation)
    ///   stays joinable by its URI until its expiration: it is finished from the later of
    ///   its expiration and the moment the last session left.
    pub fn finished_at(&self, now_ms: i64) -> Option<i64> {
        if self.sessions.values().any(|s| s.is_live()) {
            return None;
        }
        if self.ended || self.kind == MeetingKind::TwoParty {
            return Some(now_ms);
        }
        Some(now_ms.max(self.settings.expiration_ms))
    }
}

#[cfg(test)]
mod tests {
    use crate::meeting::fixtures::*;
    use crate::meeting::*;

    fn written<'a>(changes: &SessionChanges<'a>) -> Vec<&'a str> {
        changes.written.iter().map(|(id, _)| id.as_str()).collect()
    }

    #[test]
    fn unchanged_sessions_are_not_written() {
        let mut before = meeting(AccessLevel::Everyone);
        before.handle(join_cmd("org", user(ORGANIZER)), 0).unwrap();
        before.handle(join_cmd("lead", user(LEADER)), 0).unwrap();
        let mut after = before.clone();
        assert_eq!(after.session_changes(&before), SessionChanges::default());
        // A new joiner is written; the two who only saw it join are not rewritten unless
        // the command changed their state.
        after.handle(join_cmd("col", user(COLLEAGUE)), 0).unwrap();
        let changes = after.session_changes(&before);
        assert_eq!(written(&changes), ["col"]);
        assert!(changes.removed.is_empty());
    }

    #[test]
    fn an_equal_copy_is_not_written_but_a_changed_one_is() {
        let mut before = meeting(AccessLevel::Locked);
        before.handle(join_cmd("org", user(ORGANIZER)), 0).unwrap();
        before.handle(join_cmd("guest", user(OUTSIDER)), 0).unwrap();
        // A deep copy (as a store reads it back) shares no pointers but is equal.
        let copy: Meeting = serde_json::from_str(&serde_json::to_string(&before).unwrap()).unwrap();
        assert_eq!(copy.session_changes(&before), SessionChanges::default());
        let mut after = copy.clone();
        after.handle(admit("org", "guest"), 1).unwrap();
        assert_eq!(written(&after.session_changes(&before)), ["guest"], "admitting rewrites the admitted session only");
    }

    #[test]
    fn forgotten_sessions_are_removed() {
        let mut before = meeting(AccessLevel::Everyone);
        before.handle(join_cmd("org", user(ORGANIZER)), 0).unwrap();
        before.handle(join_cmd("col", user(COLLEAGUE)), 0).unwrap();
        let mut after = before.clone();
        after.handle(Command::Leave { session: "col".into() }, 1).unwrap();
        after.handle(Command::Forget { session: "col".into() }, 1).unwrap();
        let changes = after.session_changes(&before);
        assert_eq!(changes.removed, [&"col".to_owned()]);
    }

    #[test]
    fn a_meeting_is_finished_once_nobody_is_in_it_and_it_cannot_be_joined() {
        let mut m = meeting(AccessLevel::Everyone);
        // Empty and not expired: finished at its expiration.
        assert_eq!(m.finished_at(5), Some(EXPIRES));
        m.handle(join_cmd("org", user(ORGANIZER)), 0).unwrap();
        assert_eq!(m.finished_at(5), None, "someone is in it");
        m.handle(Command::Leave { session: "org".into() }, 6).unwrap();
        assert_eq!(m.finished_at(7), Some(EXPIRES), "a disconnected session does not keep it");
        assert_eq!(m.finished_at(EXPIRES + 9), Some(EXPIRES + 9), "left after its expiration");
        m.handle(Command::End, 8).unwrap();
        assert_eq!(m.finished_at(8), Some(8), "an ended meeting is finished at once");
    }

    #[test]
    fn a_two_party_conversation_is_finished_when_nobody_is_left() {
        let mut m = Meeting::two_party("c1", settings(AccessLevel::Everyone));
        assert_eq!(m.finished_at(3), Some(3));
        let invitation = InvitationRequest {
            kind: InvitationKind::Messaging,
            to: Some(COLLEAGUE.to_owned()),
            ..InvitationRequest::outgoing("s0")
        };
        let callee = Invitee { session_id: "c0".into(), app_id: "app-c0".into(), identity: user(COLLEAGUE) };
        let call = Call {
            session_id: "s0".into(),
            app_id: "app0".into(),
            identity: user(ORGANIZER),
            invitation,
            invitees: vec![callee],
            answer_timeout_ms: 30_000,
        };
        m.handle(Command::Call(Box::new(call)), 0).unwrap();
        assert_eq!(m.finished_at(3), None, "the caller waits and the callee rings");
        m.handle(Command::Leave { session: "s0".into() }, 4).unwrap();
        assert!(m.sessions().values().all(|s| !s.is_live()), "hanging up withdraws the ringing invitation");
        assert_eq!(m.finished_at(5), Some(5), "finished as soon as nobody is left, whatever its expiration");
    }
}
