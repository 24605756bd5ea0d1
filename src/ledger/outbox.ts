import { type D1Write, isBulkTable, type SqlParam } from "../db/writes";
import { consumeOutboxBatch, readSourceProgress } from "./d1-sink";
import { type OutboxMessage, outboxMessage } from "./shipment";

/**
 * A Durable Object's queue of D1 writes. A write is first made durable in the object's own
 * SQLite storage (in the same transaction as the state change it records), then leaves by one
 * of two ways, one per kind of object:
 * - `ship` (identity objects, many of them, on the hot path): hands the rows to a relay, which
 *   bundles many objects' messages onto the D1 writes queue, whose consumer applies them in one
 *   D1 batch (d1-sink.ts), each exactly once and in order; the rows are deleted once the relay
 *   has them.
 * - `flush` (company objects, few, off the hot path): replays the rows to D1 directly.
 * Every statement is idempotent (INSERT OR IGNORE, absolute UPDATEs), and neither way overlaps
 * itself, so a retry after a crash does no harm and rows reach D1 in the order they were queued.
 */

interface QueuedStatement {
  seq: number;
  sql: string;
  params: string;
  bulk: string | null;
}

const FLUSH_BATCH = 50;

/** Where `ship` puts messages: it resolves once they are durable there (a relay, see relay.ts). */
export type SendMessages = (messages: OutboxMessage[]) => Promise<void>;
/** A queue message holds at most 128 KB; a shipment's messages stay well under it (a bundle carries several). */
const MESSAGE_BYTES = 32 * 1024;
/** Messages handed on at once. */
const SEND_MESSAGES = 2;
/** Sent rows an object keeps, so a consumer that finds a gap can have them sent again. */
const RETAIN_ROWS = 500;
/** How often a direct apply looks again whether the rows before its own have landed. */
const DIRECT_RETRY_MS = 100;

export class D1Outbox {
  private flushing: Promise<void> = Promise.resolve();
  private shipping: Promise<void> | null = null;
  /** Rows up to here were sent but are not deleted yet (see markShipped). */
  private shippedThrough: number | null = null;
  private shipAgain = false;

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Creates the queue's table; the owning object calls it before first use. */
  createSchema(): void {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS d1_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, sql TEXT NOT NULL, params TEXT NOT NULL, bulk TEXT)",
    );
    // Objects created before the bulk column get it here.
    const columns = this.sql.exec<{ name: string }>("PRAGMA table_info(d1_outbox)").toArray();
    if (!columns.some((c) => c.name === "bulk")) this.sql.exec("ALTER TABLE d1_outbox ADD COLUMN bulk TEXT");
    // The number of the last row shipped: the next message continues from it.
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS d1_outbox_shipped (singleton INTEGER PRIMARY KEY CHECK (singleton = 1), through INTEGER NOT NULL)",
    );
  }

  /** Queues a write (from `db/writes.ts`); call inside the storage transaction of the change it mirrors. */
  enqueue(write: D1Write): void {
    this.settleShipped();
    this.sql.exec(
      "INSERT INTO d1_outbox (sql, params, bulk) VALUES (?, ?, ?)",
      write.sql,
      JSON.stringify(write.params),
      write.bulk ?? null,
    );
  }

  /**
   * Sends every pending row on (`send`) as messages continuing this object's numbering, then
   * deletes them. Calls while a shipment runs are folded into one more shipment after it. Rows
   * stay until `send` resolved: a crash before that leaves them for the next call or the
   * alarm, a crash after it makes the consumer see a duplicate, which it ignores.
   */
  ship(send: SendMessages, source: string): Promise<void> {
    if (this.shipping) {
      this.shipAgain = true;
      return this.shipping;
    }
    const run = (async () => {
      try {
        do {
          this.shipAgain = false;
          await this.shipPending(send, source, null);
        } while (this.shipAgain);
      } finally {
        this.shipping = null;
      }
    })();
    this.shipping = run;
    return run;
  }

  /**
   * Off the hot path: applies the pending rows to D1 itself, by the consumer's own rule (so still
   * exactly once and in order), so the change is readable when the caller answers. If rows this
   * object sent earlier are still on their way, it waits for them until `deadlineMs`, then leaves
   * its rows to the queue as `ship` would. Rows a running shipment took first are waited for in
   * D1 until the same deadline.
   */
  async apply(db: D1Database, send: SendMessages, source: string, deadlineMs: number): Promise<void> {
    const target = this.sql.exec<{ seq: number | null }>("SELECT max(seq) AS seq FROM d1_outbox").one().seq ?? 0;
    while (this.shipping) await this.shipping.catch(() => undefined);
    this.shipAgain = false;
    const run = this.shipPending(send, source, { db, deadlineMs }).finally(() => {
      this.shipping = null;
      // Rows written while this ran (a verify, say) go the usual way.
      if (this.shipAgain) void this.ship(send, source).catch(() => undefined);
    });
    this.shipping = run;
    await run;
    while (Date.now() < deadlineMs) {
      if (((await readSourceProgress(db, [source])).get(source) ?? 0) >= target) return;
      await new Promise((resolve) => setTimeout(resolve, DIRECT_RETRY_MS));
    }
  }

  /**
   * Sends again every row after `progress` (how far D1 has applied this object's writes), for a
   * consumer that found a gap: a queue that lost accepted messages (a local queue killed with
   * its process does) would otherwise hold this object's later writes for ever. Sent rows are
   * kept for this (the last RETAIN_ROWS of them); if the gap reaches further back, the rows are
   * gone and the loss is logged as an error.
   */
  async resend(send: SendMessages, source: string, progress: number): Promise<"resent" | "nothing" | "lost"> {
    while (this.shipping) await this.shipping.catch(() => undefined);
    const oldest = this.sql.exec<{ seq: number | null }>("SELECT min(seq) AS seq FROM d1_outbox").one().seq;
    if (oldest === null || oldest <= progress) {
      if (
        oldest === null ||
        this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM d1_outbox WHERE seq > ?", progress).one().n === 0
      )
        return "nothing";
    } else if (oldest > progress + 1) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "outbox: rows a consumer asks for are no longer kept",
          source,
          progress,
          oldest,
        }),
      );
      return "lost";
    }
    const run = this.shipPending(send, source, null, progress).finally(() => {
      this.shipping = null;
    });
    this.shipping = run;
    await run;
    return "resent";
  }

  private async shipPending(
    send: SendMessages,
    source: string,
    direct: { db: D1Database; deadlineMs: number } | null,
    resendFrom: number | null = null,
  ): Promise<void> {
    for (let first = true; ; first = false) {
      const after: number = first && resendFrom !== null ? resendFrom : this.shippedUpTo();
      const messages: OutboxMessage[] = [];
      let from = after;
      let rows: (D1Write & { seq: number })[] = [];
      let bytes = 0;
      const cursor = this.sql.exec<{ seq: number; sql: string; params: string; bulk: string | null }>(
        "SELECT seq, sql, params, bulk FROM d1_outbox WHERE seq > ? ORDER BY seq",
        after,
      );
      for (const row of cursor as Iterable<QueuedStatement>) {
        const size = row.params.length + (row.bulk ? 16 : row.sql.length) + 32;
        if (rows.length > 0 && bytes + size > MESSAGE_BYTES) {
          const message = outboxMessage(source, from, rows);
          messages.push(message);
          from = message.through;
          rows = [];
          bytes = 0;
          if (messages.length === SEND_MESSAGES) break;
        }
        rows.push({
          seq: row.seq,
          sql: row.sql,
          params: JSON.parse(row.params) as SqlParam[],
          ...(isBulkTable(row.bulk) ? { bulk: row.bulk } : {}),
        });
        bytes += size;
      }
      if (rows.length > 0 && messages.length < SEND_MESSAGES) messages.push(outboxMessage(source, from, rows));
      const last = messages.at(-1);
      if (!last) return;
      if (direct && messages.length === 1 && (await this.applyDirectly(direct.db, last, direct.deadlineMs))) {
        this.markShipped(last.through);
        continue;
      }
      await send(messages);
      this.markShipped(last.through);
    }
  }

  /** Applies one message now; false when earlier rows are still on their way past the deadline. */
  private async applyDirectly(db: D1Database, message: OutboxMessage, deadlineMs: number): Promise<boolean> {
    for (;;) {
      let applied = false;
      await consumeOutboxBatch(
        db,
        [
          {
            id: `direct:${message.source}:${message.through}`,
            body: { v: 1, messages: [message] },
            attempts: 1,
            ack: () => {
              applied = true;
            },
            // Earlier rows not in D1 yet, or D1 failed: look again, or leave it to the queue.
            retry: () => undefined,
          },
        ],
        Date.now(),
      );
      if (applied) return true;
      if (Date.now() + DIRECT_RETRY_MS > deadlineMs) return false;
      await new Promise((resolve) => setTimeout(resolve, DIRECT_RETRY_MS));
    }
  }

  /**
   * Notes rows up to `through` as sent. The rows are deleted with the next change's transaction
   * (or by `settleShipped` from the alarm), not in a write of their own: on the hot path that
   * saves a storage commit per verify. Should the object be evicted first, the rows are sent
   * again from storage, and the consumer ignores the duplicate.
   */
  private markShipped(through: number): void {
    this.shippedThrough = Math.max(this.shippedThrough ?? 0, through);
  }

  /** How far this object has sent its rows. */
  private shippedUpTo(): number {
    const stored =
      this.sql.exec<{ through: number }>("SELECT through FROM d1_outbox_shipped WHERE singleton = 1").toArray()[0]
        ?.through ?? 0;
    return Math.max(stored, this.shippedThrough ?? 0);
  }

  /**
   * Records how far this object has sent, and deletes sent rows beyond the last RETAIN_ROWS
   * (those are kept for `resend`).
   */
  settleShipped(): void {
    const through = this.shippedThrough;
    if (through === null) return;
    this.shippedThrough = null;
    this.sql.exec(
      "DELETE FROM d1_outbox WHERE seq <= ? AND seq <= (SELECT max(seq) FROM d1_outbox) - ?",
      through,
      RETAIN_ROWS,
    );
    this.sql.exec(
      "INSERT INTO d1_outbox_shipped (singleton, through) VALUES (1, ?) ON CONFLICT (singleton) DO UPDATE SET through = max(through, excluded.through)",
      through,
    );
  }

  pendingCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM d1_outbox WHERE seq > ?", this.shippedUpTo()).one()
      .n;
  }

  /**
   * Makes sure a retry is scheduled, then replays the queue to D1. Callers off the hot path
   * await it so their own writes are readable when they answer; the hot path leaves it to
   * the alarm.
   */
  async flush(db: D1Database): Promise<void> {
    const run = this.flushing.then(() => this.flushNow(db));
    this.flushing = run.catch(() => undefined);
    return run;
  }

  async scheduleFlush(nowMs: number): Promise<void> {
    if ((await this.storage.getAlarm()) === null) await this.storage.setAlarm(nowMs);
  }

  private async flushNow(db: D1Database): Promise<void> {
    for (;;) {
      const rows = this.sql
        .exec<{ seq: number; sql: string; params: string }>(
          "SELECT seq, sql, params FROM d1_outbox ORDER BY seq LIMIT ?",
          FLUSH_BATCH,
        )
        .toArray() as QueuedStatement[];
      const last = rows.at(-1);
      if (!last) return;
      await db.batch(rows.map((row) => db.prepare(row.sql).bind(...(JSON.parse(row.params) as SqlParam[]))));
      this.sql.exec("DELETE FROM d1_outbox WHERE seq <= ?", last.seq);
    }
  }
}
