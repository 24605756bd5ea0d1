import { type BulkTable, bulkInsert, type D1Write, isBulkTable, type SqlParam } from "../db/writes";

/**
 * What a Durable Object's outbox sends to the D1 writes queue, and how a batch of those messages
 * becomes a few D1 statements. Pure: no bindings, so every ordering case is unit-tested.
 *
 * Each object (a `source`) numbers its writes; a message carries the rows with numbers in
 * (`after`, `through`], all of them. D1 keeps, per source, the number of the last row applied
 * (`outbox_progress`). A message is applied only where it continues that number, so each row
 * reaches D1 exactly once and in its object's order, whatever the queue redelivers or reorders.
 */

export interface ShippedRow {
  seq: number;
  /** The statement; absent when `bulk` names a one-row insert whose SQL the table implies. */
  sql?: string;
  params: SqlParam[];
  bulk?: BulkTable;
}

export interface OutboxMessage {
  v: 1;
  source: string;
  after: number;
  through: number;
  rows: ShippedRow[];
}

/** What the queue carries: the messages of many sources, gathered by a relay (relay.ts). */
export interface QueueBundle {
  v: 1;
  messages: OutboxMessage[];
}

/** The bundle's messages, or null when the body is not a bundle of valid messages. */
export function parseQueueBundle(body: unknown): OutboxMessage[] | null {
  if (typeof body !== "object" || body === null) return null;
  const b = body as Partial<QueueBundle>;
  if (b.v !== 1 || !Array.isArray(b.messages) || b.messages.length === 0) return null;
  const messages: OutboxMessage[] = [];
  for (const m of b.messages as unknown[]) {
    const message = parseOutboxMessage(m);
    if (!message) return null;
    messages.push(message);
  }
  return messages;
}

/** Which of `shards` relays carries `source` (FNV-1a of the source id). */
export function sourceShard(source: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < source.length; i++) {
    hash ^= source.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/** The message of `rows` (seq ascending, all of those in (after, last seq]). */
export function outboxMessage(source: string, after: number, rows: (D1Write & { seq: number })[]): OutboxMessage {
  const last = rows.at(-1);
  if (!last) throw new Error("an outbox message needs rows");
  return {
    v: 1,
    source,
    after,
    through: last.seq,
    rows: rows.map((row) =>
      row.bulk
        ? { seq: row.seq, params: row.params, bulk: row.bulk }
        : { seq: row.seq, sql: row.sql, params: row.params },
    ),
  };
}

/** The body as a message, or null when it is not one (recorded as a dead letter, never applied). */
export function parseOutboxMessage(body: unknown): OutboxMessage | null {
  if (typeof body !== "object" || body === null) return null;
  const m = body as Partial<OutboxMessage>;
  if (m.v !== 1 || typeof m.source !== "string" || !Number.isSafeInteger(m.after) || !Number.isSafeInteger(m.through))
    return null;
  if (!Array.isArray(m.rows) || (m.after as number) >= (m.through as number)) return null;
  let previous = m.after as number;
  for (const row of m.rows as unknown[]) {
    if (typeof row !== "object" || row === null) return null;
    const r = row as Partial<ShippedRow>;
    if (!Number.isSafeInteger(r.seq) || (r.seq as number) <= previous || (r.seq as number) > (m.through as number))
      return null;
    if (!Array.isArray(r.params) || !r.params.every(isParam)) return null;
    if (r.bulk !== undefined ? !isBulkTable(r.bulk) : typeof r.sql !== "string") return null;
    previous = r.seq as number;
  }
  return m as OutboxMessage;
}

const isParam = (value: unknown): value is SqlParam =>
  value === null || typeof value === "string" || (typeof value === "number" && Number.isFinite(value));

/** One source's progress moving from `prev` to `through` (checked by D1: see migrations/0003). */
export interface Advance {
  source: string;
  prev: number;
  through: number;
}

export interface ShipmentPlan<Id> {
  /** Applied by this batch (or already applied before): acknowledge once the batch commits. */
  apply: Id[];
  /** Already applied, nothing to do: acknowledge. */
  duplicate: Id[];
  /** An earlier message of the same source is missing: try again later. */
  waiting: Id[];
  advances: Advance[];
  /** Sources with a waiting message, and how far D1 has their writes (the gap starts after it). */
  gaps: Map<string, number>;
  /** The rows to apply, grouped by source, each source in order. */
  rows: ShippedRow[];
}

/**
 * Decides a batch against the progress D1 holds. Messages of one source are taken in order of
 * `after`; one that starts past the progress waits for the message before it; one partly applied
 * (a redelivery overlapping a newer one) contributes only its rows past the progress.
 */
export function planShipment<Id>(
  messages: { id: Id; message: OutboxMessage }[],
  progress: ReadonlyMap<string, number>,
): ShipmentPlan<Id> {
  const plan: ShipmentPlan<Id> = { apply: [], duplicate: [], waiting: [], advances: [], gaps: new Map(), rows: [] };
  const bySource = new Map<string, { id: Id; message: OutboxMessage }[]>();
  for (const entry of messages) {
    const list = bySource.get(entry.message.source) ?? [];
    list.push(entry);
    bySource.set(entry.message.source, list);
  }
  for (const [source, list] of bySource) {
    list.sort((a, b) => a.message.after - b.message.after || b.message.through - a.message.through);
    const start = progress.get(source) ?? 0;
    let at = start;
    for (const { id, message } of list) {
      if (message.through <= at) {
        (at === start ? plan.duplicate : plan.apply).push(id);
        continue;
      }
      if (message.after > at) {
        plan.waiting.push(id);
        plan.gaps.set(source, at);
        continue;
      }
      for (const row of message.rows) if (row.seq > at) plan.rows.push(row);
      at = message.through;
      plan.apply.push(id);
    }
    if (at > start) plan.advances.push({ source, prev: start, through: at });
  }
  return plan;
}

/** Most rows one bulk statement carries (its JSON parameter stays far below D1's 2 MB value limit). */
const BULK_ROWS = 200;

/**
 * The statements of a plan: the progress first (it refuses a stale plan, so the whole batch rolls
 * back), then each table's inserts as bulk statements, then every other statement in order.
 * Running the inserts first is safe because every insert is INSERT OR IGNORE of a new row and
 * every other statement is keyed: an update meets the same rows either way.
 */
export function shipmentStatements(plan: ShipmentPlan<unknown>, nowIso: string): D1Write[] {
  if (plan.advances.length === 0) return [];
  const statements: D1Write[] = [advanceProgress(plan.advances, nowIso)];
  const inserts = new Map<BulkTable, SqlParam[][]>();
  const others: D1Write[] = [];
  for (const row of plan.rows) {
    if (row.bulk) {
      const list = inserts.get(row.bulk) ?? [];
      list.push(row.params);
      inserts.set(row.bulk, list);
    } else others.push({ sql: row.sql as string, params: row.params });
  }
  for (const [table, rows] of inserts) {
    for (let i = 0; i < rows.length; i += BULK_ROWS) statements.push(bulkInsert(table, rows.slice(i, i + BULK_ROWS)));
  }
  return [...statements, ...others];
}

/** Moves each source from `prev` to `through`; D1's triggers abort the batch if one is not at `prev`. */
export function advanceProgress(advances: Advance[], nowIso: string): D1Write {
  return {
    sql: `INSERT INTO outbox_progress (source, through, prev, updated_at)
      SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), ?
      FROM json_each(?) WHERE true
      ON CONFLICT (source) DO UPDATE SET through = excluded.through, prev = excluded.prev, updated_at = excluded.updated_at`,
    params: [nowIso, JSON.stringify(advances.map((a) => [a.source, a.through, a.prev]))],
  };
}

/** The progress of these sources (those without a row have applied nothing: 0). */
export function readProgress(sources: string[]): D1Write {
  return {
    sql: "SELECT source, through FROM outbox_progress WHERE source IN (SELECT value FROM json_each(?))",
    params: [JSON.stringify(sources)],
  };
}
