/**
 * Threat: a client misspells an option and the server quietly ignores it. With
 * `{"otp": {..., "confrim": true}}` a lenient server would enrol at once (confirm defaults to
 * false), replacing the identity's working secret with one the user may never have scanned,
 * while the client believes the new secret waits for confirmation. Property: the misspelt field
 * is refused with 400 invalid_request naming it, and nothing is enrolled; the real field,
 * `confirm`, is accepted and keeps the secret pending.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { identityGuard } from "../../src/identity/guard";
import { auditEvents, call, provision, tenant, totpCode, verifyCode } from "../helpers";

const LABELS = { issuer_name: "Acme Enterprise", account_name: "alexander@enterprise.com" };

/** The identity object's sealed secrets, straight from its storage. */
function storedSecrets(companyId: string, externalId: string) {
  return runInDurableObject(identityGuard(env, companyId, externalId), (_, state) => {
    return state.storage.sql
      .exec<{ totp_secret: string | null; totp_pending_secret: string | null }>(
        "SELECT totp_secret, totp_pending_secret FROM identity WHERE singleton = 1",
      )
      .one();
  });
}

describe("the enrolment typo from the issue: confrim", () => {
  it("refuses otp.confrim naming it, enrols nothing; the real confirm field keeps the secret pending", async () => {
    const { key, companyId } = await tenant();
    await provision(key, "typo-user");

    const typo = await call("/v1/idp/otp?externalUserId=typo-user", {
      key,
      body: { otp: { ...LABELS, confrim: true } },
    });
    expect(typo.status).toBe(400);
    expect(typo.body.code).toBe("invalid_request");
    expect(typo.body.details).toEqual([{ path: "otp.confrim", message: "unknown field" }]);
    expect(JSON.stringify(typo.body)).not.toContain("otpauth://");

    // Nothing enrolled: no secret, active or pending, and the profile says so.
    expect(await storedSecrets(companyId, "typo-user")).toEqual({ totp_secret: null, totp_pending_secret: null });
    const profile = await call("/v1/idp/users?externalUserId=typo-user", { key });
    expect(profile.status).toBe(200);
    expect(profile.body).toMatchObject({ has_otp: false, failed_attempts: 0, is_locked: false });

    // The contract's own fields, spelt right, are accepted: confirm keeps the new secret pending.
    const enrol = await call("/v1/idp/otp?externalUserId=typo-user", {
      key,
      body: { otp: { ...LABELS, confirm: true } },
    });
    expect(enrol.status).toBe(201);
    expect(enrol.body.user).toMatchObject({ external_id: "typo-user", is_setup_complete: false });
    const stored = await storedSecrets(companyId, "typo-user");
    expect(stored.totp_secret).toBeNull();
    expect(stored.totp_pending_secret).not.toBeNull();
    expect((await call("/v1/idp/users?externalUserId=typo-user", { key })).body.has_otp).toBe(false);

    // A code from the pending secret confirms it.
    expect((await verifyCode(key, "typo-user", totpCode(enrol.body.user.new_otp_secret))).status).toBe(200);
    expect((await call("/v1/idp/users?externalUserId=typo-user", { key })).body.has_otp).toBe(true);

    // The trail holds one enrolment, the right one: the refused request left none.
    const enrolments = (await auditEvents(key, "&type=otp.enrolled", 1)).filter((e) => e.type === "otp.enrolled");
    expect(enrolments).toHaveLength(1);
    expect(enrolments[0].metadata).toMatchObject({ pending_confirmation: true });
  });

  it("refuses the typo beside the real field too, and with confirm false it enrols at once", async () => {
    const { key, companyId } = await tenant();
    await provision(key, "typo-2");
    const both = await call("/v1/idp/otp?externalUserId=typo-2", {
      key,
      body: { otp: { ...LABELS, confirm: true, confrim: true } },
    });
    expect(both.status).toBe(400);
    expect(both.body.details).toEqual([{ path: "otp.confrim", message: "unknown field" }]);
    expect(await storedSecrets(companyId, "typo-2")).toEqual({ totp_secret: null, totp_pending_secret: null });

    const direct = await call("/v1/idp/otp?externalUserId=typo-2", {
      key,
      body: { otp: { ...LABELS, confirm: false } },
    });
    expect(direct.status).toBe(201);
    expect(direct.body.user.is_setup_complete).toBe(true);
    expect((await call("/v1/idp/users?externalUserId=typo-2", { key })).body.has_otp).toBe(true);
  });
});
