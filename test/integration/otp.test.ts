import { describe, expect, it } from "vitest";
import { auditEvents, call, enrolled, provision, tenant, totpCode, verifyCode } from "../helpers";

const ENROL_BODY = { otp: { issuer_name: "Acme Enterprise", account_name: "alexander@enterprise.com" } };

describe("POST /v1/idp/otp (enrol)", () => {
  it("answers the contract's shape with a 160-bit base32 secret and a Key URI", async () => {
    const { key } = await tenant();
    await provision(key, "ORG_USR_9921_AFG");
    const res = await call("/v1/idp/otp?externalUserId=ORG_USR_9921_AFG", { key, body: ENROL_BODY });
    expect(res.status).toBe(201);
    const secret = res.body.user.new_otp_secret;
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(res.body).toEqual({
      user: {
        external_id: "ORG_USR_9921_AFG",
        new_otp_secret: secret,
        qrcode_payload: `otpauth://totp/Acme%20Enterprise:alexander%40enterprise.com?secret=${secret}&issuer=Acme%20Enterprise&algorithm=SHA1&digits=6&period=30`,
        is_setup_complete: true,
      },
    });
    const profile = await call("/v1/idp/users?externalUserId=ORG_USR_9921_AFG", { key });
    expect(profile.body.has_otp).toBe(true);
  });

  it.each([
    ["issuer", { issuer_name: "Acme:Evil", account_name: "a@b.c" }, "otp.issuer_name"],
    ["account", { issuer_name: "Acme", account_name: "a:b" }, "otp.account_name"],
  ])("refuses a colon in the %s with 400", async (_name, otp, path) => {
    const { key } = await tenant();
    await provision(key, "u");
    const res = await call("/v1/idp/otp?externalUserId=u", { key, body: { otp } });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { path: string }) => d.path)).toContain(path);
  });

  it("answers 404 for an unknown identity", async () => {
    const { key } = await tenant();
    const res = await call("/v1/idp/otp?externalUserId=ghost", { key, body: ENROL_BODY });
    expect(res.status).toBe(404);
  });

  it("replaces the secret on re-enrolment: the old secret's codes stop working", async () => {
    const { key, secret } = await enrolled("u");
    const again = await call("/v1/idp/otp?externalUserId=u", { key, body: ENROL_BODY });
    expect(again.status).toBe(201);
    const next = again.body.user.new_otp_secret;
    expect(next).not.toBe(secret);
    expect((await verifyCode(key, "u", totpCode(secret))).body.code).toBe("invalid_code");
    expect((await verifyCode(key, "u", totpCode(next))).status).toBe(200);
  });

  it("keeps a confirm-mode secret pending until a code verifies, with the previous secret in force", async () => {
    const { key, secret } = await enrolled("u");
    const pending = await call("/v1/idp/otp?externalUserId=u", {
      key,
      body: { otp: { ...ENROL_BODY.otp, confirm: true } },
    });
    expect(pending.status).toBe(201);
    expect(pending.body.user.is_setup_complete).toBe(false);
    const next = pending.body.user.new_otp_secret;

    // The old secret still works meanwhile.
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    // The new one confirms (a later step, since the old secret's step was just accepted).
    expect((await verifyCode(key, "u", totpCode(next, Date.now() + 30_000))).status).toBe(200);
    // From then on only the new secret works.
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() + 60_000))).status).toBe(401);
  });

  it("leaves has_otp false while a first enrolment is pending", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    const res = await call("/v1/idp/otp?externalUserId=u", {
      key,
      body: { otp: { ...ENROL_BODY.otp, confirm: true } },
    });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.has_otp).toBe(false);
    expect((await verifyCode(key, "u", totpCode(res.body.user.new_otp_secret))).status).toBe(200);
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.has_otp).toBe(true);
  });
});

describe("POST /v1/idp/otp/verify", () => {
  it("accepts a right code with the contract's body plus method and backup_codes_remaining", async () => {
    const { key, secret } = await enrolled("ORG_USR_9921_AFG");
    const res = await verifyCode(key, "ORG_USR_9921_AFG", totpCode(secret));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      status: "success",
      id: "ORG_USR_9921_AFG",
      message: "OTP verified successfully.",
      method: "totp",
      session: {
        id: expect.stringMatching(/^ses_[0-9A-Z]{26}$/),
        token: expect.stringMatching(/^hst_/),
        expires_at: expect.stringMatching(/\.\d{3}Z$/),
      },
      backup_codes_remaining: 0,
    });
    expect(Date.parse(res.body.session.expires_at) - Date.now()).toBeGreaterThan(43_190_000);
  });

  it("accepts the previous and next time steps, not two steps away", async () => {
    const { key, secret } = await enrolled("u");
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() - 30_000))).status).toBe(200);
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() + 30_000))).status).toBe(200);
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() + 90_000))).body.code).toBe("invalid_code");
  });

  it("answers a wrong code with 401 invalid_code and the attempt counts", async () => {
    const { key, secret } = await enrolled("u");
    const wrong = totpCode(secret) === "000000" ? "111111" : "000000";
    const res = await verifyCode(key, "u", wrong);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({
      error: "Invalid OTP code",
      code: "invalid_code",
      failed_attempts: 1,
      attempts_remaining: 4,
    });
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.failed_attempts).toBe(1);
  });

  it("resets the failure count on success", async () => {
    const { key, secret } = await enrolled("u");
    await verifyCode(key, "u", "000000");
    await verifyCode(key, "u", "000001");
    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    expect((await call("/v1/idp/users?externalUserId=u", { key })).body.failed_attempts).toBe(0);
  });

  it("answers 409 mfa_not_configured without a secret or backup codes, and 404 for an unknown identity", async () => {
    const { key } = await tenant();
    await provision(key, "bare");
    expect((await verifyCode(key, "bare", "123456")).body.code).toBe("mfa_not_configured");
    expect((await verifyCode(key, "bare", "123456")).status).toBe(409);
    expect((await verifyCode(key, "nobody", "123456")).status).toBe(404);
  });

  it("records context ip and user agent on the event", async () => {
    const { key, secret, identityId } = await enrolled("u");
    await verifyCode(key, "u", totpCode(secret), { ip: "203.0.113.7", ua: "EnterpriseAgent/1.0" });
    const events = await auditEvents(key, `&identity_id=${identityId}&type=mfa.verify`, 1);
    expect(events[0]).toMatchObject({
      type: "mfa.verify",
      outcome: "success",
      ip: "203.0.113.7",
      metadata: { method: "totp", user_agent: "EnterpriseAgent/1.0" },
    });
  });
});

describe("audit of MFA changes", () => {
  it("audits enrolment, backup codes, attempts and unlock with no secret in them", async () => {
    const { key, secret, identityId } = await enrolled("u");
    await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" });
    await verifyCode(key, "u", "000000");
    await verifyCode(key, "u", totpCode(secret));
    await call("/v1/idp/users/unlock?externalUserId=u", { key, method: "POST" });
    const events = await auditEvents(key, `&identity_id=${identityId}`, 6);
    expect(events.map((e) => `${e.type}:${e.outcome}:${e.reason ?? ""}`).reverse()).toEqual([
      "identity.provisioned:success:",
      "otp.enrolled:success:",
      "backup_codes.generated:success:",
      "mfa.verify:failure:invalid_code",
      "mfa.verify:success:",
      "identity.unlocked:success:",
    ]);
    expect(JSON.stringify(events)).not.toContain(secret);
    expect((await call("/v1/audit/verify", { key })).body.ok).toBe(true);
  });
});
