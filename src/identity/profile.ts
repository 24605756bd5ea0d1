import { insertIdentity } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import { isoTime } from "../domain/ids";
import { lockStatus, settle } from "../domain/lockout";
import { type IdentityContext, recordEvent } from "./context";
import { attemptsOf, type IdentityRow, recordOf } from "./storage";
import type { IdentityRecord, Profile, RequestMeta } from "./types";

/** Inside a transaction: creates the identity, its D1 row and its event. */
export function provisionIdentity(
  ctx: IdentityContext,
  id: string,
  companyId: string,
  externalId: string,
  nowMs: number,
  meta: RequestMeta,
): IdentityRecord {
  const identity: IdentityRecord = {
    id,
    company_id: companyId,
    external_id: externalId,
    status: "active",
    created_at: isoTime(nowMs),
  };
  ctx.store.sql.exec(
    "INSERT INTO identity (singleton, id, company_id, external_id, status, created_at) VALUES (1, ?, ?, ?, ?, ?)",
    identity.id,
    identity.company_id,
    identity.external_id,
    identity.status,
    identity.created_at,
  );
  ctx.outbox.enqueue(insertIdentity(identity));
  recordEvent(ctx, identity, nowMs, meta, {
    type: EVENT.identityProvisioned,
    outcome: "success",
    metadata: { external_id: externalId },
  });
  return identity;
}

/** The live security profile at `nowMs`. */
export function profileOf(ctx: IdentityContext, row: IdentityRow, nowMs: number): Profile {
  const attempts = settle(attemptsOf(row), nowMs);
  const lock = lockStatus(attempts, nowMs);
  return {
    id: row.id,
    external_id: row.external_id,
    status: recordOf(row).status,
    has_otp: row.totp_secret !== null,
    has_passkeys: false,
    is_locked: lock.locked,
    failed_attempts: attempts.failedAttempts,
    saas_client_id: row.company_id,
    backup_codes_remaining: ctx.store.unusedBackupCodes(),
    locked_until: lock.locked ? lockedUntilIso(lock.lockedUntilMs) : null,
    mfa_challenge_required_from:
      row.mfa_challenge_required_from_ms === null ? null : isoTime(row.mfa_challenge_required_from_ms),
    created_at: row.created_at,
  };
}

export function lockedUntilIso(lockedUntilMs: number | null): string | null {
  return lockedUntilMs === null ? null : isoTime(lockedUntilMs);
}
