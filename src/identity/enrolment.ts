import { EVENT } from "../domain/audit-events";
import type { Keyring } from "../domain/secret-box";
import { openSecret } from "../domain/secret-box";
import { type IdentityContext, recordEvent } from "./context";
import { type IdentityRow, recordOf } from "./storage";
import type { RequestMeta } from "./types";

/** The additional data a TOTP secret is sealed with: a sealed secret opens only for its identity. */
export function totpSealingContext(companyId: string, externalId: string): string {
  return JSON.stringify(["totp", companyId, externalId]);
}

/**
 * Inside a transaction: stores a new sealed TOTP secret. Without `confirm` it replaces the active
 * secret at once; with `confirm` it waits as pending until a code verifies against it, and the
 * previous secret stays in force meanwhile. Re-enrolment resets neither the failure count nor
 * the escalation, and keeps the replay guard.
 */
export function storeTotpSecret(
  ctx: IdentityContext,
  row: IdentityRow,
  sealedSecret: string,
  confirm: boolean,
  nowMs: number,
  meta: RequestMeta,
): void {
  if (confirm) {
    ctx.store.sql.exec("UPDATE identity SET totp_pending_secret = ? WHERE singleton = 1", sealedSecret);
  } else {
    ctx.store.sql.exec(
      "UPDATE identity SET totp_secret = ?, totp_pending_secret = NULL WHERE singleton = 1",
      sealedSecret,
    );
  }
  recordEvent(ctx, recordOf(row), nowMs, meta, {
    type: EVENT.totpEnrolled,
    outcome: "success",
    metadata: { pending_confirmation: confirm, re_enrolment: row.totp_secret !== null },
  });
}

export interface OpenedSecrets {
  active: string | null;
  pending: string | null;
}

/**
 * Opens the identity's sealed TOTP secrets (the one await of a verify, before its decision).
 * `cache` remembers opened secrets by their sealed form, so a verify does not decrypt every time.
 */
export async function openTotpSecrets(
  row: IdentityRow,
  keyring: Keyring,
  cache: Map<string, string>,
): Promise<OpenedSecrets> {
  const context = totpSealingContext(row.company_id, row.external_id);
  const open = async (sealed: string | null): Promise<string | null> => {
    if (sealed === null) return null;
    const cached = cache.get(sealed);
    if (cached !== undefined) return cached;
    const opened = await openSecret(keyring, sealed, context);
    if (cache.size >= 4) cache.clear();
    cache.set(sealed, opened);
    return opened;
  };
  return { active: await open(row.totp_secret), pending: await open(row.totp_pending_secret) };
}
