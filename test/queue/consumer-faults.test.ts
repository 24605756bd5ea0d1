/**
 * The D1 writes consumer under faults: D1 failing its first batches, bundles redelivered,
 * duplicated and reordered. Every row must end in D1 exactly once and each source's updates in
 * its own order. The consumer runs against the real D1; the fault is a wrapper that makes the
 * first batches throw (and passes everything else through).
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { insertIdentity, updateIdentityStatus } from "../../src/db/writes";
import { consumeOutboxBatch, type SinkMessage } from "../../src/ledger/d1-sink";
import { type OutboxMessage, outboxMessage, type QueueBundle } from "../../src/ledger/shipment";

/** D1, except that its first `failures` batches throw before reaching the database. */
function failingFirst(db: D1Database, failures: number): D1Database {
  let left = failures;
  return new Proxy(db, {
    get(target, property) {
      if (property === "batch") {
        return (statements: D1PreparedStatement[]) => {
          if (left > 0) {
            left--;
            return Promise.reject(new Error("injected D1 fault"));
          }
          return target.batch(statements);
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** Source s writes its identity row, then flips its status `flips` times, one message per write. */
function sourceMessages(source: string, companyId: string, flips: number): OutboxMessage[] {
  const writes = [
    insertIdentity({
      id: source,
      company_id: companyId,
      external_id: source,
      status: "active",
      created_at: new Date(0).toISOString(),
    }),
    ...Array.from({ length: flips }, (_, i) => updateIdentityStatus(source, i % 2 === 0 ? "disabled" : "active")),
  ];
  return writes.map((write, i) => outboxMessage(source, i, [{ ...write, seq: i + 1 }]));
}

/** A queue stand-in for the consumer's side: delivers, and re-delivers what was retried. */
async function deliverUntilSettled(db: D1Database, bundles: QueueBundle[], rounds: number): Promise<number> {
  let pending = bundles.map((body, i) => ({ id: `m${i}`, body, attempts: 1 }));
  let round = 0;
  while (pending.length > 0 && round < rounds) {
    round++;
    const retried: typeof pending = [];
    const batch: SinkMessage[] = [...pending].reverse().map((m) => ({
      id: m.id,
      body: m.body,
      attempts: m.attempts,
      ack: () => undefined,
      retry: () => retried.push({ ...m, attempts: m.attempts + 1 }),
    }));
    await consumeOutboxBatch(db, batch, Date.now());
    pending = retried;
  }
  if (pending.length > 0) throw new Error(`${pending.length} bundles never settled`);
  return round;
}

describe("the D1 writes consumer", () => {
  it("ends with every row in D1 exactly once, in each source's order, when D1 fails its first batches", async () => {
    const companyId = `cmp_faults_${crypto.randomUUID()}`;
    const sources = Array.from({ length: 12 }, (_, i) => `idn_fault_${companyId}_${i}`);
    const messages = sources.map((s, i) => sourceMessages(s, companyId, 3 + (i % 4)));
    // Bundles mix sources and carry later messages of a source before earlier ones; one
    // bundle is sent twice (a relay retrying after a lost answer).
    const flat = messages.flat();
    const bundles: QueueBundle[] = [];
    for (let i = 0; i < flat.length; i += 7) bundles.push({ v: 1, messages: flat.slice(i, i + 7).reverse() });
    bundles.push(bundles[1] as QueueBundle);
    const rounds = await deliverUntilSettled(failingFirst(env.DB, 3), bundles.reverse(), 30);
    expect(rounds).toBeGreaterThan(1);

    const rows = await env.DB.prepare("SELECT id, status FROM identities WHERE company_id = ? ORDER BY id")
      .bind(companyId)
      .all<{ id: string; status: string }>();
    expect(rows.results).toHaveLength(sources.length);
    for (const [i, source] of sources.entries()) {
      const flips = 3 + (i % 4);
      // The last flip wins: flips alternate disabled, active, ...
      const last = (flips - 1) % 2 === 0 ? "disabled" : "active";
      expect(rows.results.find((r) => r.id === source)?.status).toBe(last);
    }
    const progress = await env.DB.prepare(
      "SELECT source, through FROM outbox_progress WHERE source IN (SELECT value FROM json_each(?))",
    )
      .bind(JSON.stringify(sources))
      .all<{ source: string; through: number }>();
    expect(Object.fromEntries(progress.results.map((r) => [r.source, r.through]))).toEqual(
      Object.fromEntries(sources.map((s, i) => [s, 1 + 3 + (i % 4)])),
    );

    // A late duplicate of everything changes nothing.
    await deliverUntilSettled(env.DB, bundles, 3);
    const again = await env.DB.prepare("SELECT count(*) AS n FROM identities WHERE company_id = ?")
      .bind(companyId)
      .first<{ n: number }>();
    expect(again?.n).toBe(sources.length);
  });
});
