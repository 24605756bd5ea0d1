import { describe, expect, it } from "vitest";
import { call, tenant } from "../helpers";

const put = (key: string, body: unknown) => call("/v1/sentinel/policy", { key, method: "PUT", body });

describe("GET and PUT /v1/sentinel/policy", () => {
  it("starts from the defaults", async () => {
    const { key } = await tenant();
    const res = await call("/v1/sentinel/policy", { key });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      policy: {
        mode: "enforce",
        challenge_threshold: 0.3,
        deny_threshold: 0.7,
        allow_cidrs: [],
        deny_cidrs: [],
        deny_countries: [],
        max_travel_kmh: 805,
        weights: {},
        version: 1,
        updated_at: null,
      },
    });
  });

  it("changes only the fields given, bumps the version, applies at once, and audits old and new", async () => {
    const { key } = await tenant();
    const res = await put(key, {
      mode: "monitor",
      deny_cidrs: ["203.0.113.0/24", "2001:db8::/32"],
      weights: { new_ip: 0.4 },
    });
    expect(res.status).toBe(200);
    expect(res.body.policy).toMatchObject({
      mode: "monitor",
      deny_cidrs: ["203.0.113.0/24", "2001:db8::/32"],
      weights: { new_ip: 0.4 },
      challenge_threshold: 0.3,
      version: 2,
      updated_at: expect.stringMatching(/Z$/),
    });
    expect((await call("/v1/sentinel/policy", { key })).body.policy).toEqual(res.body.policy);
    const events = (await call("/v1/audit/events?type=risk_policy.updated", { key })).body.events;
    expect(events).toHaveLength(1);
    expect(events[0].metadata.old.version).toBe(1);
    expect(events[0].metadata.new.version).toBe(2);
    expect((await call("/v1/audit/verify", { key })).body.ok).toBe(true);
  });

  it("refuses a bad CIDR, naming it, and changes nothing", async () => {
    const { key } = await tenant();
    for (const bad of ["10.0.0.0/33", "127.1/8", "::/129", "10.0.0.1", "nope"]) {
      const res = await put(key, { allow_cidrs: ["10.0.0.0/8", bad] });
      expect(res.status, bad).toBe(400);
      expect(res.body.details).toEqual([{ path: "allow_cidrs.1", message: expect.stringMatching(/CIDR/) }]);
    }
    expect((await call("/v1/sentinel/policy", { key })).body.policy.version).toBe(1);
  });

  it("refuses out-of-range thresholds and weights, unknown signals, bad countries and inconsistent thresholds", async () => {
    const { key } = await tenant();
    for (const body of [
      { deny_threshold: 1.5 },
      { weights: { new_ip: -0.1 } },
      { weights: { no_such_signal: 0.5 } },
      { deny_countries: ["france"] },
      { challenge_threshold: 0.8 },
      { mode: "audit" },
      { surprise: true },
    ]) {
      const res = await put(key, body);
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe("invalid_request");
    }
  });

  it("keeps each company's policy its own", async () => {
    const a = await tenant("A");
    const b = await tenant("B");
    await put(a.key, { deny_countries: ["KP"] });
    expect((await call("/v1/sentinel/policy", { key: b.key })).body.policy.deny_countries).toEqual([]);
  });
});
