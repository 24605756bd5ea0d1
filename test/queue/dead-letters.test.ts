/**
 * A message that always fails: it reaches the dead-letter queue through the real queues (their
 * retries as wrangler.toml sets them), is recorded and reported on GET /v1/admin/outbox, the
 * other messages of its bundle land, and so does the next message of its own source. Once its
 * cause is fixed, it is replayed.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { insertIdentity } from "../../src/db/writes";
import { outboxMessage } from "../../src/ledger/shipment";
import { ADMIN_TOKEN, call } from "../helpers";

describe("dead letters", () => {
  it("records a message that fails every retry, loses nothing else, and replays it once fixed", async () => {
    const companyId = `cmp_dead_${crypto.randomUUID()}`;
    const poisoned = `idn_poisoned_${companyId}`;
    const row = (id: string) =>
      insertIdentity({
        id,
        company_id: companyId,
        external_id: id,
        status: "active",
        created_at: "2026-01-01T00:00:00.000Z",
      });
    const poison = outboxMessage(poisoned, 0, [
      { sql: "INSERT INTO repair_me (id) VALUES (?)", params: [poisoned], seq: 1 },
    ]);
    const next = outboxMessage(poisoned, 1, [{ ...row(poisoned), seq: 2 }]);
    const bystanders = [0, 1, 2].map((i) =>
      outboxMessage(`idn_bystander_${i}_${companyId}`, 0, [{ ...row(`idn_bystander_${i}_${companyId}`), seq: 1 }]),
    );
    await env.D1_WRITES.send({ v: 1, messages: [...bystanders, poison] }, { contentType: "json" });
    await env.D1_WRITES.send({ v: 1, messages: [next] }, { contentType: "json" });

    await expect
      .poll(
        async () => {
          const report = await call("/v1/admin/outbox", { key: ADMIN_TOKEN });
          return report.body.dead_letters.latest.find((d: { source: string }) => d.source === poisoned) ?? null;
        },
        { timeout: 60_000, interval: 500 },
      )
      .toMatchObject({ source: poisoned, after: 0, through: 1, later_writes_released: true, replayed_at: null });

    // The bystanders and the poisoned source's next write; not the dead message.
    await expect
      .poll(
        async () =>
          (
            await env.DB.prepare("SELECT count(*) AS n FROM identities WHERE company_id = ?")
              .bind(companyId)
              .first<{ n: number }>()
          )?.n,
        { timeout: 15_000 },
      )
      .toBe(4);

    const report = await call("/v1/admin/outbox", { key: ADMIN_TOKEN });
    expect(report.status).toBe(200);
    expect(report.body.dead_letters.pending).toBeGreaterThanOrEqual(1);
    const dead = report.body.dead_letters.latest.find((d: { source: string }) => d.source === poisoned);
    // Nothing of the message's content is in the report: only where it came from.
    expect(JSON.stringify(dead)).not.toContain("repair_me");

    // Fixed: the table exists now. The replay applies it.
    await env.DB.prepare("CREATE TABLE IF NOT EXISTS repair_me (id TEXT PRIMARY KEY)").run();
    const replay = await call(`/v1/admin/outbox/dead-letters/${encodeURIComponent(dead.id)}/replay`, {
      key: ADMIN_TOKEN,
      method: "POST",
    });
    expect(replay.status).toBe(200);
    expect(replay.body).toMatchObject({ rows: 1 });
    const repaired = await env.DB.prepare("SELECT count(*) AS n FROM repair_me WHERE id = ?")
      .bind(poisoned)
      .first<{ n: number }>();
    expect(repaired?.n).toBe(1);
    expect((await call("/v1/admin/outbox/dead-letters/nope/replay", { key: ADMIN_TOKEN, method: "POST" })).status).toBe(
      404,
    );
  }, 90_000);
});
