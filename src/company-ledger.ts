import { DurableObject } from "cloudflare:workers";
import { ChainLedger, type EventInput } from "./audit/chain-ledger";
import { D1Outbox, type D1Write } from "./audit/outbox";
import type { AuditEvent } from "./domain/audit-chain";
import type { Env } from "./env";

/**
 * The single writer of one company's audit chain (company, key, policy and incident events).
 * Named by company id. A company-level change is recorded here as its D1 writes and its audit
 * events together, in one storage transaction: the change and its events are durable at once,
 * or neither is. The writes then reach D1 in order through the outbox (idempotent statements),
 * before the call returns unless D1 failed, in which case the alarm retries. Calls are
 * serialized by the object, so concurrent requests can never fork the chain.
 */
export class CompanyLedger extends DurableObject<Env> {
  private readonly outbox: D1Outbox;
  private readonly ledger: ChainLedger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.outbox = new D1Outbox(ctx.storage.sql, ctx.storage);
    this.ledger = new ChainLedger(ctx.storage.sql, this.outbox);
    this.outbox.createSchema();
    this.ledger.createSchema();
  }

  async record(
    companyId: string,
    nowMs: number,
    change: { writes: D1Write[]; events: EventInput[] },
  ): Promise<AuditEvent[]> {
    const events = this.ctx.storage.transactionSync(() => {
      for (const write of change.writes) this.outbox.enqueue(write.sql, write.params);
      return change.events.map((input) => this.ledger.append(companyId, companyId, nowMs, input));
    });
    await this.outbox.scheduleFlush(nowMs);
    await this.outbox.flush(this.env.DB).catch((error: unknown) => {
      console.error("company ledger: D1 flush failed, alarm will retry", String(error));
    });
    return events;
  }

  override async alarm(): Promise<void> {
    await this.outbox.flush(this.env.DB);
  }
}

export function companyLedger(env: Env, companyId: string): DurableObjectStub<CompanyLedger> {
  return env.COMPANY_LEDGER.get(env.COMPANY_LEDGER.idFromName(companyId));
}
