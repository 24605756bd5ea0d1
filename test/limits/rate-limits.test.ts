/**
 * Rate limits through the real Worker and the Rate Limiting binding (this project runs alone:
 * vitest.config.ts gives it wrangler.toml's key-lookup limit as deployed, 30 a minute per IP,
 * and per-key and per-IP limits of 20 and 30 per 10 seconds).
 */
import { SELF } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { ERRORS } from "../../src/errors";
import { LIMIT_BINDINGS, LIMIT_PERIOD_SECONDS } from "../../src/http/rate-limits";
import { ADMIN_TOKEN, createKey, tenant } from "../helpers";

const BASE = "https://idp.test";

function get(path: string, key: string, ip: string): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${key}`, "cf-connecting-ip": ip } });
}

/** A well-formed key nobody issued. */
function randomKey(): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  const bytes = crypto.getRandomValues(new Uint8Array(40));
  return `hld_live_${Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("")}`;
}

/** D1 statements the Worker's isolate has sent so far (the admin outbox report's meter). */
async function d1Statements(): Promise<number> {
  const res = await SELF.fetch(`${BASE}/v1/admin/outbox`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  return ((await res.json()) as { d1: { statements: number } }).d1.statements;
}

/** Waits, if need be, so that at least `needMs` remain of the limiter's current window (windows follow the clock). */
async function freshWindow(periodSeconds: number, needMs: number): Promise<void> {
  const left = periodSeconds * 1000 - (Date.now() % (periodSeconds * 1000));
  if (left < needMs) await new Promise((resolve) => setTimeout(resolve, left + 50));
}

async function expectRateLimited(res: Response, retryAfter: number): Promise<void> {
  expect(res.status).toBe(429);
  expect(res.headers.get("retry-after")).toBe(String(retryAfter));
  const body = (await res.json()) as { code: string; error: string; request_id?: string };
  expect(body).toMatchObject({ code: "rate_limited", error: ERRORS.rate_limited.message });
}

describe("rate limits", () => {
  it("a flood of random keys from one IP reaches D1 only up to the key-lookup limit", async () => {
    const limit = 30; // wrangler.toml, as deployed
    await freshWindow(60, 20_000);
    const ip = "203.0.113.7";
    const before = await d1Statements();
    const statuses: number[] = [];
    for (let i = 0; i < 100; i++) {
      const res = await get("/v1/idp/users?externalUserId=x", randomKey(), ip);
      statuses.push(res.status);
      if (res.status === 429) await expectRateLimited(res, 60);
      else await res.body?.cancel();
    }
    expect(statuses.slice(0, limit).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(limit).every((s) => s === 429)).toBe(true);
    // One indexed read per looked-up key, and not one past the limit.
    expect((await d1Statements()) - before).toBe(limit);

    // Another address is not held back by this one's flood.
    const other = await get("/v1/idp/users?externalUserId=x", randomKey(), "198.51.100.9");
    expect(other.status).toBe(401);
  });

  it("a known key's requests count against its own limit, with Retry-After, and pass again after it", async () => {
    const { key, companyId } = await tenant();
    const second = await createKey(companyId);
    await freshWindow(10, 6_000);
    const ip = "192.0.2.10";
    const statuses: number[] = [];
    for (let i = 0; i < 22; i++) {
      const res = await get("/v1/audit/events?limit=1", key, ip);
      statuses.push(res.status);
      if (res.status === 429) await expectRateLimited(res, 10);
      else await res.body?.cancel();
    }
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill(200));
    expect(statuses.slice(20)).toEqual([429, 429]);
    // The company's other key, from the same address, has a budget of its own.
    expect((await get("/v1/audit/events?limit=1", second.key, ip)).status).toBe(200);

    await new Promise((resolve) => setTimeout(resolve, LIMIT_PERIOD_SECONDS.api_key * 1000));
    expect((await get("/v1/audit/events?limit=1", key, ip)).status).toBe(200);
  });

  it("one address counts across keys", async () => {
    const { key, companyId } = await tenant();
    const keys = [key, (await createKey(companyId)).key, (await createKey(companyId)).key];
    await freshWindow(10, 6_000);
    const ip = "192.0.2.77";
    const statuses: number[] = [];
    // 15 + 15 reach the address's limit of 30, each key staying below its own 20.
    for (const k of keys.slice(0, 2)) {
      for (let i = 0; i < 15; i++) statuses.push((await get("/v1/audit/events?limit=1", k, ip)).status);
    }
    expect(statuses.every((s) => s === 200)).toBe(true);
    await expectRateLimited(await get("/v1/audit/events?limit=1", keys[2] as string, ip), 10);
    // The same key from elsewhere is not this address.
    expect((await get("/v1/audit/events?limit=1", keys[2] as string, "192.0.2.78")).status).toBe(200);
  });

  it("states each limiter's period as wrangler.toml configures it", () => {
    for (const [limiter, binding] of Object.entries(LIMIT_BINDINGS)) {
      const block = new RegExp(`name = "${binding}"[^\\[]*?period = (\\d+)`).exec(env.TEST_WRANGLER_TOML);
      expect(Number(block?.[1]), binding).toBe(LIMIT_PERIOD_SECONDS[limiter as keyof typeof LIMIT_PERIOD_SECONDS]);
    }
  });
});
