import { describe, expect, it } from "vitest";
import { auditEvents, call, provision, tenant } from "../helpers";

describe("GET /v1/audit/events", () => {
  it("answers newest first with the event shape", async () => {
    const { key, keyId } = await tenant();
    const created = await provision(key, "alice");
    await auditEvents(key, "", 3);
    const res = await call("/v1/audit/events", { key });
    expect(res.status).toBe(200);
    const [latest] = res.body.events;
    expect(latest).toEqual({
      id: expect.stringMatching(/^evt_/),
      company_id: expect.stringMatching(/^cmp_/),
      identity_id: created.body.user.id,
      type: "identity.provisioned",
      outcome: "success",
      actor: keyId,
      ip: null,
      reason: null,
      incident_id: null,
      request_id: expect.stringMatching(/^req_/),
      metadata: { external_id: "alice" },
      created_at: expect.any(String),
      chain_id: created.body.user.id,
      seq: 1,
      content_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
      prev_hash: "0".repeat(64),
      hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    const times = res.body.events.map((e: { created_at: string }) => e.created_at);
    expect([...times].sort().reverse()).toEqual(times);
  });

  it("filters by identity and type", async () => {
    const { key } = await tenant();
    const alice = await provision(key, "alice");
    await provision(key, "bob");
    await auditEvents(key, "", 4);
    const byIdentity = await call(`/v1/audit/events?identity_id=${alice.body.user.id}`, { key });
    expect(byIdentity.body.events.map((e: { identity_id: string }) => e.identity_id)).toEqual([alice.body.user.id]);
    const byType = await call("/v1/audit/events?type=identity.provisioned", { key });
    expect(byType.body.events).toHaveLength(2);
  });

  it("filters by time range, inclusively", async () => {
    const { key } = await tenant();
    await provision(key, "alice");
    const all = (await call("/v1/audit/events", { key })).body.events;
    const oldest = all.at(-1).created_at;
    const onlyOldest = await call(`/v1/audit/events?until=${encodeURIComponent(oldest)}`, { key });
    expect(onlyOldest.body.events.every((e: { created_at: string }) => e.created_at <= oldest)).toBe(true);
    expect(onlyOldest.body.events.length).toBeGreaterThanOrEqual(1);
    const future = await call(`/v1/audit/events?since=${encodeURIComponent("2999-01-01T00:00:00Z")}`, { key });
    expect(future.body.events).toEqual([]);
  });

  it("pages with a cursor without losing or repeating an event", async () => {
    const { key } = await tenant();
    for (let i = 0; i < 7; i++) await provision(key, `user-${i}`);
    await auditEvents(key, "", 9);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: { body: any } = await call(`/v1/audit/events?limit=3${cursor ? `&cursor=${cursor}` : ""}`, { key });
      seen.push(...res.body.events.map((e: { id: string }) => e.id));
      cursor = res.body.next_cursor;
      pages++;
    } while (cursor);
    expect(seen).toHaveLength(9);
    expect(new Set(seen).size).toBe(9);
    expect(pages).toBe(3);
  });
});
