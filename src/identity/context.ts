import type { LockoutPolicy } from "../domain/lockout";
import type { EventInput, HashChain } from "../ledger/hash-chain";
import type { D1Outbox } from "../ledger/outbox";
import type { IdentityStore } from "./storage";
import type { IdentityRecord, RequestMeta } from "./types";

/** What every decision about an identity works with: its storage, its outbox, its chain, its settings. */
export interface IdentityContext {
  store: IdentityStore;
  outbox: D1Outbox;
  chain: HashChain;
  lockout: LockoutPolicy;
  sessionTtlSeconds: number;
  backupPepper(): Uint8Array;
}

/** Appends an event to the identity's chain; call inside the transaction of the change it records. */
export function recordEvent(
  ctx: IdentityContext,
  identity: IdentityRecord,
  nowMs: number,
  meta: RequestMeta,
  input: EventInput,
): void {
  ctx.chain.append(identity.company_id, identity.id, nowMs, {
    identity_id: identity.id,
    actor: meta.actor,
    request_id: meta.requestId,
    ip: meta.ip ?? null,
    ...input,
    metadata: { ...(meta.userAgent ? { user_agent: meta.userAgent } : {}), ...input.metadata },
  });
}
