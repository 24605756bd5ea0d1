import { bulkInsert, type D1Write, prepare } from "../db/writes";
import { isoTime } from "../domain/ids";
import { readSourceProgress, type SinkMessage } from "./d1-sink";
import { type OutboxMessage, parseOutboxMessage, parseQueueBundle } from "./shipment";

/**
 * The consumer of the dead-letter queue: a message the D1 writes consumer failed on every retry.
 * Nothing is dropped silently: each is recorded in D1 (`dead_letters`, with its whole body),
 * logged as an error, counted on `GET /v1/admin/outbox`, and can be replayed from there. When it
 * continues its object's progress, the progress moves past it, so the object's later writes are
 * not held behind it; its own rows wait for the replay.
 */

export async function recordDeadLetters(db: D1Database, batch: readonly SinkMessage[], nowMs: number): Promise<void> {
  const at = isoTime(nowMs);
  for (const outer of batch) {
    // A bundle: each of its messages not yet in D1 is recorded on its own, in its source's order.
    const messages = parseQueueBundle(outer.body);
    const units: { id: string; message: OutboxMessage | null; body: unknown }[] = messages
      ? [...messages]
          .sort((a, b) => a.source.localeCompare(b.source) || a.after - b.after)
          .map((message, i) => ({ id: `${outer.id}:${i}`, message, body: message }))
      : [{ id: outer.id, message: null, body: outer.body }];
    try {
      const progress = messages ? await readSourceProgress(db, [...new Set(messages.map((m) => m.source))]) : new Map();
      for (const unit of units) {
        const { message } = unit;
        if (message && (progress.get(message.source) ?? 0) >= message.through) continue; // landed after all
        await recordOne(db, unit, outer.attempts, at);
        let released = false;
        if (message) {
          const now = (await readSourceProgress(db, [message.source])).get(message.source) ?? 0;
          progress.set(message.source, now);
          released = now >= message.through;
          if (released) await db.prepare("UPDATE dead_letters SET skipped = 1 WHERE id = ?").bind(unit.id).run();
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
      outer.ack();
    } catch (error) {
      console.error(
        JSON.stringify({ level: "error", msg: "d1 writes: recording a dead letter failed", error: String(error) }),
      );
      outer.retry({ delaySeconds: 5 });
    }
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
