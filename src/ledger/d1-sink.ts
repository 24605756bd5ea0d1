import { type D1Write, prepare } from "../db/writes";
import { isoTime } from "../domain/ids";
import {
  type OutboxMessage,
  parseOutboxMessage,
  planShipment,
  readProgress,
  type ShipmentPlan,
  shipmentStatements,
} from "./shipment";

/**
 * The consumer of the D1 writes queue: a whole batch of messages (from many objects) becomes one
 * D1 batch of a few statements (see shipment.ts). Each message is acknowledged only once its rows
 * are in D1 (or were already); one that waits for an earlier message of its object, or whose
 * batch failed, is retried. A statement that fails on its own is isolated: the batch is applied
 * message by message, so only the failing message is retried and, after its last retry, moves to
 * the dead-letter queue (dead-letters.ts) while everything else lands.
 */

/** The part of a queue message the sink uses (Message<unknown> has it; tests build their own). */
export interface SinkMessage {
  readonly id: string;
  readonly body: unknown;
  readonly attempts: number;
  ack(): void;
  retry(options?: { delaySeconds?: number }): void;
}

export interface SinkReport {
  applied: number;
  duplicate: number;
  waiting: number;
  failed: number;
  statements: number;
}

/** How long a message waits before it is offered again after waiting or failing. */
const RETRY_DELAY_SECONDS = 1;

export async function consumeOutboxBatch(
  db: D1Database,
  messages: readonly SinkMessage[],
  nowMs: number,
): Promise<SinkReport> {
  const report: SinkReport = { applied: 0, duplicate: 0, waiting: 0, failed: 0, statements: 0 };
  const valid: { id: SinkMessage; message: OutboxMessage }[] = [];
  for (const entry of messages) {
    const message = parseOutboxMessage(entry.body);
    if (message) valid.push({ id: entry, message });
    else {
      // Never sent by our objects; retried to the dead-letter queue, where it is recorded.
      report.failed++;
      entry.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    }
  }
  if (valid.length === 0) return report;

  let progress: Map<string, number>;
  try {
    progress = await readSourceProgress(db, [...new Set(valid.map((v) => v.message.source))]);
  } catch (error) {
    logFailure("progress read failed", error, valid.length);
    for (const { id } of valid) id.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    report.failed += valid.length;
    return report;
  }
  report.statements++;

  const plan = planShipment(valid, progress);
  const statements = shipmentStatements(plan, isoTime(nowMs));
  try {
    if (statements.length > 0) await db.batch(statements.map((s) => prepare(db, s)));
    report.statements += statements.length;
    settle(plan, report);
    return report;
  } catch (error) {
    logFailure("batch failed, applying message by message", error, valid.length);
  }

  // One message at a time, in each object's order, against progress read afresh.
  try {
    progress = await readSourceProgress(db, [...new Set(valid.map((v) => v.message.source))]);
    report.statements++;
  } catch (error) {
    logFailure("progress read failed", error, valid.length);
    for (const { id } of valid) id.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    report.failed += valid.length;
    return report;
  }
  const ordered = [...valid].sort(
    (a, b) => a.message.source.localeCompare(b.message.source) || a.message.after - b.message.after,
  );
  for (const entry of ordered) {
    const single = planShipment([entry], progress);
    const one = shipmentStatements(single, isoTime(nowMs));
    try {
      if (one.length > 0) await db.batch(one.map((s) => prepare(db, s)));
      report.statements += one.length;
      for (const advance of single.advances) progress.set(advance.source, advance.through);
      settle(single, report);
    } catch (error) {
      logFailure(`message ${entry.message.source}:${entry.message.after}-${entry.message.through} failed`, error, 1);
      report.failed++;
      entry.id.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    }
  }
  return report;
}

function settle(plan: ShipmentPlan<SinkMessage>, report: SinkReport): void {
  for (const m of plan.apply) m.ack();
  for (const m of plan.duplicate) m.ack();
  for (const m of plan.waiting) m.retry({ delaySeconds: RETRY_DELAY_SECONDS });
  report.applied += plan.apply.length;
  report.duplicate += plan.duplicate.length;
  report.waiting += plan.waiting.length;
}

export async function readSourceProgress(db: D1Database, sources: string[]): Promise<Map<string, number>> {
  const query: D1Write = readProgress(sources);
  const { results } = await prepare(db, query).all<{ source: string; through: number }>();
  return new Map(results.map((r) => [r.source, r.through]));
}

function logFailure(what: string, error: unknown, messages: number): void {
  console.error(JSON.stringify({ level: "error", msg: `d1 writes: ${what}`, messages, error: String(error) }));
}
