import { type RevocationMarks, type SessionVerdict, sessionVerdict } from "../domain/revocation";
import type { IdentityContext } from "./context";
import { marksOf } from "./storage";

/**
 * The revocation marks the identity's object pushes to KV for the eventual introspection path:
 * one record per identity, holding its marks and the sessions revoked one by one that have not
 * expired, so an eventual answer costs one KV read. The KV key and the record's shape are
 * defined here only.
 */

/** What KV holds per identity. */
export interface IdentityMarks {
  revoked_before_ms: number | null;
  disabled: boolean;
  mfa_challenge_required_from_ms: number | null;
  /** Session id -> when it was revoked, for unexpired sessions revoked one by one. */
  revoked_sessions?: Record<string, number>;
}

export const identityMarksKey = (identityId: string): string => `idn:${identityId}`;

/** The marks read back from KV (none stored: no marks). */
export function marksFromKv(stored: IdentityMarks | null): RevocationMarks {
  return {
    disabled: stored?.disabled ?? false,
    revokedBeforeMs: stored?.revoked_before_ms ?? null,
    mfaRequiredFromMs: stored?.mfa_challenge_required_from_ms ?? null,
  };
}

/**
 * Pushes the marks record when KV does not have the latest. Idempotent: the record is rewritten
 * whole from the current state. Its TTL outlives the longest session.
 */
export async function syncMarksToKv(ctx: IdentityContext, kv: KVNamespace, nowMs: number): Promise<void> {
  const row = ctx.store.row();
  if (!row || row.marks_version <= row.marks_synced_version) return;
  const marks = marksOf(row);
  const revoked = ctx.store.sql
    .exec<{ id: string; revoked_at_ms: number }>(
      // Sessions the revoke-all mark already covers need no entry of their own.
      "SELECT id, revoked_at_ms FROM sessions WHERE revoked_at_ms IS NOT NULL AND expires_at_ms > ? AND issued_at_ms > ?",
      nowMs,
      marks.revokedBeforeMs ?? -1,
    )
    .toArray();
  const stored: IdentityMarks = {
    revoked_before_ms: marks.revokedBeforeMs,
    disabled: marks.disabled,
    mfa_challenge_required_from_ms: marks.mfaRequiredFromMs,
    revoked_sessions: Object.fromEntries(revoked.map((s) => [s.id, s.revoked_at_ms])),
  };
  await kv.put(identityMarksKey(row.id), JSON.stringify(stored), { expirationTtl: ctx.sessionTtlSeconds + 3600 });
  ctx.store.sql.exec(
    "UPDATE identity SET marks_synced_version = max(marks_synced_version, ?) WHERE singleton = 1",
    row.marks_version,
  );
}

/**
 * The eventual answer for a session whose token the Worker has checked: the same revocation rule
 * as the object's, over the identity's marks record in KV (one read, no Durable Object, no D1).
 */
export async function eventualSessionVerdict(
  kv: KVNamespace,
  session: { sessionId: string; identityId: string; issuedAtMs: number; mfaVerifiedAtMs: number },
): Promise<SessionVerdict> {
  const stored = await kv.get<IdentityMarks>(identityMarksKey(session.identityId), "json");
  return sessionVerdict(marksFromKv(stored), {
    issuedAtMs: session.issuedAtMs,
    mfaVerifiedAtMs: session.mfaVerifiedAtMs,
    revokedAtMs: stored?.revoked_sessions?.[session.sessionId] ?? null,
  });
}
