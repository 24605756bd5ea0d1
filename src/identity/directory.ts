import { DurableObject } from "cloudflare:workers";
import type { Env } from "../config/env";

/**
 * Internal identity id -> (company, external id), which names the identity's object, kept by
 * DIRECTORY_SHARDS Durable Objects (an id always in the same one). The identity's own object
 * writes its entry when it is provisioned, before the provisioning answers. So Sentinel's routes
 * (discover, actions, feedback), which name an identity by its internal id, find a new identity
 * at once without asking D1, and each isolate keeps what it learnt: a warm discover needs no
 * lookup at all. Shards rather than an object per identity: a new entry lands in an object that
 * is already running (measured: an object per identity cost provisioning a third of its rate).
 */
export const DIRECTORY_SHARDS = 16;

export class IdentityDirectory extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS entries (identity_id TEXT PRIMARY KEY, company_id TEXT NOT NULL, external_id TEXT NOT NULL)",
    );
  }

  /** Records the entry; an id is never re-pointed (the first registration stands). */
  async register(identityId: string, companyId: string, externalId: string): Promise<void> {
    this.ctx.storage.sql.exec(
      "INSERT OR IGNORE INTO entries (identity_id, company_id, external_id) VALUES (?, ?, ?)",
      identityId,
      companyId,
      externalId,
    );
  }

  async lookup(identityId: string): Promise<{ companyId: string; externalId: string } | null> {
    const row = this.ctx.storage.sql
      .exec<{ company_id: string; external_id: string }>(
        "SELECT company_id, external_id FROM entries WHERE identity_id = ?",
        identityId,
      )
      .toArray()[0];
    return row ? { companyId: row.company_id, externalId: row.external_id } : null;
  }
}

/** The shard holding `identityId`'s entry (FNV-1a of the id). */
export function directoryOf(env: Env, identityId: string): DurableObjectStub<IdentityDirectory> {
  let hash = 0x811c9dc5;
  for (let i = 0; i < identityId.length; i++) {
    hash ^= identityId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return env.IDENTITY_DIRECTORY.get(env.IDENTITY_DIRECTORY.idFromName(`directory-${hash % DIRECTORY_SHARDS}`));
}

export async function registerIdentity(
  env: Env,
  identity: { id: string; company_id: string; external_id: string },
): Promise<void> {
  await directoryOf(env, identity.id).register(identity.id, identity.company_id, identity.external_id);
}

/** Where the identity `identityId` lives, whatever its company (for the D1 writes consumer). */
export async function locateIdentity(
  env: Env,
  identityId: string,
): Promise<{ companyId: string; externalId: string } | null> {
  const cached = known.get(identityId);
  if (cached) return cached;
  if (!IDENTITY_ID.test(identityId)) return null;
  return directoryOf(env, identityId).lookup(identityId);
}

/** The mapping never changes once an identity exists, so each isolate remembers what it found. */
const known = new Map<string, { companyId: string; externalId: string }>();
const KNOWN_MAX = 100_000;
/** The shape of our identity ids; anything else is unknown without a lookup. */
const IDENTITY_ID = /^idn_[0-9A-HJKMNP-TV-Z]{26}$/;

/** The external id of the caller's identity `identityId`, or null (unknown, or another company's). */
export async function externalIdOf(env: Env, companyId: string, identityId: string): Promise<string | null> {
  const cached = known.get(identityId);
  if (cached) return cached.companyId === companyId ? cached.externalId : null;
  if (!IDENTITY_ID.test(identityId)) return null;
  const entry = await directoryOf(env, identityId).lookup(identityId);
  if (!entry) return null;
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(identityId, entry);
  return entry.companyId === companyId ? entry.externalId : null;
}
