/**
 * Threat: a malformed code crashes the verifier (a 500 that skips the failure count), slips
 * past it (a right code padded with spaces, a prefix, a longer string, look-alike digits), or
 * is not counted, giving an attacker free guesses under the lockout. A string that is neither
 * a 6-digit code nor a backup code is `401 invalid_code` and counted; a `code` that is not a
 * string of at most 64 characters is `400 invalid_request` and not counted; never a 500.
 */
import { describe, expect, it } from "vitest";
import { auditEvents, call, enrolled, provision, tenant, totpCode, verifyCode } from "../helpers";

const INVALID_CODE = { error: "Invalid OTP code", code: "invalid_code" };

/** The identity's real codes, so near misses are built from what would otherwise pass. */
interface RealCodes {
  totp: string;
  backup: string;
}

interface CountedCase {
  name: string;
  code: string | ((real: RealCodes) => string);
}

const COUNTED: CountedCase[] = [
  { name: "5 digits", code: "12345" },
  { name: "7 digits", code: "1234567" },
  { name: "leading space", code: " 123456" },
  { name: "trailing space", code: "123456 " },
  { name: "a letter among digits", code: "12a456" },
  { name: "empty string", code: "" },
  { name: "backup code with 5 digits", code: "ABCD-12345" },
  { name: "backup code with 3 letters", code: "ABC-1234" },
  { name: "64 characters", code: "9".repeat(64) },
  // Near misses of the identity's real, currently valid codes: none may pass.
  { name: "the right TOTP code's first 5 digits", code: (r) => r.totp.slice(0, 5) },
  { name: "the right TOTP code plus a digit", code: (r) => `${r.totp}0` },
  { name: "the right TOTP code with a leading space", code: (r) => ` ${r.totp}` },
  { name: "the right TOTP code with a trailing newline", code: (r) => `${r.totp}\n` },
  { name: "the right TOTP code split by a space", code: (r) => `${r.totp.slice(0, 3)} ${r.totp.slice(3)}` },
  {
    name: "the right TOTP code in full-width digits",
    code: (r) => r.totp.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d))),
  },
  {
    name: "the right TOTP code in Arabic-Indic digits",
    code: (r) => r.totp.replace(/[0-9]/g, (d) => String.fromCharCode(0x0660 + Number(d))),
  },
  { name: "the right TOTP code padded to 64 characters", code: (r) => r.totp.padEnd(64, "0") },
  { name: "a right backup code plus a digit", code: (r) => `${r.backup}5` },
  { name: "a right backup code minus its first letter", code: (r) => r.backup.slice(1) },
  { name: "a right backup code with a leading space", code: (r) => ` ${r.backup}` },
  { name: "a right backup code with a space for the hyphen", code: (r) => r.backup.replace("-", " ") },
  { name: "a right backup code with a Unicode hyphen", code: (r) => r.backup.replace("-", "\u2010") },
  { name: "a right backup code with two hyphens", code: (r) => r.backup.replace("-", "--") },
];

interface UncountedCase {
  name: string;
  /** The `otp` object sent; `code` absent when the key is missing. */
  otp: (id: string) => Record<string, unknown>;
}

const UNCOUNTED: UncountedCase[] = [
  { name: "a number", otp: (id) => ({ id, code: 123456 }) },
  { name: "an array", otp: (id) => ({ id, code: ["123456"] }) },
  { name: "an object", otp: (id) => ({ id, code: { $ne: null } }) },
  { name: "an empty object", otp: (id) => ({ id, code: {} }) },
  { name: "null", otp: (id) => ({ id, code: null }) },
  { name: "true", otp: (id) => ({ id, code: true }) },
  { name: "missing", otp: (id) => ({ id }) },
  { name: "65 characters", otp: (id) => ({ id, code: "9".repeat(65) }) },
  { name: "10,000 characters", otp: (id) => ({ id, code: "9".repeat(10_000) }) },
];

/** An enrolled identity with backup codes too: both factors live, so every form is checked. */
async function setup(externalId = "u"): Promise<{ key: string; identityId: string; real: RealCodes }> {
  const { key, secret, identityId } = await enrolled(externalId);
  const res = await call(`/v1/idp/backup-codes?externalUserId=${externalId}`, { key, method: "POST" });
  expect(res.status).toBe(201);
  return { key, identityId, real: { totp: totpCode(secret), backup: res.body.user.backupCodes[0] } };
}

async function profile(key: string, externalId = "u"): Promise<any> {
  const res = await call(`/v1/idp/users?externalUserId=${encodeURIComponent(externalId)}`, { key });
  expect(res.status).toBe(200);
  return res.body;
}

describe("malformed codes", () => {
  it.each(COUNTED)("$name: 401 invalid_code, counted once", async ({ code }) => {
    const { key, real } = await setup();
    const sent = typeof code === "function" ? code(real) : code;
    const res = await verifyCode(key, "u", sent);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ ...INVALID_CODE, failed_attempts: 1, attempts_remaining: 4 });
    expect(await profile(key)).toMatchObject({ failed_attempts: 1, is_locked: false, backup_codes_remaining: 10 });
  });

  it.each(UNCOUNTED)("code $name: 400 invalid_request, not counted", async ({ otp }) => {
    const { key } = await setup();
    const res = await call("/v1/idp/otp/verify", { key, body: { otp: otp("u") } });
    expect(res.status).toBe(400);
    expect(res.body).toMatchObject({ error: "Request validation failed", code: "invalid_request" });
    expect(res.body.details.map((d: { path: string }) => d.path)).toContain("otp.code");
    expect(await profile(key)).toMatchObject({ failed_attempts: 0, is_locked: false });
  });

  it("counts successive malformed codes one each, unlock resets, and they lock like wrong codes", async () => {
    const { key, real } = await setup();
    const malformed = ["12345", " 123456", "12a456", "ABC-1234"];
    for (const [i, code] of malformed.entries()) {
      const res = await verifyCode(key, "u", code);
      expect(res.body).toEqual({ ...INVALID_CODE, failed_attempts: i + 1, attempts_remaining: 4 - i });
      expect((await profile(key)).failed_attempts).toBe(i + 1);
    }
    const unlocked = await call("/v1/idp/users/unlock?externalUserId=u", { key, method: "POST" });
    expect(unlocked.status).toBe(200);
    expect(unlocked.body.failed_attempts).toBe(0);

    for (let i = 1; i <= 4; i++) expect((await verifyCode(key, "u", "")).body.failed_attempts).toBe(i);
    const fifth = await verifyCode(key, "u", "1234567");
    expect(fifth.status).toBe(423);
    expect(fifth.body).toMatchObject({ code: "locked", failed_attempts: 5 });
    // Locked: even the right code is refused now.
    expect((await verifyCode(key, "u", real.totp)).status).toBe(423);
  });

  it("audits a counted malformed code as a failed verify, and an uncounted one not at all", async () => {
    const { key, identityId } = await setup();
    for (const { otp } of UNCOUNTED) {
      expect((await call("/v1/idp/otp/verify", { key, body: { otp: otp("u") } })).status).toBe(400);
    }
    expect((await verifyCode(key, "u", "12a456")).status).toBe(401);
    // Verify events ship in order, so once the counted one is in, any earlier one would be too.
    const events = await auditEvents(key, `&identity_id=${identityId}&type=mfa.verify`, 1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ outcome: "failure", reason: "invalid_code" });
    expect(events[0].metadata.failed_attempts).toBe(1);
  });

  it("leaves the identity usable: after malformed codes the right code still verifies and resets the count", async () => {
    const { key, real } = await setup();
    for (const code of [` ${real.totp}`, `${real.totp} `, real.backup.slice(1)]) {
      expect((await verifyCode(key, "u", code)).status).toBe(401);
    }
    expect((await profile(key)).failed_attempts).toBe(3);
    const ok = await verifyCode(key, "u", real.totp);
    expect(ok.status).toBe(200);
    expect(ok.body.method).toBe("totp");
    expect(await profile(key)).toMatchObject({ failed_attempts: 0, backup_codes_remaining: 10 });
  });

  it("answers 404 for an unknown identity, well-formed code or not, without creating it", async () => {
    const { key } = await tenant();
    for (const code of ["123456", "ABCD-1234", "12a456", ""]) {
      const res = await verifyCode(key, "ghost", code);
      expect(res.status).toBe(404);
      expect(res.body).toEqual({ error: "Identity not found", code: "not_found" });
    }
    expect((await call("/v1/idp/users?externalUserId=ghost", { key })).status).toBe(404);
  });

  it("answers 409 mfa_not_configured for an identity with no TOTP and no backup codes, uncounted", async () => {
    const { key } = await tenant();
    expect((await provision(key, "u")).status).toBe(201);
    for (const code of ["123456", "ABCD-1234", "12a456", ""]) {
      const res = await verifyCode(key, "u", code);
      expect(res.status).toBe(409);
      expect(res.body).toEqual({
        error: "No active TOTP secret and no unused backup code for this identity",
        code: "mfa_not_configured",
      });
    }
    expect(await profile(key)).toMatchObject({ has_otp: false, backup_codes_remaining: 0, failed_attempts: 0 });
  });

  it("answers 409 mfa_not_configured once every backup code is used and there is no TOTP", async () => {
    const { key } = await tenant();
    await provision(key, "u");
    const res = await call("/v1/idp/backup-codes?externalUserId=u", { key, method: "POST" });
    const codes: string[] = res.body.user.backupCodes;
    for (const code of codes) expect((await verifyCode(key, "u", code)).status).toBe(200);
    const after = await verifyCode(key, "u", codes[0]);
    expect(after.status).toBe(409);
    expect(after.body.code).toBe("mfa_not_configured");
    expect(await profile(key)).toMatchObject({ backup_codes_remaining: 0, failed_attempts: 0 });
  });
});
