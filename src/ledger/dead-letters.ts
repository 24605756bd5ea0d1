import { bulkInsert, type D1Write, prepare } from "../db/writes";
import { isoTime } from "../domain/ids";
import { consumeOutboxBatch, type RequestResend, readSourceProgress, type SinkMessage } from "./d1-sink";
import { type OutboxMessage, parseOutboxMessage, parseQueueBundle } from "./shipment";

/**
 * The consumer of the dead-letter queue: bundles the D1 writes consumer could not settle on every
 * retry. Each message of such a bundle is first tried once more (one that only waited behind a
 * failing message of its source lands here, once that one is recorded). One that still cannot
 * land is dropped nowhere: it is recorded in D1 (`dead_letters`, with its whole body), logged as
 * an error, reported on `GET /v1/admin/outbox`, and can be replayed from there. When it continues
 * its object's progress, the progress moves past it, and messages of the same object recorded
 * earlier while they waited behind it are applied then, so the object's later writes are not
 * held behind it; its own rows wait for the replay.
 */

/** A bundle whose message waits on a gap is offered again this many times (asking for a resend) before it is recorded. */
const GAP_ATTEMPTS = 20;

export async function recordDeadLetters(
  db: D1Database,
  batch: readonly SinkMessage[],
  nowMs: number,
  requestResend?: RequestResend,
): Promise<void> {
  const at = isoTime(nowMs);
  for (const outer of batch) {
    // A bundle: each of its messages not yet in D1 is recorded on its own, in its source's order.
    const messages = parseQueueBundle(outer.body);
    const units: { id: string; message: OutboxMessage | null; body: unknown }[] = messages
      ? [...messages]
          .sort((a, b) => a.source.localeCompare(b.source) || a.after - b.after)
          .map((message, i) => ({ id: `${outer.id}:${i}`, message, body: message }))
      : [{ id: outer.id, message: null, body: outer.body }];
    let waitForGap = false;
    try {
      const progress = messages ? await readSourceProgress(db, [...new Set(messages.map((m) => m.source))]) : new Map();
      for (const unit of units) {
        const { message } = unit;
        if (message && (progress.get(message.source) ?? 0) >= message.through) continue; // landed after all
        if (message && (await applyNow(db, message, nowMs))) continue; // it only waited
        const at0 = message ? ((await readSourceProgress(db, [message.source])).get(message.source) ?? 0) : 0;
        if (message && at0 < message.after && outer.attempts < GAP_ATTEMPTS && requestResend) {
          // Its predecessor is missing, not failing: have it sent again and look once more later.
          await requestResend(message.source, at0).catch(() => undefined);
          waitForGap = true;
          continue;
        }
        await recordOne(db, unit, outer.attempts, at);
        let released = false;
        if (message) {
          const now = (await readSourceProgress(db, [message.source])).get(message.source) ?? 0;
          released = now >= message.through;
          if (released) {
            await db.prepare("UPDATE dead_letters SET skipped = 1 WHERE id = ?").bind(unit.id).run();
            await applyWaiters(db, message.source, nowMs);
          }
          progress.set(message.source, (await readSourceProgress(db, [message.source])).get(message.source) ?? 0);
        }
        console.error(
          JSON.stringify({
            level: "error",
            msg: "d1 writes: message dead-lettered and recorded",
            dead_letter_id: unit.id,
            source: message?.source ?? null,
            after: message?.after ?? null,
            through: message?.through ?? null,
            attempts: outer.attempts,
            later_writes_released: released,
          }),
        );
      }
      if (waitForGap) outer.retry({ delaySeconds: 5 });
      else outer.ack();
    } catch (error) {
      console.error(
        JSON.stringify({ level: "error", msg: "d1 writes: recording a dead letter failed", error: String(error) }),
      );
      outer.retry({ delaySeconds: 5 });
    }
  }
}

/** Applies one message by the consumer's rule; true when it is in D1 now (or was already). */
async function applyNow(db: D1Database, message: OutboxMessage, nowMs: number): Promise<boolean> {
  let landed = false;
  await consumeOutboxBatch(
    db,
    [
      {
        id: `dead-letter-retry:${message.source}:${message.through}`,
        body: { v: 1, messages: [message] },
        attempts: 1,
        ack: () => {
          landed = true;
        },
        retry: () => undefined,
      },
    ],
    nowMs,
  );
  return landed;
}

/** Applies, in order, recorded messages of `source` that waited behind one just released. */
async function applyWaiters(db: D1Database, source: string, nowMs: number): Promise<void> {
  for (;;) {
    const progress = (await readSourceProgress(db, [source])).get(source) ?? 0;
    const waiter = await db
      .prepare(
        "SELECT id, body FROM dead_letters WHERE source = ? AND after_seq <= ? AND through_seq > ? AND replayed_at IS NULL AND skipped = 0 ORDER BY after_seq LIMIT 1",
      )
      .bind(source, progress, progress)
      .first<{ id: string; body: string }>();
    const message = waiter ? parseOutboxMessage(JSON.parse(waiter.body)) : null;
    if (!waiter || !message || !(await applyNow(db, message, nowMs))) return;
    await db.prepare("UPDATE dead_letters SET replayed_at = ? WHERE id = ?").bind(isoTime(nowMs), waiter.id).run();
  }
}

/** Records one message whole and, when it continues its source's progress, moves the progress past it. */
async function recordOne(
  db: D1Database,
  unit: { id: string; message: OutboxMessage | null; body: unknown },
  attempts: number,
  at: string,
): Promise<void> {
  const { message } = unit;
  const statements: D1Write[] = [
    {
      sql: `INSERT OR IGNORE INTO dead_letters (id, source, after_seq, through_seq, body, attempts, recorded_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)`,
      params: [
        unit.id,
        message?.source ?? null,
        message?.after ?? null,
        message?.through ?? null,
        JSON.stringify(unit.body ?? null).toWellFormed(),
        attempts,
        at,
      ],
    },
  ];
  if (message) {
    statements.push(
      {
        sql: `UPDATE outbox_progress SET prev = through, through = ?1, updated_at = ?2
              WHERE source = ?3 AND through >= ?4 AND through < ?1`,
        params: [message.through, at, message.source, message.after],
      },
      {
        sql: "INSERT OR IGNORE INTO outbox_progress (source, through, prev, updated_at) SELECT ?1, ?2, 0, ?3 WHERE ?4 = 0",
        params: [message.source, message.through, at, message.after],
      },
    );
  }
  await db.batch(statements.map((s) => prepare(db, s)));
}

export interface DeadLetterView {
  id: string;
  source: string | null;
  after: number | null;
  through: number | null;
  attempts: number;
  recorded_at: string;
  later_writes_released: boolean;
  replayed_at: string | null;
}

export async function deadLetterSummary(
  db: D1Database,
): Promise<{ count: number; pending: number; latest: DeadLetterView[] }> {
  const [counts, latest] = await db.batch([
    db.prepare("SELECT count(*) AS count, count(*) FILTER (WHERE replayed_at IS NULL) AS pending FROM dead_letters"),
    db.prepare(
      "SELECT id, source, after_seq, through_seq, attempts, recorded_at, skipped, replayed_at FROM dead_letters ORDER BY recorded_at DESC, id DESC LIMIT 50",
    ),
  ]);
  const c = (counts?.results[0] ?? { count: 0, pending: 0 }) as { count: number; pending: number };
  return {
    count: c.count,
    pending: c.pending,
    latest: ((latest?.results ?? []) as Record<string, unknown>[]).map((r) => ({
      id: r.id as string,
      source: r.source as string | null,
      after: r.after_seq as number | null,
      through: r.through_seq as number | null,
      attempts: r.attempts as number,
      recorded_at: r.recorded_at as string,
      later_writes_released: r.skipped === 1,
      replayed_at: r.replayed_at as string | null,
    })),
  };
}

/**
 * Applies a dead letter's rows to D1 (after its cause is fixed) and marks it replayed. Its rows
 * are idempotent statements, applied in their order; null when there is no such dead letter.
 */
export async function replayDeadLetter(
  db: D1Database,
  id: string,
  nowMs: number,
): Promise<{ replayed_at: string; rows: number } | "not_found" | "unreadable"> {
  const row = await db.prepare("SELECT body, replayed_at FROM dead_letters WHERE id = ?").bind(id).first<{
    body: string;
    replayed_at: string | null;
  }>();
  if (!row) return "not_found";
  const message = parseOutboxMessage(JSON.parse(row.body));
  if (!message) return "unreadable";
  const at = isoTime(nowMs);
  const statements = message.rows.map((r) =>
    r.bulk ? bulkInsert(r.bulk, [r.params]) : { sql: r.sql as string, params: r.params },
  );
  await db.batch([
    ...statements.map((s) => prepare(db, s)),
    db.prepare("UPDATE dead_letters SET replayed_at = ? WHERE id = ?").bind(at, id),
  ]);
  return { replayed_at: at, rows: statements.length };
}
