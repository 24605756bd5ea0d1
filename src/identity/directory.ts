import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { identities } from "../db/schema";

/**
 * Internal identity id -> (company, external id), which names the identity's object. The mapping
 * never changes once an identity exists, so each isolate keeps what it learnt: a warm discover
 * needs no lookup. Unknown ids are not remembered (they may be provisioned a moment later).
 */
const known = new Map<string, { companyId: string; externalId: string }>();
const KNOWN_MAX = 100_000;

export async function externalIdOf(db: D1Database, companyId: string, identityId: string): Promise<string | null> {
  const cached = known.get(identityId);
  if (cached) return cached.companyId === companyId ? cached.externalId : null;
  const row = await drizzle(db)
    .select({ externalId: identities.externalId })
    .from(identities)
    .where(and(eq(identities.id, identityId), eq(identities.companyId, companyId)))
    .get();
  if (!row) return null;
  if (known.size >= KNOWN_MAX) known.clear();
  known.set(identityId, { companyId, externalId: row.externalId });
  return row.externalId;
}
