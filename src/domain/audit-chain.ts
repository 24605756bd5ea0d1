import { isRoutineEvent } from "./audit-events";
import { sha256Hex } from "./secrets";

/**
 * Tamper evidence for the audit trail. Each event carries the hash of the event before it in
 * its chain (a company's chain, or one identity's). An event's hash covers its identity in
 * the chain (id, sequence, type, outcome, time, identity) in the clear, and the rest of its
 * content through `content_hash`. Editing, deleting or reordering an event breaks the chain at
 * that event. Hashes are computed by the chain's single writer (a Durable Object), never in D1.
 *
 * Compaction may later drop the content of a routine event (a successful verify) once it is
 * older than the retention period, keeping `content_hash`: the chain still verifies, and the
 * type and outcome kept in the clear show that only a routine event was compacted.
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
  content_hash: string;
  /** When compaction dropped the content; null for a whole event. */
  compacted_at: string | null;
  prev_hash: string;
  hash: string;
}

type EventContent = Pick<AuditEvent, "actor" | "ip" | "reason" | "incident_id" | "request_id" | "metadata">;
type EventLink = Pick<
  AuditEvent,
  | "prev_hash"
  | "id"
  | "company_id"
  | "chain_id"
  | "seq"
  | "identity_id"
  | "type"
  | "outcome"
  | "created_at"
  | "content_hash"
>;

export function contentHash(event: EventContent): string {
  return sha256Hex(
    JSON.stringify([event.actor, event.ip, event.reason, event.incident_id, event.request_id, event.metadata]),
  );
}

export function linkHash(event: EventLink): string {
  return sha256Hex(
    JSON.stringify([
      event.prev_hash,
      event.id,
      event.company_id,
      event.chain_id,
      event.seq,
      event.identity_id,
      event.type,
      event.outcome,
      event.created_at,
      event.content_hash,
    ]),
  );
}

export type ChainBreakReason = "hash_mismatch" | "broken_link" | "missing_event" | "invalid_compaction";
export type ChainBreak = { event_id: string; reason: ChainBreakReason };

/** Where a walk along one chain stands: the last sequence number and hash verified. */
export interface ChainCursor {
  seq: number;
  hash: string;
}

/**
 * Why `event` does not verify as the successor of `before`, or null when it does: its sequence
 * number follows, it links to the hash before it, its content matches its content hash (or it
 * is a routine event whose content compaction dropped), and its own hash is right.
 */
export function checkChainEvent(event: AuditEvent, before: ChainCursor): ChainBreakReason | null {
  if (event.seq !== before.seq + 1) return "missing_event";
  if (event.prev_hash !== before.hash) return "broken_link";
  if (event.compacted_at === null) {
    if (contentHash(event) !== event.content_hash) return "hash_mismatch";
  } else if (!isRoutineEvent(event.type, event.outcome)) {
    return "invalid_compaction";
  }
  if (linkHash(event) !== event.hash) return "hash_mismatch";
  return null;
}

/**
 * Walks one chain's events in `seq` order from the state reached before them, and names the
 * first event that does not verify. Resumable, so a long chain can be checked page by page.
 */
export function verifyChainSegment(
  events: readonly AuditEvent[],
  before: ChainCursor,
): { ok: true; after: ChainCursor } | { ok: false; broken: ChainBreak } {
  let cursor = before;
  for (const event of events) {
    const reason = checkChainEvent(event, cursor);
    if (reason !== null) return { ok: false, broken: { event_id: event.id, reason } };
    cursor = { seq: event.seq, hash: event.hash };
  }
  return { ok: true, after: cursor };
}

/**
 * Verification of every chain that keeps going after a break: each event is checked against
 * the one stored before it, so one broken event (planted, or real) hides no other. Feed it the
 * events chain by chain in `seq` order; it keeps the first `limit` breaks and counts them all.
 */
export class ChainAudit {
  checked = 0;
  brokenCount = 0;
  readonly broken: ChainBreak[] = [];
  private chainId: string | null = null;
  private cursor: ChainCursor = { seq: 0, hash: GENESIS_HASH };

  constructor(private readonly limit: number) {}

  add(event: AuditEvent): void {
    if (event.chain_id !== this.chainId) {
      this.chainId = event.chain_id;
      this.cursor = { seq: 0, hash: GENESIS_HASH };
    }
    this.checked++;
    const reason = checkChainEvent(event, this.cursor);
    if (reason !== null) {
      this.brokenCount++;
      if (this.broken.length < this.limit) this.broken.push({ event_id: event.id, reason });
    }
    // Go on from what is stored: the next event is judged on its own link to this one.
    this.cursor = { seq: event.seq, hash: event.hash };
  }
}
