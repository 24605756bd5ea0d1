/**
 * Threat: an attacker brute-forces codes faster than the lockout can count them by sending many
 * at once, hoping concurrent requests each read the same failure count (the race that lets
 * better-auth-style counters in a KV or a read-then-write table overshoot). All attempts for
 * one identity are serialized by its Durable Object: a concurrent burst cannot exceed the
 * attempt budget, and no attempt gets through once the lock is set.
 */
import { describe, expect, it } from "vitest";
import { call, enrolled, totpCode, verifyCode } from "../helpers";

function wrongCodes(secret: string, count: number): string[] {
  const valid = new Set([-30_000, 0, 30_000].map((offset) => totpCode(secret, Date.now() + offset)));
  const codes: string[] = [];
  for (let n = 100_000; codes.length < count; n++) if (!valid.has(String(n))) codes.push(String(n));
  return codes;
}

describe("attempt cap", () => {
  it("counts at most 5 failures from 20 concurrent wrong codes", async () => {
    const { key, secret } = await enrolled("u");
    const results = await Promise.all(wrongCodes(secret, 20).map((code) => verifyCode(key, "u", code)));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 401)).toHaveLength(4);
    expect(statuses.filter((s) => s === 423)).toHaveLength(16);
    const failureCounts = results.filter((r) => r.status === 401).map((r) => r.body.failed_attempts);
    expect(failureCounts.sort()).toEqual([1, 2, 3, 4]);

    const profile = await call("/v1/idp/users?externalUserId=u", { key });
    expect(profile.body.failed_attempts).toBe(5);
    expect(profile.body.is_locked).toBe(true);
  });

  it("refuses every code of a concurrent burst once the lock is set, the right one unchecked", async () => {
    const { key, secret } = await enrolled("u");
    const locking = await Promise.all(wrongCodes(secret, 5).map((code) => verifyCode(key, "u", code)));
    expect(locking.map((r) => r.status).sort()).toEqual([401, 401, 401, 401, 423]);

    const right = totpCode(secret);
    const burst = await Promise.all([right, ...wrongCodes(secret, 10)].map((code) => verifyCode(key, "u", code)));
    for (const result of burst) {
      expect(result.status).toBe(423);
      expect(result.body).toMatchObject({ code: "locked", failed_attempts: 5 });
    }
    const profile = await call("/v1/idp/users?externalUserId=u", { key });
    expect(profile.body).toMatchObject({ failed_attempts: 5, is_locked: true });

    // Refused unchecked: the right code was not used up, so after an unlock it still works.
    await call("/v1/idp/users/unlock?externalUserId=u", { key, method: "POST" });
    expect((await verifyCode(key, "u", right)).status).toBe(200);
  });
});
