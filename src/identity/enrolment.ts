import { UNKNOWN_SEALING_KEY, updateIdentitySealingKeys } from "../db/writes";
import { EVENT } from "../domain/audit-events";
import type { Keyring } from "../domain/secret-box";
import { openSecret, sealSecret } from "../domain/secret-box";
import { type IdentityContext, recordEvent } from "./context";
import { type IdentityRow, recordOf } from "./storage";
import type { RequestMeta, ResealResult } from "./types";

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
  mirrorSealingKeys(ctx);
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

/** The key id a sealed secret names (`v1.<keyId>.<iv>.<ct>`), or null when it is not a seal. */
export function sealingKeyId(sealed: string): string | null {
  const parts = sealed.split(".");
  return parts.length === 4 && parts[0] === "v1" ? (parts[1] ?? null) : null;
}

/**
 * Inside a transaction, after any change to the sealed secrets: tells D1 which keys seal them
 * now (`identities.totp_key_id`, `totp_pending_key_id`), through the outbox with the change
 * itself, so the per-key counts an operator retires a key by come from D1 alone.
 */
export function mirrorSealingKeys(ctx: IdentityContext): void {
  const row = ctx.store.row();
  if (!row) return;
  const keyOf = (sealed: string | null) => (sealed === null ? null : (sealingKeyId(sealed) ?? UNKNOWN_SEALING_KEY));
  ctx.outbox.enqueue(updateIdentitySealingKeys(row.id, keyOf(row.totp_secret), keyOf(row.totp_pending_secret)));
}

/**
 * The identity's sealed secrets again under the keyring's current key, for those sealed under
 * an older one (null when none is), so an old key can leave the keyring once nothing uses it.
 */
export async function resealedTotpSecrets(
  row: IdentityRow,
  keyring: Keyring,
  cache: Map<string, string>,
): Promise<{ totp_secret: string | null; totp_pending_secret: string | null } | null> {
  const stale = (sealed: string | null) => sealed !== null && sealingKeyId(sealed) !== keyring.currentId;
  if (!stale(row.totp_secret) && !stale(row.totp_pending_secret)) return null;
  const opened = await openTotpSecrets(row, keyring, cache);
  const context = totpSealingContext(row.company_id, row.external_id);
  const again = async (sealed: string | null, plain: string | null) =>
    stale(sealed) && plain !== null ? sealSecret(keyring, plain, context) : sealed;
  return {
    totp_secret: await again(row.totp_secret, opened.active),
    totp_pending_secret: await again(row.totp_pending_secret, opened.pending),
  };
}

/**
 * Inside a transaction: stores the re-sealed secrets, unless they changed since `before` was
 * read (an enrolment that slipped in sealed with the current key already). Answers whether it
 * did. D1 learns the new keys with it, and the identity's chain records it (`trigger`: a
 * verify, or the admin's key sweep).
 */
export function storeResealedSecrets(
  ctx: IdentityContext,
  before: IdentityRow,
  resealed: { totp_secret: string | null; totp_pending_secret: string | null },
  nowMs: number,
  meta: RequestMeta,
  trigger: "verify" | "sweep",
): boolean {
  const now = ctx.store.row();
  if (!now || now.totp_secret !== before.totp_secret || now.totp_pending_secret !== before.totp_pending_secret) {
    return false;
  }
  ctx.store.sql.exec(
    "UPDATE identity SET totp_secret = ?, totp_pending_secret = ? WHERE singleton = 1",
    resealed.totp_secret,
    resealed.totp_pending_secret,
  );
  mirrorSealingKeys(ctx);
  const changed = (
    [
      ["active", before.totp_secret, resealed.totp_secret],
      ["pending", before.totp_pending_secret, resealed.totp_pending_secret],
    ] as const
  ).filter(([, was, is]) => was !== null && is !== null && was !== is);
  const keyIds = (sealed: (string | null)[]) => [
    ...new Set(sealed.map((s) => (s === null ? UNKNOWN_SEALING_KEY : (sealingKeyId(s) ?? UNKNOWN_SEALING_KEY)))),
  ];
  recordEvent(ctx, recordOf(now), nowMs, meta, {
    type: EVENT.totpResealed,
    outcome: "success",
    metadata: {
      trigger,
      secrets: changed.map(([which]) => which),
      from_key_ids: keyIds(changed.map(([, was]) => was)),
      key_id: keyIds(changed.map(([, , is]) => is))[0] ?? null,
    },
  });
  return true;
}

/** How many times a re-seal starts again when an enrolment changed the secrets while it sealed. */
const RESEAL_TRIES = 3;

/**
 * Opens and seals again under the current key (the await), then stores in one transaction unless
 * the secrets changed meanwhile (then again, a few times). A verify stops when nothing is stale;
 * the key sweep also writes D1's record of the keys when there was nothing to re-seal, or the
 * seal would not open (D1 then shows the key it names).
 */
export async function resealTotpSecrets(
  ctx: IdentityContext,
  keyring: Keyring,
  cache: Map<string, string>,
  transaction: <T>(decide: () => T) => T,
  currentRow: () => IdentityRow | null,
  nowMs: number,
  meta: RequestMeta,
  trigger: "verify" | "sweep",
): Promise<ResealResult> {
  for (let attempt = 0; attempt < RESEAL_TRIES; attempt++) {
    const row = currentRow();
    if (!row) return "not_found";
    let resealed: Awaited<ReturnType<typeof resealedTotpSecrets>> = null;
    let failed = false;
    try {
      resealed = await resealedTotpSecrets(row, keyring, cache);
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "identity guard: re-sealing the TOTP secrets failed",
          request_id: meta.requestId,
          identityId: row.id,
          error: String(error),
        }),
      );
      failed = true;
    }
    const found = resealed;
    if (found === null && trigger === "verify") return failed ? "failed" : "current";
    const result = transaction((): ResealResult | "changed" => {
      if (found !== null) {
        return storeResealedSecrets(ctx, row, found, nowMs, meta, trigger) ? "resealed" : "changed";
      }
      mirrorSealingKeys(ctx);
      return failed ? "failed" : "current";
    });
    if (result !== "changed") return result;
  }
  console.error(
    JSON.stringify({
      level: "error",
      msg: "identity guard: the TOTP secrets kept changing while being re-sealed",
      request_id: meta.requestId,
    }),
  );
  return "failed";
}
