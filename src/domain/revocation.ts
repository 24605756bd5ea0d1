/**
 * The one revocation rule, shared by both introspection paths: the strong path reads the marks
 * from the identity's Durable Object, the eventual path from KV. Comparisons are inclusive to
 * the millisecond: a session issued at or before a revoke-all mark is revoked, and a session
 * whose MFA was verified at or before a force-mfa mark needs MFA again.
 */

/** What an identity's marks say, wherever they are read from. */
export interface RevocationMarks {
  disabled: boolean;
  /** Sessions issued at or before this time are revoked (revoke-sessions, disable). */
  revokedBeforeMs: number | null;
  /** Sessions verified at or before this time need MFA again (force-mfa). */
  mfaRequiredFromMs: number | null;
}

/** The times of one session that the rule looks at. */
export interface SessionTimes {
  issuedAtMs: number;
  mfaVerifiedAtMs: number;
  /** When this one session was revoked on its own, or null. */
  revokedAtMs: number | null;
}

export type SessionVerdict = { active: true; mfaRequired: boolean } | { active: false; reason: "disabled" | "revoked" };

/** Whether `session` still holds under `marks` (expiry is the token's business, checked before). */
export function sessionVerdict(marks: RevocationMarks, session: SessionTimes): SessionVerdict {
  if (marks.disabled) return { active: false, reason: "disabled" };
  if (isRevoked(marks, session)) return { active: false, reason: "revoked" };
  return { active: true, mfaRequired: mfaRequired(marks, session) };
}

export function isRevoked(marks: RevocationMarks, session: SessionTimes): boolean {
  return (
    session.revokedAtMs !== null || (marks.revokedBeforeMs !== null && session.issuedAtMs <= marks.revokedBeforeMs)
  );
}

export function mfaRequired(marks: RevocationMarks, session: SessionTimes): boolean {
  return marks.mfaRequiredFromMs !== null && session.mfaVerifiedAtMs <= marks.mfaRequiredFromMs;
}

/**
 * The earliest time a new session may be issued at so that no existing mark covers it: marks
 * are inclusive, so a session issued in the same millisecond as a revoke or force-mfa would be
 * born revoked or needing MFA.
 */
export function firstUnmarkedMs(marks: RevocationMarks, nowMs: number): number {
  return Math.max(nowMs, Math.max(marks.revokedBeforeMs ?? -1, marks.mfaRequiredFromMs ?? -1) + 1);
}
