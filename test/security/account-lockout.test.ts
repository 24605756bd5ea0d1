/**
 * Threat: an attacker with unlimited guesses finds a 6-digit code (10^6 values, three valid at
 * a time) or a backup code by brute force, pacing guesses to slip under a lock that simply
 * expires. Five consecutive failures lock the identity for LOCKOUT_SECONDS; locks escalate, and
 * after MAX_TEMPORARY_LOCKOUTS temporary locks with no success between them the next lock is
 * permanent until an operator unlocks. While locked, even a right code is refused unchecked.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { identityGuard } from "../../src/identity/guard";
import { call, enrolled, provision, tenant, totpCode, verifyCode } from "../helpers";

const meta = { actor: "test", requestId: "req_test" };

describe("account lockout", () => {
  it("locks after 5 failures with 423, locked_until and Retry-After", async () => {
    const { key } = await enrolled("u");
    for (let i = 1; i <= 4; i++) expect((await verifyCode(key, "u", "ZZZZ-0000")).status).toBe(401);
    const fifth = await verifyCode(key, "u", "ZZZZ-0000");
    expect(fifth.status).toBe(423);
    expect(fifth.body).toMatchObject({
      error: "Account locked due to too many failed attempts",
      code: "locked",
      failed_attempts: 5,
    });
    const lockedUntil = Date.parse(fifth.body.locked_until);
    expect(lockedUntil - Date.now()).toBeGreaterThan(890_000);
    expect(lockedUntil - Date.now()).toBeLessThanOrEqual(900_000);
    const retryAfter = Number(fifth.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(890);
    expect(retryAfter).toBeLessThanOrEqual(900);

    const profile = await call("/v1/idp/users?externalUserId=u", { key });
    expect(profile.body).toMatchObject({ is_locked: true, failed_attempts: 5, locked_until: fifth.body.locked_until });
  });

  it("refuses a right code while locked, without counting or consuming it", async () => {
    const { key, secret } = await enrolled("u");
    for (let i = 0; i < 5; i++) await verifyCode(key, "u", "ZZZZ-0000");
    const code = totpCode(secret);
    const locked = await verifyCode(key, "u", code);
    expect(locked.status).toBe(423);
    await call("/v1/idp/users/unlock?externalUserId=u", { key, method: "POST" });
    // The code was not checked, so it was not marked used either.
    expect((await verifyCode(key, "u", code)).status).toBe(200);
  });

  it("counts backup-code failures toward the same lock", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" });
    for (let i = 0; i < 4; i++) await verifyCode(key, "u", "AAAA-0000");
    expect((await verifyCode(key, "u", "AAAA-0000")).status).toBe(423);
  });

  it("unlocks after LOCKOUT_SECONDS, counting again from 0", async () => {
    const { key, companyId, secret } = await enrolled("u");
    const guard = identityGuard(env, companyId, "u");
    const start = Date.now();
    for (let i = 0; i < 5; i++) await guard.verifyCode("000000", start, meta);
    expect((await guard.verifyCode(totpCode(secret, start), start + 899_999, meta)).result).toBe("locked");
    const after = await guard.verifyCode("999999", start + 900_000, meta);
    expect(after).toMatchObject({ result: "invalid_code", failedAttempts: 1, attemptsRemaining: 4 });
    expect((await guard.profile(start + 900_000))?.is_locked).toBe(false);
    void key;
  });

  it("escalates to a permanent lock after 3 temporary ones, until unlocked", async () => {
    const { key, companyId, secret } = await enrolled("u");
    const guard = identityGuard(env, companyId, "u");
    let nowMs = Date.now();
    for (let lock = 1; lock <= 3; lock++) {
      for (let i = 0; i < 5; i++) await guard.verifyCode("000000", nowMs, meta);
      expect(await guard.profile(nowMs)).toMatchObject({ is_locked: true, locked_until: expect.any(String) });
      nowMs += 900_000;
    }
    for (let i = 0; i < 5; i++) await guard.verifyCode("000000", nowMs, meta);
    const years = 10 * 365 * 86_400_000;
    expect(await guard.profile(nowMs + years)).toMatchObject({ is_locked: true, locked_until: null });

    const profile = await call("/v1/idp/users?externalUserId=u", { key });
    expect(profile.body).toMatchObject({ is_locked: true, locked_until: null });
    const refused = await verifyCode(key, "u", totpCode(secret));
    expect(refused.status).toBe(423);
    expect(refused.body.locked_until).toBeNull();
    expect(refused.headers.get("retry-after")).toBeNull();

    const unlocked = await call("/v1/idp/users/unlock?externalUserId=u", { key, method: "POST" });
    expect(unlocked.status).toBe(200);
    expect(unlocked.body).toMatchObject({ is_locked: false, failed_attempts: 0, locked_until: null });
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
  });

  it("resets the escalation on success", async () => {
    const { companyId, secret } = await enrolled("u");
    const guard = identityGuard(env, companyId, "u");
    let nowMs = Date.now();
    for (let lock = 1; lock <= 3; lock++) {
      for (let i = 0; i < 5; i++) await guard.verifyCode("000000", nowMs, meta);
      nowMs += 900_000;
    }
    expect((await guard.verifyCode(totpCode(secret, nowMs), nowMs, meta)).result).toBe("success");
    for (let i = 0; i < 5; i++) await guard.verifyCode("000000", nowMs, meta);
    expect(await guard.profile(nowMs)).toMatchObject({ is_locked: true, locked_until: expect.any(String) });
  });

  it("audits the lock", async () => {
    const { key, identityId } = await enrolled("u");
    for (let i = 0; i < 5; i++) await verifyCode(key, "u", "ZZZZ-0000");
    const deadline = Date.now() + 5000;
    let locks: any[] = [];
    while (locks.length === 0 && Date.now() < deadline) {
      locks = (await call(`/v1/audit/events?identity_id=${identityId}&type=identity.locked`, { key })).body.events;
    }
    expect(locks[0]).toMatchObject({
      outcome: "success",
      reason: "too_many_failed_attempts",
      metadata: { permanent: false },
    });
  });
});
