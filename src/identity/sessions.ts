import { insertSession, revokeSession } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import { isoTime, newId } from "../domain/ids";
import { firstUnmarkedMs, isRevoked, mfaRequired, sessionVerdict } from "../domain/revocation";
import { type IdentityContext, recordEvent } from "./context";
import { type IdentityRow, marksOf, recordOf, type SessionRow, timesOf } from "./storage";
import type { IssuedSession, RequestMeta, SessionStatus, SessionView } from "./types";

/** Inside the verify transaction: a new session, issued strictly after every revocation mark. */
export function issueSession(ctx: IdentityContext, row: IdentityRow, nowMs: number, meta: RequestMeta): IssuedSession {
  const issuedAtMs = firstUnmarkedMs(marksOf(row), nowMs);
  const session: IssuedSession = {
    id: newId("ses", issuedAtMs),
    identityId: row.id,
    issuedAtMs,
    expiresAtMs: issuedAtMs + ctx.sessionTtlSeconds * 1000,
    mfaVerifiedAtMs: issuedAtMs,
  };
  ctx.store.sql.exec("DELETE FROM sessions WHERE expires_at_ms <= ?", nowMs);
  ctx.store.sql.exec(
    "INSERT INTO sessions (id, issued_at_ms, expires_at_ms, mfa_verified_at_ms, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?)",
    session.id,
    session.issuedAtMs,
    session.expiresAtMs,
    session.mfaVerifiedAtMs,
    meta.ip ?? null,
    meta.userAgent ?? null,
  );
  ctx.outbox.enqueue(
    insertSession({
      id: session.id,
      companyId: row.company_id,
      identityId: row.id,
      externalId: row.external_id,
      createdAt: isoTime(session.issuedAtMs),
      expiresAt: isoTime(session.expiresAtMs),
      mfaVerifiedAt: isoTime(session.mfaVerifiedAtMs),
      ip: meta.ip ?? null,
      userAgent: meta.userAgent ?? null,
    }),
  );
  return session;
}

/**
 * The authoritative answer for a session whose token the Worker has already checked (signature,
 * company, expiry): the one revocation rule over this object's marks.
 */
export function sessionStatusOf(
  row: IdentityRow | null,
  session: SessionRow | null,
  identityId: string,
): SessionStatus {
  if (!row || row.id !== identityId || !session) return { active: false, reason: "invalid" };
  return sessionVerdict(marksOf(row), timesOf(session));
}

/** Active sessions (not revoked, not expired at `nowMs`), oldest first. */
export function activeSessions(ctx: IdentityContext, row: IdentityRow, nowMs: number): SessionView[] {
  const marks = marksOf(row);
  if (marks.disabled) return [];
  return ctx.store
    .unexpiredSessions(nowMs)
    .filter((session) => !isRevoked(marks, timesOf(session)))
    .map((session) => ({
      id: session.id,
      identity_id: row.id,
      external_id: row.external_id,
      created_at: isoTime(session.issued_at_ms),
      expires_at: isoTime(session.expires_at_ms),
      mfa_verified_at: isoTime(session.mfa_verified_at_ms),
      mfa_required: mfaRequired(marks, timesOf(session)),
      ip: session.ip,
      user_agent: session.user_agent,
    }));
}

export function activeSessionCount(ctx: IdentityContext, row: IdentityRow, nowMs: number): number {
  const marks = marksOf(row);
  return ctx.store.unexpiredSessions(nowMs).filter((session) => !isRevoked(marks, timesOf(session))).length;
}

/**
 * Revokes one session; revoking it again answers the first revocation's time. Writes (inside a
 * transaction) only when the session was still in force.
 */
export function revokeOneSession(
  ctx: IdentityContext,
  row: IdentityRow,
  session: SessionRow,
  nowMs: number,
  meta: RequestMeta,
): { revokedAt: string } {
  if (session.revoked_at_ms !== null) return { revokedAt: isoTime(session.revoked_at_ms) };
  if (isRevoked(marksOf(row), timesOf(session))) {
    return { revokedAt: isoTime(row.sessions_revoked_before_ms ?? session.issued_at_ms) };
  }
  ctx.store.sql.exec("UPDATE sessions SET revoked_at_ms = ? WHERE id = ?", nowMs, session.id);
  // The marks record KV holds lists revoked sessions: rewrite it.
  ctx.store.sql.exec("UPDATE identity SET marks_version = marks_version + 1 WHERE singleton = 1");
  ctx.outbox.enqueue(revokeSession(session.id, isoTime(nowMs)));
  recordEvent(ctx, recordOf(row), nowMs, meta, {
    type: EVENT.sessionRevoked,
    outcome: "success",
    reason: meta.reason ?? null,
    metadata: { session_id: session.id },
  });
  return { revokedAt: isoTime(nowMs) };
}
