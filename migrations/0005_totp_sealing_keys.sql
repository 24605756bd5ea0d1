-- Which key of TOTP_ENCRYPTION_KEYS seals each identity's TOTP secrets, so that the count of
-- secrets under each key (GET /v1/admin/keys/totp) comes from D1 alone. One column per sealed
-- secret the identity object holds: the active one and the one pending confirmation. Each is
-- the key id of the seal, NULL when there is no such secret, or '?' (never a key id) when D1
-- does not know it. The identity object writes both, absolutely, through its outbox whenever
-- a secret is sealed, re-sealed, confirmed or replaced.
ALTER TABLE identities ADD COLUMN totp_key_id TEXT;
ALTER TABLE identities ADD COLUMN totp_pending_key_id TEXT;
CREATE INDEX IF NOT EXISTS identities_totp_key ON identities (totp_key_id) WHERE totp_key_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS identities_totp_pending_key ON identities (totp_pending_key_id) WHERE totp_pending_key_id IS NOT NULL;

-- Identities that enrolled before this migration: D1 does not know their keys yet ('?'), and
-- the sweep (POST /v1/admin/keys/totp/sweep) visits them so that it learns them. An identity
-- with an enrolment event has a secret (none is ever removed), so once its object has written
-- its keys they are never both NULL, and this statement is safe to run again (for enrolments
-- an older version of the Worker made after the migration ran). The search is on the
-- audit_events_compaction index: enrolment events are never compacted.
UPDATE identities SET totp_key_id = '?'
WHERE totp_key_id IS NULL AND totp_pending_key_id IS NULL
  AND id IN (
    SELECT identity_id FROM audit_events
    WHERE type = 'otp.enrolled' AND outcome = 'success' AND compacted_at IS NULL AND identity_id IS NOT NULL
  );
