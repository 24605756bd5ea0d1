import { and, eq, gt, or } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { auditEvents } from "../db/schema";
import { type AuditEvent, ChainAudit } from "../domain/audit-chain";

type EventRow = typeof auditEvents.$inferSelect;

/** The one mapping of a stored row to the chain's event. */
export function eventOfRow(row: EventRow): AuditEvent {
  return {
    id: row.id,
    company_id: row.companyId,
    chain_id: row.chainId,
    seq: row.seq,
    identity_id: row.identityId,
    type: row.type,
    outcome: row.outcome,
    actor: row.actor,
    ip: row.ip,
    reason: row.reason,
    incident_id: row.incidentId,
    request_id: row.requestId,
    metadata: row.metadata,
    created_at: row.createdAt,
    content_hash: row.contentHash,
    compacted_at: row.compactedAt,
    prev_hash: row.prevHash,
    hash: row.hash,
  };
}

const VERIFY_PAGE = 500;

/**
 * Walks every chain of the company from its first event to its last, page by page in
 * (chain_id, seq) order, and reports every break (the first `listed`, all counted).
 */
export async function verifyCompanyChains(db: D1Database, companyId: string, listed: number): Promise<ChainAudit> {
  const audit = new ChainAudit(listed);
  let after: { chainId: string; seq: number } | null = null;
  for (;;) {
    const position = after;
    const rows: EventRow[] = await drizzle(db)
      .select()
      .from(auditEvents)
      .where(
        and(
          eq(auditEvents.companyId, companyId),
          position
            ? or(
                gt(auditEvents.chainId, position.chainId),
                and(eq(auditEvents.chainId, position.chainId), gt(auditEvents.seq, position.seq)),
              )
            : undefined,
        ),
      )
      .orderBy(auditEvents.chainId, auditEvents.seq)
      .limit(VERIFY_PAGE)
      .all();
    for (const row of rows) audit.add(eventOfRow(row));
    const last = rows.at(-1);
    if (!last || rows.length < VERIFY_PAGE) break;
    after = { chainId: last.chainId, seq: last.seq };
  }
  return audit;
}
