import { sha256Hex } from "./secrets";

/**
 * Tamper evidence for the audit trail. Each event carries the hash of the event before it in
 * its chain (a company's chain, or one identity's), and its own hash covers every field plus
 * that link. Editing, deleting or reordering an event breaks the chain at that event.
 * Hashes are computed by the chain's single writer (a Durable Object), never inside D1.
 */

export const GENESIS_HASH = "0".repeat(64);

export interface AuditEvent {
  id: string;
  company_id: string;
  chain_id: string;
  seq: number;
  identity_id: string | null;
  type: string;
  outcome: string;
  actor: string | null;
  ip: string | null;
  reason: string | null;
  incident_id: string | null;
  request_id: string | null;
  /** JSON text, hashed as stored so verification never depends on key order. */
  metadata: string;
  created_at: string;
  prev_hash: string;
  hash: string;
}

export type UnhashedEvent = Omit<AuditEvent, "hash">;

export function eventHash(event: UnhashedEvent): string {
  const canonical = JSON.stringify([
    event.id,
    event.company_id,
    event.chain_id,
    event.seq,
    event.identity_id,
    event.type,
    event.outcome,
    event.actor,
    event.ip,
    event.reason,
    event.incident_id,
    event.request_id,
    event.metadata,
    event.created_at,
    event.prev_hash,
  ]);
  return sha256Hex(canonical);
}

export type ChainBreak = { event_id: string; reason: "hash_mismatch" | "broken_link" | "missing_event" };

/**
 * Walks one chain's events in `seq` order, given the state reached before them, and names the
 * first event that does not verify. Resumable so a long chain can be checked page by page.
 */
export interface ChainCursor {
  seq: number;
  hash: string;
}

export function verifyChainSegment(
  events: readonly AuditEvent[],
  before: ChainCursor,
): { ok: true; after: ChainCursor } | { ok: false; broken: ChainBreak } {
  let cursor = before;
  for (const event of events) {
    if (event.seq !== cursor.seq + 1) {
      return { ok: false, broken: { event_id: event.id, reason: "missing_event" } };
    }
    if (event.prev_hash !== cursor.hash) {
      return { ok: false, broken: { event_id: event.id, reason: "broken_link" } };
    }
    const { hash, ...unhashed } = event;
    if (eventHash(unhashed) !== hash) {
      return { ok: false, broken: { event_id: event.id, reason: "hash_mismatch" } };
    }
    cursor = { seq: event.seq, hash };
  }
  return { ok: true, after: cursor };
}
