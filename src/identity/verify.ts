import { EVENT } from "../domain/audit-events";
import { attemptsRemaining, lockStatus, recordFailure, settle, UNLOCKED } from "../domain/lockout";
import { looksLikeTotp, verifyTotp } from "../domain/totp";
import { findUnusedBackupCode, recentlyUsedBackupCode, useBackupCode } from "./backup-codes";
import { type IdentityContext, recordEvent } from "./context";
import { mirrorSealingKeys, type OpenedSecrets } from "./enrolment";
import { lockedUntilIso } from "./profile";
import { issueSession } from "./sessions";
import { attemptsOf, type IdentityRow, recordOf } from "./storage";
import type { RequestMeta, VerifyOutcome } from "./types";

/**
 * The verify decision, run inside one synchronous storage transaction (no await), so attempts on
 * one identity are serialized: N wrong codes at once count at most up to the lock, and one right
 * code sent N times succeeds once. While locked, even a right code is refused unchecked.
 */
/** How long after a backup code's use a resend of it counts as the client's retry. */
export const RETRY_WINDOW_MS = 60_000;

export function decideVerify(
  ctx: IdentityContext,
  row: IdentityRow,
  secrets: OpenedSecrets,
  code: string,
  nowMs: number,
  meta: RequestMeta,
): VerifyOutcome {
  const identity = recordOf(row);
  const verifyEvent = (outcome: "success" | "failure", reason: string | null, metadata: Record<string, unknown>) =>
    recordEvent(ctx, identity, nowMs, meta, { type: EVENT.mfaVerify, outcome, reason, metadata });

  if (identity.status === "disabled") {
    verifyEvent("failure", "identity_disabled", {});
    return { result: "disabled" };
  }

  let attempts = settle(attemptsOf(row), nowMs);
  const lock = lockStatus(attempts, nowMs);
  if (lock.locked) {
    verifyEvent("failure", "locked", { permanent: lock.permanent });
    return {
      result: "locked",
      lockedUntil: lockedUntilIso(lock.lockedUntilMs),
      failedAttempts: attempts.failedAttempts,
    };
  }

  if (secrets.active === null && secrets.pending === null && ctx.store.unusedBackupCodes() === 0) {
    verifyEvent("failure", "mfa_not_configured", {});
    return { result: "not_configured" };
  }

  const match = matchCode(ctx, row, secrets, code, nowMs);
  if (match.kind === "totp" || match.kind === "backup_code") {
    ctx.store.writeAttempts(UNLOCKED);
    if (match.kind === "totp") {
      ctx.store.sql.exec("UPDATE identity SET last_totp_step = ? WHERE singleton = 1", match.step);
      if (match.promotesPending) {
        ctx.store.sql.exec(
          "UPDATE identity SET totp_secret = totp_pending_secret, totp_pending_secret = NULL WHERE singleton = 1",
        );
        mirrorSealingKeys(ctx);
      }
    } else {
      useBackupCode(ctx, match.hash, nowMs);
    }
    const backupCodesRemaining = ctx.store.unusedBackupCodes();
    const session = issueSession(ctx, row, nowMs, meta);
    verifyEvent("success", null, {
      method: match.kind,
      backup_codes_remaining: backupCodesRemaining,
      session_id: session.id,
      ...(match.kind === "totp" && match.promotesPending ? { confirmed_enrolment: true } : {}),
    });
    return { result: "success", method: match.kind, backupCodesRemaining, session };
  }

  // A client's retry of the request that was just accepted: the very code of the last accepted
  // step, or a backup code used within RETRY_WINDOW_MS. Refused like any replay, audited, but
  // not counted: it is no guess (the code was right), and counting it let one aggressive client
  // retry lock its own user out for 15 minutes. Any older replay still counts.
  if (match.kind === "retry") {
    const metadata = { counted: false, failed_attempts: attempts.failedAttempts, method: match.method };
    if (match.method === "totp") {
      recordEvent(ctx, identity, nowMs, meta, {
        type: EVENT.totpReplay,
        outcome: "failure",
        reason: "code_reused",
        metadata,
      });
    } else {
      verifyEvent("failure", "code_reused", metadata);
    }
    return {
      result: "code_reused",
      failedAttempts: attempts.failedAttempts,
      attemptsRemaining: attemptsRemaining(attempts, ctx.lockout),
    };
  }

  // A failure: counted, audited, and possibly the one that locks.
  const failure = recordFailure(attempts, nowMs, ctx.lockout);
  attempts = failure.state;
  ctx.store.writeAttempts(attempts);
  const reason = match.kind === "replay" ? "code_reused" : "invalid_code";
  if (match.kind === "replay") {
    recordEvent(ctx, identity, nowMs, meta, {
      type: EVENT.totpReplay,
      outcome: "failure",
      reason,
      metadata: { failed_attempts: attempts.failedAttempts },
    });
  } else {
    verifyEvent("failure", reason, { failed_attempts: attempts.failedAttempts });
  }
  if (failure.lockedNow) {
    const locked = lockStatus(attempts, nowMs);
    const lockedUntil = locked.locked ? lockedUntilIso(locked.lockedUntilMs) : null;
    recordEvent(ctx, identity, nowMs, meta, {
      type: EVENT.identityLocked,
      outcome: "success",
      reason: "too_many_failed_attempts",
      metadata: {
        permanent: attempts.permanentlyLocked,
        locked_until: lockedUntil,
        temporary_lockouts: attempts.temporaryLockouts,
      },
    });
    return { result: "locked", lockedUntil, failedAttempts: attempts.failedAttempts };
  }
  return {
    result: reason,
    failedAttempts: attempts.failedAttempts,
    attemptsRemaining: attemptsRemaining(attempts, ctx.lockout),
  };
}

type CodeMatch =
  | { kind: "totp"; step: number; promotesPending: boolean }
  | { kind: "backup_code"; hash: string }
  | { kind: "replay" }
  | { kind: "retry"; method: "totp" | "backup_code" }
  | { kind: "invalid" };

/** What the code is against this identity's factors; reads backup-code hashes, writes nothing. */
function matchCode(
  ctx: IdentityContext,
  row: IdentityRow,
  secrets: OpenedSecrets,
  code: string,
  nowMs: number,
): CodeMatch {
  if (looksLikeTotp(code)) {
    // RFC 6238 §5.2: the current step and one either side; the replay guard refuses any step at
    // or before the last one accepted, so a code is good once and an older one never again.
    const candidates: { step: number; promotesPending: boolean }[] = [];
    for (const [secret, promotesPending] of [
      [secrets.active, false],
      [secrets.pending, true],
    ] as const) {
      if (secret === null) continue;
      const result = verifyTotp(secret, code, nowMs);
      if (result.ok) candidates.push({ step: result.step, promotesPending });
    }
    const best = candidates.sort((a, b) => b.step - a.step)[0];
    if (!best) return { kind: "invalid" };
    if (row.last_totp_step !== null && best.step === row.last_totp_step) return { kind: "retry", method: "totp" };
    if (row.last_totp_step !== null && best.step < row.last_totp_step) return { kind: "replay" };
    return { kind: "totp", ...best };
  }
  const hash = findUnusedBackupCode(ctx, row, code);
  if (hash !== null) return { kind: "backup_code", hash };
  if (recentlyUsedBackupCode(ctx, row, code, nowMs - RETRY_WINDOW_MS)) return { kind: "retry", method: "backup_code" };
  return { kind: "invalid" };
}

/** Inside a transaction: clears the lock, the failure count and the escalation (unlock). */
export function clearLockout(ctx: IdentityContext, row: IdentityRow, nowMs: number, meta: RequestMeta): void {
  const wasLocked = lockStatus(attemptsOf(row), nowMs).locked;
  ctx.store.writeAttempts(UNLOCKED);
  recordEvent(ctx, recordOf(row), nowMs, meta, {
    type: EVENT.identityUnlocked,
    outcome: "success",
    metadata: { was_locked: wasLocked, failed_attempts_cleared: row.failed_attempts },
  });
}
