/**
 * Threat: someone with write access to the database (an insider, a compromised migration)
 * edits or deletes an audit event to hide what happened, or concurrent writers fork a chain
 * so that it can no longer be verified. `GET /v1/audit/verify` must name the first event
 * that no longer verifies, and concurrent state changes must leave every chain intact with
 * no event missing.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { companyLedger } from "../../src/company/ledger";
import { type AuditEvent, contentHash, GENESIS_HASH, linkHash, verifyChainSegment } from "../../src/domain/audit-chain";
import { ADMIN_TOKEN, auditEvents, call, provision, tenant } from "../helpers";

/** Every event of the company, once at least `atLeast` reached D1 (identity events come by the queue). */
const allEvents = (key: string, atLeast = 0): Promise<any[]> => auditEvents(key, "", atLeast);

describe("audit chain tamper evidence", () => {
  it("verifies an untouched trail", async () => {
    const { key } = await tenant();
    await provision(key, "alice");
    await provision(key, "bob");
    await allEvents(key, 4);
    const res = await call("/v1/audit/verify", { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true, checked: 4, broken: null, broken_count: 0, broken_events: [] });
  });

  it("names an event whose row was edited in D1", async () => {
    const { key } = await tenant();
    await provision(key, "alice");
    await provision(key, "bob");
    const events = await allEvents(key, 4);
    const target = events.find((e) => e.type === "identity.provisioned");
    await env.DB.prepare("UPDATE audit_events SET actor = 'someone-else' WHERE id = ?").bind(target.id).run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body.ok).toBe(false);
    expect(res.body.broken).toEqual({ event_id: target.id, reason: "hash_mismatch" });
  });

  it("names the event after a deleted one", async () => {
    const { key, companyId } = await tenant();
    // Three events on the company chain: company.created, api_key.created, api_key.created.
    await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } });
    const chain = (await allEvents(key)).filter((e) => e.chain_id === companyId).sort((a, b) => a.seq - b.seq);
    expect(chain.map((e) => e.seq)).toEqual([1, 2, 3]);
    await env.DB.prepare("DELETE FROM audit_events WHERE id = ?").bind(chain[1].id).run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body.broken).toEqual({ event_id: chain[2].id, reason: "missing_event" });
  });

  it("names the next event when an edited row's own hashes were recomputed to match", async () => {
    const { key, companyId } = await tenant();
    await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } });
    const chain = (await allEvents(key)).filter((e) => e.chain_id === companyId).sort((a, b) => a.seq - b.seq);
    const forged = { ...chain[0], actor: "forger", metadata: JSON.stringify(chain[0].metadata) };
    forged.content_hash = contentHash(forged);
    await env.DB.prepare("UPDATE audit_events SET actor = ?, content_hash = ?, hash = ? WHERE id = ?")
      .bind("forger", forged.content_hash, linkHash(forged), chain[0].id)
      .run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body.ok).toBe(false);
    expect(res.body.broken).toEqual({ event_id: chain[1].id, reason: "broken_link" });
  });

  it("keeps every chain whole under 50 concurrent state changes for one company", async () => {
    const { key, companyId } = await tenant();
    const changes = await Promise.all([
      ...Array.from({ length: 25 }, (_, i) => provision(key, `user-${i}`)),
      ...Array.from({ length: 25 }, () =>
        call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } }),
      ),
    ]);
    expect(changes.every((r) => r.status === 201)).toBe(true);

    const events = await allEvents(key, 52);
    // company.created + the first key + 25 keys on the company chain, 25 identity chains of one event.
    expect(events).toHaveLength(2 + 25 + 25);
    const companyChain = events.filter((e) => e.chain_id === companyId).map((e) => e.seq);
    expect(companyChain.sort((a, b) => a - b)).toEqual(Array.from({ length: 27 }, (_, i) => i + 1));
    expect(new Set(events.filter((e) => e.type === "identity.provisioned").map((e) => e.identity_id)).size).toBe(25);

    const verify = await call("/v1/audit/verify", { key });
    expect(verify.body).toEqual({ ok: true, checked: 52, broken: null, broken_count: 0, broken_events: [] });
  });

  it("never puts an API key in an event", async () => {
    const { key, companyId } = await tenant();
    const second = await call("/v1/admin/api-keys", {
      key: ADMIN_TOKEN,
      body: { company_id: companyId, scopes: ["idp:read"] },
    });
    const dump = JSON.stringify(await allEvents(key));
    expect(dump).not.toContain(key);
    expect(dump).not.toContain(second.body.api_key.key);
  });

  it("does not verify or show another company's events", async () => {
    const a = await tenant("A");
    const b = await tenant("B");
    await provision(a.key, "alice");
    await allEvents(a.key, 3);
    const eventsB = await allEvents(b.key);
    expect(eventsB.every((e) => e.company_id === b.companyId)).toBe(true);
    expect((await call("/v1/audit/verify", { key: b.key })).body.checked).toBe(2);
  });

  it("keeps walking after a break: a planted break hides no later tampering", async () => {
    const { key, companyId } = await tenant();
    for (let i = 0; i < 3; i++) {
      await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } });
    }
    await provision(key, "alice");
    const events = await allEvents(key, 6);
    const chain = events.filter((e) => e.chain_id === companyId).sort((a, b) => a.seq - b.seq);
    const identityEvent = events.find((e) => e.type === "identity.provisioned");
    // One break early in the company chain, one later in it, one in another chain.
    await env.DB.prepare("UPDATE audit_events SET reason = 'planted' WHERE id = ?").bind(chain[1].id).run();
    await env.DB.prepare("UPDATE audit_events SET actor = 'edited later' WHERE id = ?").bind(chain[3].id).run();
    await env.DB.prepare("UPDATE audit_events SET ip = '10.0.0.1' WHERE id = ?").bind(identityEvent.id).run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body.ok).toBe(false);
    expect(res.body.checked).toBe(events.length);
    expect(res.body.broken_count).toBe(3);
    expect(res.body.broken_events).toEqual(
      expect.arrayContaining([
        { event_id: chain[1].id, reason: "hash_mismatch" },
        { event_id: chain[3].id, reason: "hash_mismatch" },
        { event_id: identityEvent.id, reason: "hash_mismatch" },
      ]),
    );
    expect(res.body.broken_events).toHaveLength(3);
    expect(res.body.broken).toEqual(res.body.broken_events[0]);
  });

  it("reports a deletion once and checks the rest of the chain against what follows it", async () => {
    const { key, companyId } = await tenant();
    for (let i = 0; i < 3; i++) {
      await call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } });
    }
    const chain = (await allEvents(key)).filter((e) => e.chain_id === companyId).sort((a, b) => a.seq - b.seq);
    await env.DB.prepare("DELETE FROM audit_events WHERE id = ?").bind(chain[1].id).run();
    await env.DB.prepare("UPDATE audit_events SET actor = 'x' WHERE id = ?").bind(chain[4].id).run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body).toMatchObject({
      ok: false,
      checked: chain.length - 1,
      broken: { event_id: chain[2].id, reason: "missing_event" },
      broken_count: 2,
      broken_events: [
        { event_id: chain[2].id, reason: "missing_event" },
        { event_id: chain[4].id, reason: "hash_mismatch" },
      ],
    });
  });

  it("lists at most 100 broken events and counts them all", async () => {
    const { key, companyId } = await tenant();
    await Promise.all(
      Array.from({ length: 110 }, () =>
        call("/v1/admin/api-keys", { key: ADMIN_TOKEN, body: { company_id: companyId, scopes: ["idp:read"] } }),
      ),
    );
    await env.DB.prepare("UPDATE audit_events SET actor = 'mass edit' WHERE company_id = ?").bind(companyId).run();
    const res = await call("/v1/audit/verify", { key });
    expect(res.body.checked).toBe(112);
    expect(res.body.broken_count).toBe(112);
    expect(res.body.broken_events).toHaveLength(100);
  });

  it("round-trips every event field through D1 and recomputes its hash, whatever the characters", async () => {
    const { key, companyId } = await tenant();
    // Lone surrogates, NUL, a replacement character, a line separator, bidi override, combining marks, astral.
    const odd = "a\ud800b\udc00c\u0000d\ufffde\u2028f\u202eg\u0301h\u{1F600}i";
    const events = await companyLedger(env, companyId).record(companyId, Date.now(), {
      writes: [],
      events: [
        {
          type: `type-${odd}`,
          outcome: "success",
          identity_id: `idn-${odd}`,
          actor: `actor-${odd}`,
          ip: `ip-${odd}`,
          reason: `reason-${odd}`,
          incident_id: `inc-${odd}`,
          request_id: `req-${odd}`,
          metadata: { [`key-${odd}`]: `value-${odd}`, nested: [odd, { deep: odd }] },
        },
      ],
    });
    const stored = await env.DB.prepare("SELECT * FROM audit_events WHERE chain_id = ? ORDER BY seq")
      .bind(companyId)
      .all<AuditEvent & { compacted_at: string | null }>();
    const rows = stored.results;
    const written = rows.find((row) => row.id === events[0]?.id);
    expect(written).toBeDefined();
    // What was hashed is exactly what was stored and read back. (Field names, not values, in the
    // assertion: a lone surrogate in a failure message would break the test runner's own transport.)
    const fields = ["type", "identity_id", "actor", "ip", "reason", "incident_id", "request_id", "metadata"] as const;
    const differing = fields.filter((field) => written?.[field] !== events[0]?.[field]);
    expect(differing).toEqual([]);
    expect(verifyChainSegment(rows, { seq: 0, hash: GENESIS_HASH })).toMatchObject({ ok: true });
    expect((await call("/v1/audit/verify", { key })).body).toMatchObject({ ok: true, broken_count: 0 });
  });
});
