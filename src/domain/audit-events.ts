/** The actor of what the admin routes (the ADMIN_TOKEN) do, in their audit events. */
export const ADMIN_ACTOR = "admin";

/** Every audit event type, in one place. */
export const EVENT = {
  companyCreated: "company.created",
  apiKeyCreated: "api_key.created",
  apiKeyRevoked: "api_key.revoked",
  identityProvisioned: "identity.provisioned",
  totpEnrolled: "otp.enrolled",
  /** The identity's TOTP secrets sealed again under the current key (a verify's or the key sweep's doing). */
  totpResealed: "otp.resealed",
  backupCodesGenerated: "backup_codes.generated",
  /** A verify attempt, success or failure; `reason` says why a failure failed. */
  mfaVerify: "mfa.verify",
  /** A TOTP code for a time step at or before the last accepted one. */
  totpReplay: "totp_replay",
  identityLocked: "identity.locked",
  identityUnlocked: "identity.unlocked",
  identityDisabled: "identity.disabled",
  identityEnabled: "identity.enabled",
  /** Every session of an identity revoked at once (revoke-sessions). */
  sessionsRevoked: "sessions.revoked",
  /** One session revoked. */
  sessionRevoked: "session.revoked",
  mfaChallengeForced: "mfa.challenge_forced",
  incidentCreated: "incident.created",
  incidentClosed: "incident.closed",
  /** A Sentinel risk assessment; routine when it recommended allow. */
  riskAssessed: "sentinel.assessment",
  /** An analyst's verdict on an assessment (legitimate or fraudulent). */
  riskFeedback: "sentinel.feedback",
  /** A company's Sentinel policy changed; metadata holds the old and the new policy. */
  riskPolicyUpdated: "risk_policy.updated",
  connectorCreated: "connector.created",
  connectorDeleted: "connector.deleted",
  connectorLinked: "connector.linked",
  /** A connector's credentials sealed again under the current key (the key sweep). */
  connectorResealed: "connector.resealed",
  /** One try of carrying an action to a connector; metadata says the status it left. */
  connectorDelivery: "connector.delivery",
  /** A delivery that failed for good (a final 4xx, or every try used). */
  connectorDeliveryFailed: "connector.delivery_failed",
} as const;

/**
 * Routine events: what compaction may roll up into daily counts once older than
 * AUDIT_RETENTION_DAYS. Everything else is a security event and is kept for ever.
 */
export const ROUTINE_EVENTS: ReadonlyArray<{ type: string; outcome: string }> = [
  { type: EVENT.mfaVerify, outcome: "success" },
  { type: EVENT.riskAssessed, outcome: "success" },
];

export function isRoutineEvent(type: string, outcome: string): boolean {
  return ROUTINE_EVENTS.some((routine) => routine.type === type && routine.outcome === outcome);
}
