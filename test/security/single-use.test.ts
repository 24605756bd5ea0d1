/**
 * Threat: a code intercepted once is submitted many times at the same instant, so that several
 * requests pass the "already used?" check before any of them records the use, yielding several
 * sessions from one code. One right TOTP code or one backup code sent 10 times at once must
 * succeed exactly once. And the other nine are a client's retries of a right code, not
 * guesses: refused as `code_reused`, they must not lock the user out.
 */
import { describe, expect, it } from "vitest";
import { call, enrolled, provision, tenant, totpCode, verifyCode } from "../helpers";

describe("single use under concurrency", () => {
  it("accepts one right TOTP code sent 10 times at once exactly once", async () => {
    const { key, secret } = await enrolled("u");
    const code = totpCode(secret);
    const results = await Promise.all(Array.from({ length: 10 }, () => verifyCode(key, "u", code)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused).toHaveLength(9);
    // Retries of the accepted code: refused, not counted, so no lock.
    expect(new Set(refused.map((r) => r.body.code))).toEqual(new Set(["code_reused"]));
    const profile = (await call("/v1/idp/users?externalUserId=u", { key })).body;
    expect(profile).toMatchObject({ failed_attempts: 0, is_locked: false });
    // The threat is several sessions from one code: exactly one exists.
    const sessions = await call("/v1/idp/sessions?externalUserId=u", { key });
    expect(sessions.body.sessions).toHaveLength(1);
    expect(sessions.body.sessions[0].id).toBe(results.find((r) => r.status === 200)?.body.session.id);
  });

  it("accepts one backup code sent 10 times at once exactly once", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    const codes: string[] = (await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" })).body.user
      .backupCodes;
    const code = codes[3] ?? "";
    const results = await Promise.all(Array.from({ length: 10 }, () => verifyCode(key, "u", code)));
    const successes = results.filter((r) => r.status === 200);
    expect(successes).toHaveLength(1);
    expect(successes[0]?.body.method).toBe("backup_code");
    expect(new Set(results.filter((r) => r.status !== 200).map((r) => r.body.code))).toEqual(new Set(["code_reused"]));
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.failed_attempts).toBe(0);
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.backup_codes_remaining).toBe(9);
    const sessions = await call("/v1/idp/sessions?externalUserId=u", { key });
    expect(sessions.body.sessions.map((s: { id: string }) => s.id)).toEqual([successes[0]?.body.session.id]);
  });
});
