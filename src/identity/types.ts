/** What the identity's Durable Object answers over RPC: the shapes routes read. */

export type IdentityStatus = "active" | "disabled";

export interface IdentityRecord {
  id: string;
  company_id: string;
  external_id: string;
  status: IdentityStatus;
  created_at: string;
}

export interface Profile {
  id: string;
  external_id: string;
  status: IdentityStatus;
  has_otp: boolean;
  has_passkeys: boolean;
  is_locked: boolean;
  failed_attempts: number;
  saas_client_id: string;
  backup_codes_remaining: number;
  locked_until: string | null;
  mfa_challenge_required_from: string | null;
  created_at: string;
}

/** Who asked, for the audit event a change records. */
export interface RequestMeta {
  actor: string;
  requestId: string;
  ip?: string | null;
  userAgent?: string | null;
  reason?: string | null;
}

/**
 * What re-sealing an identity's TOTP secrets did: sealed them again under the current key,
 * found them under it already (or had none), or could not (a seal that does not open, with the
 * reason logged).
 */
export type ResealResult = "resealed" | "current" | "failed" | "not_found";

/** A session the object just issued; the Worker signs it into a token. */
export interface IssuedSession {
  id: string;
  identityId: string;
  issuedAtMs: number;
  expiresAtMs: number;
  mfaVerifiedAtMs: number;
}

export type VerifyOutcome =
  | { result: "success"; method: "totp" | "backup_code"; backupCodesRemaining: number; session: IssuedSession }
  | { result: "invalid_code" | "code_reused"; failedAttempts: number; attemptsRemaining: number }
  | { result: "locked"; lockedUntil: string | null; failedAttempts: number }
  | { result: "disabled" | "not_configured" | "not_found" };

export type IdentityRefusal = { result: "not_found" | "disabled" };

export type SessionStatus =
  | { active: true; mfaRequired: boolean }
  | { active: false; reason: "revoked" | "disabled" | "invalid" };

export interface SessionView {
  id: string;
  identity_id: string;
  external_id: string;
  created_at: string;
  expires_at: string;
  mfa_verified_at: string;
  mfa_required: boolean;
  ip: string | null;
  user_agent: string | null;
}

export type ActionType = "disable" | "enable" | "revoke_sessions" | "force_mfa";

export interface ActionRecord {
  id: string;
  type: ActionType;
  identity_id: string;
  reason: string | null;
  incident_id: string | null;
  performed_by: string;
  created_at: string;
}

/** A connector an action is carried to, and the provider's key for this identity there. */
export interface DeliveryTarget {
  connector_id: string;
  connector_type: string;
  provider_user_id: string;
}

/** An action's delivery to one connector, as the action's answer and list show it. */
export interface DeliveryView {
  id: string;
  connector_id: string;
  type: string;
  status: "pending" | "delivered" | "failed" | "not_applicable";
  attempts: number;
  last_error: string | null;
}

export interface ActionOutcome {
  result: "applied";
  action: ActionRecord;
  deliveries: DeliveryView[];
  identity: { id: string; status: IdentityStatus };
  revokedSessions: number;
  mfaChallengeRequiredFrom: string | null;
}
