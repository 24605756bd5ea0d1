/**
 * Threat: an attacker who sees a valid TOTP code (shoulder-surfing, a phishing proxy, a logged
 * request) replays it within its 90-second validity window, or uses an older code after a newer
 * one was accepted. A code is good once; any step at or before the last accepted step is
 * refused as `code_reused` and audited as `totp_replay`. An older step's code counts as a
 * failure; the very code just accepted does not (it is a client's retry, not a guess: an
 * aggressive retry must not lock its own user out), and it still never opens a session.
 */
import { describe, expect, it } from "vitest";
import { auditEvents, call, enrolled, totpCode, verifyCode } from "../helpers";

describe("TOTP replay", () => {
  it("refuses the same code twice", async () => {
    const { key, secret } = await enrolled("u");
    const code = totpCode(secret);
    expect((await verifyCode(key, "u", code)).status).toBe(200);
    const replay = await verifyCode(key, "u", code);
    expect(replay.status).toBe(401);
    expect(replay.body).toEqual({
      error: "OTP code already used",
      code: "code_reused",
      failed_attempts: 0,
      attempts_remaining: 5,
    });
  });

  it("refuses the previous step's code after the current one was accepted", async () => {
    const { key, secret } = await enrolled("u");
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    const previous = await verifyCode(key, "u", totpCode(secret, Date.now() - 30_000));
    expect(previous.body).toMatchObject({ code: "code_reused", failed_attempts: 1 });
  });

  it("still accepts the next step's code after the current one", async () => {
    const { key, secret } = await enrolled("u");
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() + 30_000))).status).toBe(200);
  });

  it("audits a retry of the accepted code as totp_replay without counting it", async () => {
    const { key, secret, identityId } = await enrolled("u");
    const code = totpCode(secret);
    await verifyCode(key, "u", code);
    await verifyCode(key, "u", code);
    const replays = await auditEvents(key, `&identity_id=${identityId}&type=totp_replay`, 1);
    expect(replays).toHaveLength(1);
    expect(replays[0]).toMatchObject({ outcome: "failure", reason: "code_reused", metadata: { counted: false } });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.failed_attempts).toBe(0);
  });

  it("counts a replay of an older step's code", async () => {
    const { key, secret } = await enrolled("u");
    const old = totpCode(secret, Date.now() - 30_000);
    expect((await verifyCode(key, "u", old)).status).toBe(200);
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    expect((await verifyCode(key, "u", old)).body).toMatchObject({ code: "code_reused", failed_attempts: 1 });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.failed_attempts).toBe(1);
  });

  it("keeps the replay guard across re-enrolment", async () => {
    const { key, secret } = await enrolled("u");
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    const next = await call("/v1/idp/otp?externalUserId=u", {
      key,
      body: { otp: { issuer_name: "Acme", account_name: "a@b.c" } },
    });
    const sameStepNewSecret = await verifyCode(key, "u", totpCode(next.body.user.new_otp_secret));
    expect(sameStepNewSecret.body.code).toBe("code_reused");
  });
});
