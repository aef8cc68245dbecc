-- Person-to-person conversations are meeting aggregates of kind 'TwoParty' (they become
-- 'Conference' when escalated by addParticipant); they are nobody's myOnlineMeetings.
ALTER TABLE meetings ADD COLUMN kind TEXT NOT NULL DEFAULT 'Conference';
