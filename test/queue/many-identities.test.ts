/**
 * The write path at scale: the events of 200 verifies across 200 identities go from each
 * identity's object through the relays and the D1 writes queue into D1, each exactly once, every
 * chain verifies, and the API reads them within the bound the README states.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { identityGuard } from "../../src/identity/guard";
import { auditEvents, call, tenant } from "../helpers";

/** The README's bound: an event is readable through the API within 5 s of the answer. */
const READABLE_WITHIN_MS = 5_000;
const IDENTITIES = 200;

describe("D1 writes across many identities", () => {
  it("lands the events of 200 verifies across 200 identities exactly once, and every chain verifies", async () => {
    const { key, companyId } = await tenant("Many");
    const meta = { actor: "test", requestId: "req_test" };
    // Provisioning and codes through each identity's object (the API is tested elsewhere);
    // the verifies through the API.
    const codes = await Promise.all(
      Array.from({ length: IDENTITIES }, async (_, i) => {
        const guard = identityGuard(env, companyId, `user-${i}`);
        await guard.provision(companyId, `user-${i}`, Date.now(), meta);
        const generated = await guard.regenerateBackupCodes(10, Date.now(), meta);
        if (generated.result !== "generated") throw new Error("no codes");
        return generated.codes[0] as string;
      }),
    );
    const verified = await Promise.all(
      codes.map((code, i) => call("/v1/idp/otp/verify", { key, body: { otp: { id: `user-${i}`, code } } })),
    );
    const answeredAt = Date.now();
    expect(verified.map((r) => r.status)).toEqual(Array(IDENTITIES).fill(200));

    // company.created + api_key.created, then provisioned, codes generated, verified per identity.
    const expected = 2 + IDENTITIES * 3;
    const events = await auditEvents(key, "", expected, 20_000);
    const readableAfterMs = Date.now() - answeredAt;
    expect(events).toHaveLength(expected);
    expect(readableAfterMs).toBeLessThan(READABLE_WITHIN_MS);
    const verifies = events.filter((e) => e.type === "mfa.verify" && e.outcome === "success");
    expect(new Set(verifies.map((e) => e.identity_id)).size).toBe(IDENTITIES);

    // Exactly once in D1 itself: one row per (chain, seq), sessions mirrored once each.
    const perChain = await env.DB.prepare(
      "SELECT chain_id, count(*) AS n, count(DISTINCT seq) AS seqs, max(seq) AS top FROM audit_events WHERE company_id = ? GROUP BY chain_id",
    )
      .bind(companyId)
      .all<{ chain_id: string; n: number; seqs: number; top: number }>();
    expect(perChain.results).toHaveLength(IDENTITIES + 1);
    expect(perChain.results.every((r) => r.n === r.seqs && r.n === r.top)).toBe(true);
    const sessions = await env.DB.prepare("SELECT count(*) AS n FROM sessions WHERE company_id = ?")
      .bind(companyId)
      .first<{ n: number }>();
    expect(sessions?.n).toBe(IDENTITIES);

    const verify = await call("/v1/audit/verify", { key });
    expect(verify.body).toMatchObject({ ok: true, checked: expected, broken_count: 0 });
  }, 60_000);
});
