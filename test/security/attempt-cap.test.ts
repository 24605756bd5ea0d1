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

  it("refuses a right code sent in the same burst once the lock is set", async () => {
    const { key, secret } = await enrolled("u");
    const burst = [...wrongCodes(secret, 5), totpCode(secret)];
    // The right code goes last: by the time the object reaches it, five failures have locked it.
    const results = [];
    for (const code of burst) results.push(await verifyCode(key, "u", code));
    expect(results.at(-1)?.status).toBe(423);
  });
});
