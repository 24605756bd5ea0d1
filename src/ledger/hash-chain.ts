import { insertAuditEvent } from "../db/writes";
import { type AuditEvent, contentHash, GENESIS_HASH, linkHash } from "../domain/audit-chain";
import { isoTime, newId } from "../domain/ids";
import type { D1Outbox } from "./outbox";

/** What a caller says about an event; the ledger adds id, sequence, time and hashes. */
export interface EventInput {
  type: string;
  outcome: "success" | "failure" | "denied";
  identity_id?: string | null;
  actor?: string | null;
  ip?: string | null;
  reason?: string | null;
  incident_id?: string | null;
  request_id?: string | null;
  metadata?: Record<string, unknown>;
}

/**
 * One hash chain with exactly one writer: the Durable Object that owns it. The head (last
 * sequence number and hash) lives in the object's storage; each appended event is queued
 * to D1 through the object's outbox in the same synchronous step, so it is durable before
 * the method that caused it returns.
 */
export class HashChain {
  constructor(
    private readonly sql: SqlStorage,
    private readonly outbox: D1Outbox,
  ) {}

  /** Creates the chain head's table; the owning object calls it before first use. */
  createSchema(): void {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS chain_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL, hash TEXT NOT NULL)",
    );
  }

  /** Synchronous: call inside the same `transactionSync` as the state change it records. */
  append(companyId: string, chainId: string, nowMs: number, input: EventInput): AuditEvent {
    const head = this.sql
      .exec<{ seq: number; hash: string }>("SELECT seq, hash FROM chain_head WHERE id = 1")
      .toArray()[0] ?? { seq: 0, hash: GENESIS_HASH };
    // The boundary refuses strings that are not well-formed, but the hash must cover exactly
    // what D1 stores whatever reaches this point: storage would replace a lone surrogate with
    // U+FFFD, so the ledger does it first and hashes the result.
    const content = {
      actor: stored(input.actor),
      ip: stored(input.ip),
      reason: stored(input.reason),
      incident_id: stored(input.incident_id),
      request_id: stored(input.request_id),
      metadata: JSON.stringify(input.metadata ?? {}).toWellFormed(),
    };
    const link = {
      prev_hash: head.hash,
      id: newId("evt", nowMs),
      company_id: companyId.toWellFormed(),
      chain_id: chainId.toWellFormed(),
      seq: head.seq + 1,
      identity_id: stored(input.identity_id),
      type: input.type.toWellFormed(),
      outcome: input.outcome,
      created_at: isoTime(nowMs),
      content_hash: contentHash(content),
    };
    const event: AuditEvent = { ...link, ...content, compacted_at: null, hash: linkHash(link) };
    this.sql.exec(
      "INSERT INTO chain_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
      event.seq,
      event.hash,
    );
    this.outbox.enqueue(insertAuditEvent(event));
    return event;
  }

  head(): { seq: number; hash: string } {
    return (
      this.sql.exec<{ seq: number; hash: string }>("SELECT seq, hash FROM chain_head WHERE id = 1").toArray()[0] ?? {
        seq: 0,
        hash: GENESIS_HASH,
      }
    );
  }
}

/** A text column's value as D1 will store it: well-formed Unicode, or null. */
function stored(value: string | null | undefined): string | null {
  return value === undefined || value === null ? null : value.toWellFormed();
}
