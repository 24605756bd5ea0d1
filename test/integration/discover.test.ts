import { describe, expect, it } from "vitest";
import { call, provision, tenant } from "../helpers";

const BROWSER =
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const PARIS = { lat: 48.8566, lon: 2.3522 };
const SYDNEY = { lat: -33.8688, lon: 151.2093 };

async function identity(name = "u") {
  const t = await tenant();
  const created = await provision(t.key, name);
  return { ...t, id: created.body.user.id as string };
}

function discover(key: string, id: string, context: Record<string, unknown>) {
  return call("/v1/sentinel/discover", { key, body: { sentinel: { id, context } } });
}

describe("POST /v1/sentinel/discover", () => {
  it("authorizes the contract's normal request in the contract's shape, with its explanation", async () => {
    const { key, id } = await identity();
    const res = await discover(key, id, { ip: "1.1.1.1", ua: "EnterpriseAgent/1.0" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "authorized", risk_score: expect.any(Number), recommendation: "allow" });
    expect(res.body.risk_score).toBeLessThan(0.3);
    expect(res.body.assessment_id).toMatch(/^asm_/);
    expect(res.body.policy_version).toBe(1);
    for (const signal of res.body.signals)
      expect(signal).toEqual({ name: expect.any(String), weight: expect.any(Number), detail: expect.any(String) });
  });

  it("denies a disabled identity with the contract's 403 body", async () => {
    const { key, id } = await identity();
    await call(`/v1/sentinel/identity/${id}/disable`, { key, body: { reason: "compromised" } });
    const res = await discover(key, id, { ip: "1.1.1.1", ua: BROWSER });
    expect(res.status).toBe(403);
    expect(res.body).toMatchObject({ error: "High risk detection", code: "high_risk", recommendation: "deny" });
    expect(res.body.risk_score).toEqual(expect.any(Number));
    expect(res.body.signals.map((s: { name: string }) => s.name)).toContain("identity_disabled");
  });

  it("denies a deny-listed IP; an allow-listed one carries no network signal", async () => {
    const { key, id } = await identity();
    await call("/v1/sentinel/policy", {
      key,
      method: "PUT",
      body: { deny_cidrs: ["203.0.113.0/24"], allow_cidrs: ["10.0.0.0/8"] },
    });
    const denied = await discover(key, id, { ip: "203.0.113.50", ua: BROWSER });
    expect(denied.status).toBe(403);
    expect(denied.body.signals.map((s: { name: string }) => s.name)).toContain("deny_listed_ip");
    const allowed = await discover(key, id, { ip: "10.1.2.3", ua: BROWSER });
    expect(allowed.status).toBe(200);
    const names = allowed.body.signals.map((s: { name: string }) => s.name);
    for (const network of ["new_ip", "ip_churn", "reserved_ip", "ip_velocity"]) expect(names).not.toContain(network);
  });

  it("scores an automation user agent above a browser's", async () => {
    const { key, id } = await identity();
    const browser = await discover(key, id, { ip: "1.1.1.1", ua: BROWSER });
    const bot = await discover(key, id, { ip: "1.1.1.1", ua: "python-requests/2.31.0" });
    expect(bot.body.risk_score).toBeGreaterThan(browser.body.risk_score);
    expect(bot.body.signals.map((s: { name: string }) => s.name)).toContain("automation_user_agent");
  });

  it("raises the 26th identity's score when one IP touched 25 identities (ip_velocity)", async () => {
    const { key } = await tenant();
    const ids: string[] = [];
    for (let i = 0; i < 26; i++) ids.push((await provision(key, `spray-${i}`)).body.user.id);
    const first = await discover(key, ids[0] ?? "", { ip: "198.18.0.9", ua: BROWSER });
    for (const id of ids.slice(1, 25)) await discover(key, id, { ip: "198.18.0.9", ua: BROWSER });
    const last = await discover(key, ids[25] ?? "", { ip: "198.18.0.9", ua: BROWSER });
    expect(last.body.signals.map((s: { name: string }) => s.name)).toContain("ip_velocity");
    expect(last.body.risk_score).toBeGreaterThan(first.body.risk_score);
  });

  it("reports impossible travel from Paris to Sydney a minute later", async () => {
    const { key, id } = await identity();
    await discover(key, id, { ip: "1.1.1.1", ua: BROWSER, country: "FR", geo: PARIS });
    const res = await discover(key, id, { ip: "1.0.0.1", ua: BROWSER, country: "AU", geo: SYDNEY });
    const travel = res.body.signals.find((s: { name: string }) => s.name === "impossible_travel");
    expect(travel?.detail).toMatch(/km\/h/);
  });

  it("answers 200 in monitor mode where enforce would deny, recording deny", async () => {
    const { key, id } = await identity();
    await call("/v1/sentinel/policy", {
      key,
      method: "PUT",
      body: { mode: "monitor", deny_cidrs: ["203.0.113.0/24"] },
    });
    const res = await discover(key, id, { ip: "203.0.113.7", ua: BROWSER });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "authorized", recommendation: "deny" });
  });

  it("keeps companies apart: another company's identity is 404, and A's policy never touches B", async () => {
    const a = await identity("shared");
    const b = await identity("shared");
    expect((await discover(b.key, a.id, { ip: "1.1.1.1", ua: BROWSER })).status).toBe(404);
    await call("/v1/sentinel/policy", { key: a.key, method: "PUT", body: { deny_cidrs: ["1.1.1.0/24"] } });
    expect((await discover(a.key, a.id, { ip: "1.1.1.1", ua: BROWSER })).status).toBe(403);
    expect((await discover(b.key, b.id, { ip: "1.1.1.1", ua: BROWSER })).status).toBe(200);
  });

  it("audits each assessment in the identity's chain", async () => {
    const { key, id } = await identity();
    const res = await discover(key, id, { ip: "1.1.1.1", ua: BROWSER });
    await expect
      .poll(async () => (await call("/v1/audit/events?type=sentinel.assessment", { key })).body.events.length, {
        timeout: 10_000,
      })
      .toBe(1);
    const event = (await call("/v1/audit/events?type=sentinel.assessment", { key })).body.events[0];
    expect(event.metadata.assessment_id).toBe(res.body.assessment_id);
    expect((await call("/v1/audit/verify", { key })).body.ok).toBe(true);
  });

  it("refuses malformed bodies with 400 envelopes", async () => {
    const { key, id } = await identity();
    for (const context of [
      { ip: "999.1.1.1", ua: "" },
      { ip: "127.1", ua: "" },
      { ip: "1.1.1.1" },
      { ip: "1.1.1.1", ua: "", geo: { lat: 91, lon: 0 } },
      { ip: "1.1.1.1", ua: "", geo: { lat: 0, lon: -181 } },
      { ip: "1.1.1.1", ua: "", country: "France" },
      { ip: "1.1.1.1", ua: "x".repeat(2000) },
      { ip: "1.1.1.1", ua: "", extra: true },
    ]) {
      const res = await discover(key, id, context);
      expect(res.status, JSON.stringify(context).slice(0, 80)).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
  });
});
