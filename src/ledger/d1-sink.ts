import { type D1Write, prepare } from "../db/writes";
import { isoTime } from "../domain/ids";
import {
  type OutboxMessage,
  parseQueueBundle,
  planShipment,
  readProgress,
  type ShipmentPlan,
  shipmentStatements,
} from "./shipment";

/**
 * The consumer of the D1 writes queue: a whole batch of bundles (each the messages of many
 * objects, gathered by a relay) becomes one D1 batch of a few statements (see shipment.ts). A
 * bundle is acknowledged only once all its rows are in D1 (or were already); one holding a
 * message that waits for an earlier message of its object, or whose batch failed, is retried. A
 * statement that fails on its own is isolated: the batch is then applied message by message, so
 * only the bundle holding the failing message is retried and, after its last retry, moves to the
 * dead-letter queue (dead-letters.ts) while everything else lands.
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

/**
 * Asks the object behind `source` to send its writes after `progress` again (see
 * D1Outbox.resend): called for a message that still waits on a retry, whose predecessor may have
 * been lost on the way.
 */
export type RequestResend = (source: string, progress: number) => Promise<void>;

/** A message waiting on its second delivery or later makes the consumer ask for a resend. */
const RESEND_AFTER_ATTEMPTS = 2;

export async function consumeOutboxBatch(
  db: D1Database,
  batch: readonly SinkMessage[],
  nowMs: number,
  requestResend?: RequestResend,
): Promise<SinkReport> {
  const report: SinkReport = { applied: 0, duplicate: 0, waiting: 0, failed: 0, statements: 0 };
  // Each queue message is a bundle of many sources' messages; a bundle is acknowledged once all
  // of its messages are in D1, and offered again (whole: what landed is then a duplicate) if not.
  const entries: { id: SinkMessage; message: OutboxMessage }[] = [];
  for (const outer of batch) {
    const messages = parseQueueBundle(outer.body);
    if (messages) for (const message of messages) entries.push({ id: outer, message });
    else {
      // Never sent by our relays; retried to the dead-letter queue, where it is recorded.
      report.failed++;
      outer.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    }
  }
  if (entries.length === 0) return report;
  const unsettled = new Set<SinkMessage>();
  const sources = [...new Set(entries.map((e) => e.message.source))];

  let progress: Map<string, number>;
  try {
    progress = await readSourceProgress(db, sources);
    report.statements++;
    const plan = planShipment(entries, progress);
    const statements = shipmentStatements(plan, isoTime(nowMs));
    if (statements.length > 0) await db.batch(statements.map((s) => prepare(db, s)));
    report.statements += statements.length;
    tally(plan, report, unsettled);
    await askForResends(plan, entries, requestResend);
    return settle(batch, entries, unsettled, report);
  } catch (error) {
    logFailure("batch failed, applying message by message", error, entries.length);
  }

  // One message at a time, in each source's order, against progress read afresh: a message
  // that fails on its own holds back only its bundle.
  unsettled.clear();
  report.applied = report.duplicate = report.waiting = 0;
  try {
    progress = await readSourceProgress(db, sources);
    report.statements++;
  } catch (error) {
    logFailure("progress read failed", error, entries.length);
    for (const { id } of entries) unsettled.add(id);
    return settle(batch, entries, unsettled, report);
  }
  const ordered = [...entries].sort(
    (a, b) => a.message.source.localeCompare(b.message.source) || a.message.after - b.message.after,
  );
  for (const entry of ordered) {
    const single = planShipment([entry], progress);
    const one = shipmentStatements(single, isoTime(nowMs));
    try {
      if (one.length > 0) await db.batch(one.map((s) => prepare(db, s)));
      report.statements += one.length;
      for (const advance of single.advances) progress.set(advance.source, advance.through);
      tally(single, report, unsettled);
      await askForResends(single, [entry], requestResend);
    } catch (error) {
      logFailure(`message ${entry.message.source}:${entry.message.after}-${entry.message.through} failed`, error, 1);
      report.failed++;
      unsettled.add(entry.id);
    }
  }
  return settle(batch, entries, unsettled, report);
}

async function askForResends(
  plan: ShipmentPlan<SinkMessage>,
  entries: { id: SinkMessage; message: OutboxMessage }[],
  requestResend: RequestResend | undefined,
): Promise<void> {
  if (!requestResend || plan.gaps.size === 0) return;
  const retried = new Set(entries.filter((e) => e.id.attempts >= RESEND_AFTER_ATTEMPTS).map((e) => e.message.source));
  for (const [source, progress] of plan.gaps) {
    if (!retried.has(source)) continue;
    await requestResend(source, progress).catch((error: unknown) => logFailure(`resend of ${source} failed`, error, 1));
  }
}

function tally(plan: ShipmentPlan<SinkMessage>, report: SinkReport, unsettled: Set<SinkMessage>): void {
  report.applied += plan.apply.length;
  report.duplicate += plan.duplicate.length;
  report.waiting += plan.waiting.length;
  for (const outer of plan.waiting) unsettled.add(outer);
}

/** Acknowledges each bundle whose messages all landed; offers the others again. */
function settle(
  batch: readonly SinkMessage[],
  entries: { id: SinkMessage }[],
  unsettled: Set<SinkMessage>,
  report: SinkReport,
): SinkReport {
  const carried = new Set(entries.map((e) => e.id));
  for (const outer of batch) {
    if (!carried.has(outer)) continue;
    if (unsettled.has(outer)) outer.retry({ delaySeconds: RETRY_DELAY_SECONDS });
    else outer.ack();
  }
  return report;
}

export async function readSourceProgress(db: D1Database, sources: string[]): Promise<Map<string, number>> {
  const query: D1Write = readProgress(sources);
  const { results } = await prepare(db, query).all<{ source: string; through: number }>();
  return new Map(results.map((r) => [r.source, r.through]));
}

function logFailure(what: string, error: unknown, messages: number): void {
  console.error(JSON.stringify({ level: "error", msg: `d1 writes: ${what}`, messages, error: String(error) }));
}
