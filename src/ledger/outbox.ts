import type { D1Write, SqlParam } from "../db/writes";

/**
 * A Durable Object's queue of D1 writes. A write is first made durable in the object's own
 * SQLite storage (in the same transaction as the state change it records), then replayed to
 * D1. Every queued statement is idempotent (INSERT OR IGNORE, absolute UPDATEs), so a replay
 * after a crash or a retry from the alarm does no harm; flushes never overlap, so statements
 * reach D1 in the order they were queued.
 */

interface QueuedStatement {
  seq: number;
  sql: string;
  params: string;
}

const FLUSH_BATCH = 50;

export class D1Outbox {
  private flushing: Promise<void> = Promise.resolve();

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: DurableObjectStorage,
  ) {}

  /** Creates the queue's table; the owning object calls it before first use. */
  createSchema(): void {
    this.sql.exec(
      "CREATE TABLE IF NOT EXISTS d1_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, sql TEXT NOT NULL, params TEXT NOT NULL)",
    );
  }

  /** Queues a write (from `db/writes.ts`); call inside the storage transaction of the change it mirrors. */
  enqueue(write: D1Write): void {
    this.sql.exec("INSERT INTO d1_outbox (sql, params) VALUES (?, ?)", write.sql, JSON.stringify(write.params));
  }

  pendingCount(): number {
    return this.sql.exec<{ n: number }>("SELECT count(*) AS n FROM d1_outbox").one().n;
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
