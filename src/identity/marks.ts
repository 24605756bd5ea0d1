import { type RevocationMarks, type SessionVerdict, sessionVerdict } from "../domain/revocation";
import type { IdentityContext } from "./context";
import { marksOf } from "./storage";

/**
 * The revocation marks and revoked-session tombstones the identity's object pushes to KV for the
 * eventual introspection path. The KV key names and the marks' shape are defined here only.
 */

/** What KV holds per identity. */
export interface IdentityMarks {
  revoked_before_ms: number | null;
  disabled: boolean;
  mfa_challenge_required_from_ms: number | null;
}

export const identityMarksKey = (identityId: string): string => `idn:${identityId}`;
export const sessionTombstoneKey = (sessionId: string): string => `ses:${sessionId}`;

/** The marks read back from KV (none stored: no marks). */
export function marksFromKv(stored: IdentityMarks | null): RevocationMarks {
  return {
    disabled: stored?.disabled ?? false,
    revokedBeforeMs: stored?.revoked_before_ms ?? null,
    mfaRequiredFromMs: stored?.mfa_challenge_required_from_ms ?? null,
  };
}

/**
 * Pushes the marks and tombstones KV does not have yet. Idempotent: the marks are rewritten whole
 * from the current state. TTLs outlive the longest session.
 */
export async function syncMarksToKv(ctx: IdentityContext, kv: KVNamespace, nowMs: number): Promise<void> {
  const row = ctx.store.row();
  if (!row) return;
  if (row.marks_version > row.marks_synced_version) {
    const marks = marksOf(row);
    const stored: IdentityMarks = {
      revoked_before_ms: marks.revokedBeforeMs,
      disabled: marks.disabled,
      mfa_challenge_required_from_ms: marks.mfaRequiredFromMs,
    };
    await kv.put(identityMarksKey(row.id), JSON.stringify(stored), { expirationTtl: ctx.sessionTtlSeconds + 3600 });
    ctx.store.sql.exec(
      "UPDATE identity SET marks_synced_version = max(marks_synced_version, ?) WHERE singleton = 1",
      row.marks_version,
    );
  }
  const pending = ctx.store.sql
    .exec<{ id: string; expires_at_ms: number; revoked_at_ms: number | null }>(
      "SELECT id, expires_at_ms, revoked_at_ms FROM sessions WHERE tombstone_synced = 0",
    )
    .toArray();
  for (const session of pending) {
    const ttl = Math.max(60, Math.ceil((session.expires_at_ms - nowMs) / 1000) + 60);
    await kv.put(sessionTombstoneKey(session.id), String(session.revoked_at_ms ?? nowMs), { expirationTtl: ttl });
    ctx.store.sql.exec("UPDATE sessions SET tombstone_synced = 1 WHERE id = ?", session.id);
  }
}

/**
 * The eventual answer for a session whose token the Worker has checked: the same revocation rule
 * as the object's, over what KV holds (two reads, no Durable Object, no D1).
 */
export async function eventualSessionVerdict(
  kv: KVNamespace,
  session: { sessionId: string; identityId: string; issuedAtMs: number; mfaVerifiedAtMs: number },
): Promise<SessionVerdict> {
  const [tombstone, stored] = await Promise.all([
    kv.get(sessionTombstoneKey(session.sessionId)),
    kv.get<IdentityMarks>(identityMarksKey(session.identityId), "json"),
  ]);
  // A tombstone holds its revocation time (older ones just "revoked": revoked, time unknown).
  const revokedAtMs = tombstone === null ? null : Number.parseInt(tombstone, 10) || session.issuedAtMs;
  return sessionVerdict(marksFromKv(stored), {
    issuedAtMs: session.issuedAtMs,
    mfaVerifiedAtMs: session.mfaVerifiedAtMs,
    revokedAtMs,
  });
}
