/**
 * Threat: the TOTP secret or the backup codes leak after the one response that creates them:
 * echoed by a later response (profile, verify, re-enrolment, backup codes), written into an
 * audit event or the D1 mirror, or kept in the identity's Durable Object storage in a form a
 * storage dump could read back. The secret must be stored only sealed (AES-GCM,
 * `v1.<keyId>.<iv>.<ct>`), backup codes only as keyed, salted hashes, and no submitted code
 * may be recorded anywhere.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Secret } from "otpauth";
import { describe, expect, it } from "vitest";
import { openSecret, parseKeyring } from "../../src/domain/secret-box";
import { totpSealingContext } from "../../src/identity/enrolment";
import { auditEvents, call, enrolled, provision, tenant, totpCode, verifyCode } from "../helpers";

const ENROL_BODY = { otp: { issuer_name: "Acme Enterprise", account_name: "alexander@enterprise.com" } };
/** `v1.<keyId>.<base64url 12-byte iv>.<base64url ciphertext + 16-byte tag of a 32-char secret>`. */
const SEAL = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]{64})$/;

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Every form a leaked secret could take: base32 (any case), and its raw bytes as hex or base64(url). */
function secretForms(secret: string): string[] {
  const bytes = new Uint8Array(Secret.fromBase32(secret).bytes);
  const base64 = toBase64(bytes);
  return [
    secret,
    secret.toLowerCase(),
    [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(""),
    base64,
    base64.replace(/=+$/, ""),
    base64.replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""),
  ];
}

/** A backup code as it could be written: with or without the hyphen, upper or lower case. */
function backupCodeForms(code: string): string[] {
  const bare = code.replace("-", "");
  return [code, bare, code.toLowerCase(), bare.toLowerCase()];
}

/** Asserts no needle occurs in `text`, ignoring case. */
function expectAbsent(text: string, needles: string[], where: string): void {
  const haystack = text.toLowerCase();
  for (const needle of needles) {
    expect(haystack.includes(needle.toLowerCase()), `${where} contains "${needle}"`).toBe(false);
  }
}

/**
 * Asserts no 6-digit code occurs in `text` as a token of its own (not inside a longer run of
 * letters or digits, so a hash or a millisecond timestamp that happens to contain it is no match).
 */
function expectNoSixDigitCode(text: string, codes: string[], where: string): void {
  for (const code of codes) {
    expect(new RegExp(`(?<![0-9A-Za-z])${code}(?![0-9A-Za-z])`).test(text), `${where} contains code ${code}`).toBe(
      false,
    );
  }
}

/** A 6-digit code that is wrong for `secret` now (none of the three accepted steps). */
function wrongCode(secret: string): string {
  const now = Date.now();
  const valid = new Set([totpCode(secret, now - 30_000), totpCode(secret, now), totpCode(secret, now + 30_000)]);
  return ["000000", "111111", "222222", "333333"].find((c) => !valid.has(c)) ?? "444444";
}

function guardStub(companyId: string, externalId: string) {
  return env.IDENTITY_GUARD.get(env.IDENTITY_GUARD.idFromName(JSON.stringify([companyId, externalId])));
}

interface StorageDump {
  tables: Record<string, Record<string, unknown>[]>;
  kv: Record<string, unknown>;
}

/** Every table (except the runtime's own) and every KV entry of the identity's Durable Object. */
async function dumpGuardStorage(companyId: string, externalId: string): Promise<StorageDump> {
  return runInDurableObject(guardStub(companyId, externalId), async (_instance, state) => {
    const sql = state.storage.sql;
    const names = sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
      .toArray()
      .map((row) => row.name)
      .filter((name) => !name.startsWith("_cf_") && !name.startsWith("sqlite_"));
    const tables: Record<string, Record<string, unknown>[]> = {};
    for (const name of names) tables[name] = sql.exec(`SELECT * FROM "${name}"`).toArray();
    const kv = Object.fromEntries(await state.storage.list());
    return { tables, kv };
  });
}

async function identityRow(companyId: string, externalId: string): Promise<Record<string, any>> {
  const dump = await dumpGuardStorage(companyId, externalId);
  const rows = dump.tables.identity ?? [];
  expect(rows).toHaveLength(1);
  return rows[0] as Record<string, any>;
}

async function backupHashes(companyId: string, externalId: string): Promise<{ hash: string; used_at: unknown }[]> {
  const dump = await dumpGuardStorage(companyId, externalId);
  return (dump.tables.backup_codes ?? []) as { hash: string; used_at: unknown }[];
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Every row of every D1 table (except the runtime's own), as JSON. */
async function dumpD1(): Promise<Record<string, unknown[]>> {
  const names = (
    await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all<{ name: string }>()
  ).results
    .map((row) => row.name)
    .filter((name) => !name.startsWith("_cf_") && !name.startsWith("sqlite_") && name !== "d1_migrations");
  const out: Record<string, unknown[]> = {};
  for (const name of names) out[name] = (await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results;
  return out;
}

async function backupCodes(key: string, externalId: string): Promise<string[]> {
  const res = await call(`/v1/idp/backup-codes?externalUserId=${externalId}`, { key, method: "POST" });
  expect(res.status).toBe(201);
  const codes: string[] = res.body.user.backupCodes;
  expect(codes).toHaveLength(10);
  return codes;
}

/**
 * Enrols, verifies with TOTP, fails once, generates backup codes, verifies with one, then
 * re-enrols and verifies against the new secret: every place a secret or code could echo.
 */
async function fullFlow() {
  const t = await enrolled("u");
  /** Later responses; `creates` names what the response itself hands out (and may therefore hold). */
  const responses: { where: string; creates?: "backup_codes" | "second_secret"; text: string }[] = [];
  const record = (
    where: string,
    res: { body: unknown; headers: Headers },
    creates?: "backup_codes" | "second_secret",
  ) => responses.push({ where, creates, text: `${JSON.stringify(res.body)} ${JSON.stringify([...res.headers])}` });

  const sentCodes: string[] = [];
  const firstCode = totpCode(t.secret);
  sentCodes.push(firstCode);
  const verified = await verifyCode(t.key, "u", firstCode, { ip: "203.0.113.9", ua: "test-agent" });
  expect(verified.status).toBe(200);
  expect(verified.body.method).toBe("totp");
  record("verify (totp) response", verified);

  const wrong = wrongCode(t.secret);
  sentCodes.push(wrong);
  const failed = await verifyCode(t.key, "u", wrong);
  expect(failed.status).toBe(401);
  expect(failed.body.code).toBe("invalid_code");
  record("verify (wrong code) response", failed);

  const backupRes = await call("/v1/idp/backup-codes?externalUserId=u", { key: t.key, method: "POST" });
  expect(backupRes.status).toBe(201);
  record("backup-codes response", backupRes, "backup_codes");
  const codes: string[] = backupRes.body.user.backupCodes;
  expect(codes).toHaveLength(10);
  const usedBackup = codes[0] ?? "";

  const backupVerified = await verifyCode(t.key, "u", usedBackup);
  expect(backupVerified.status).toBe(200);
  expect(backupVerified.body.method).toBe("backup_code");
  record("verify (backup code) response", backupVerified);

  const reEnrol = await call("/v1/idp/otp?externalUserId=u", { key: t.key, body: ENROL_BODY });
  expect(reEnrol.status).toBe(201);
  const second: string = reEnrol.body.user.new_otp_secret;
  expect(second).toMatch(/^[A-Z2-7]{32}$/);
  expect(second).not.toBe(t.secret);
  record("re-enrolment response", reEnrol, "second_secret");

  // The next step: the replay guard refuses the step already accepted, whatever the secret.
  const secondCode = totpCode(second, Date.now() + 30_000);
  sentCodes.push(secondCode);
  const verifiedSecond = await verifyCode(t.key, "u", secondCode);
  expect(verifiedSecond.status).toBe(200);
  record("verify (new secret) response", verifiedSecond);

  const profile = await call("/v1/idp/users?externalUserId=u", { key: t.key });
  expect(profile.status).toBe(200);
  expect(profile.body).toMatchObject({ has_otp: true, backup_codes_remaining: 9 });
  record("profile response", profile);

  return { ...t, secrets: [t.secret, second], codes, sentCodes, responses };
}

describe("secret exposure", () => {
  it("never returns the secret again: profile, verify, re-enrolment, backup codes", async () => {
    const flow = await fullFlow();
    const [first, second] = flow.secrets as [string, string];
    expect(flow.responses).toHaveLength(7);
    for (const { where, creates, text } of flow.responses) {
      expectAbsent(text, secretForms(first), where);
      // Each later value appears only in the one response that creates it.
      if (creates !== "second_secret") expectAbsent(text, secretForms(second), where);
      if (creates !== "backup_codes") expectAbsent(text, flow.codes.flatMap(backupCodeForms), where);
      expectNoSixDigitCode(text, flow.sentCodes, where);
    }
  });

  it("never writes the secret, a sent code or a backup code into an audit event", async () => {
    const flow = await fullFlow();
    // company.created, api_key.created, identity.provisioned, otp.enrolled x2,
    // backup_codes.generated, mfa.verify x4 (3 successes, 1 failure); verifies ship via the alarm.
    const events = await auditEvents(flow.key, "", 10);
    expect(events.length).toBeGreaterThanOrEqual(10);
    const verifies = events.filter((e) => e.type === "mfa.verify");
    expect(verifies).toHaveLength(4);
    expect(verifies.filter((e) => e.outcome === "failure")).toHaveLength(1);
    expect(events.filter((e) => e.type === "otp.enrolled")).toHaveLength(2);
    expect(events.filter((e) => e.type === "backup_codes.generated")).toHaveLength(1);

    const text = JSON.stringify(events);
    for (const secret of flow.secrets) expectAbsent(text, secretForms(secret), "audit events");
    expectAbsent(text, flow.codes.flatMap(backupCodeForms), "audit events");
    expectNoSixDigitCode(text, flow.sentCodes, "audit events");
  });

  it("stores the TOTP secret only sealed as v1.<keyId>.<iv>.<ct>, bound to its identity", async () => {
    const { companyId, key, secret } = await enrolled("u");
    const keyring = parseKeyring(env.TOTP_ENCRYPTION_KEYS);

    const row = await identityRow(companyId, "u");
    const sealed = String(row.totp_secret);
    const match = SEAL.exec(sealed);
    expect(match, `stored totp_secret ${sealed}`).not.toBeNull();
    expect(match?.[1]).toBe(keyring.currentId);
    expect(row.totp_pending_secret).toBeNull();
    expectAbsent(JSON.stringify(await dumpGuardStorage(companyId, "u")), secretForms(secret), "DO storage");

    // It is the secret, encrypted: it opens with the key and this identity's context only.
    expect(await openSecret(keyring, sealed, totpSealingContext(companyId, "u"))).toBe(secret);
    await expect(openSecret(keyring, sealed, totpSealingContext(companyId, "someone-else"))).rejects.toThrow();

    // A pending (confirm) re-enrolment is sealed the same way, with a fresh IV.
    const pending = await call("/v1/idp/otp?externalUserId=u", {
      key,
      body: { otp: { ...ENROL_BODY.otp, confirm: true } },
    });
    expect(pending.status).toBe(201);
    expect(pending.body.user.is_setup_complete).toBe(false);
    const pendingSecret: string = pending.body.user.new_otp_secret;
    const after = await identityRow(companyId, "u");
    expect(after.totp_secret).toBe(sealed);
    const sealedPending = String(after.totp_pending_secret);
    expect(sealedPending).toMatch(SEAL);
    expect(SEAL.exec(sealedPending)?.[2]).not.toBe(match?.[2]);
    expect(await openSecret(keyring, sealedPending, totpSealingContext(companyId, "u"))).toBe(pendingSecret);

    const dump = JSON.stringify(await dumpGuardStorage(companyId, "u"));
    expectAbsent(dump, secretForms(secret), "DO storage");
    expectAbsent(dump, secretForms(pendingSecret), "DO storage");
  });

  it("keeps neither secret nor codes in DO storage after the full flow (every table and KV entry)", async () => {
    const flow = await fullFlow();
    const dump = await dumpGuardStorage(flow.companyId, "u");
    expect(Object.keys(dump.tables)).toEqual(expect.arrayContaining(["identity", "backup_codes", "sessions"]));
    const text = JSON.stringify(dump);
    for (const secret of flow.secrets) expectAbsent(text, secretForms(secret), "DO storage");
    expectAbsent(text, flow.codes.flatMap(backupCodeForms), "DO storage");
    expectNoSixDigitCode(text, flow.sentCodes, "DO storage");
  });

  it("stores backup codes only as 64-hex keyed hashes that contain no code", async () => {
    const { companyId, key } = await enrolled("u");
    const codes = await backupCodes(key, "u");
    const rows = await backupHashes(companyId, "u");
    expect(rows).toHaveLength(10);
    for (const row of rows) {
      expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
      expect(row.used_at).toBeNull();
    }
    const hashes = rows.map((row) => row.hash);
    expect(new Set(hashes).size).toBe(10);
    const forms = codes.flatMap(backupCodeForms);
    for (const hash of hashes) {
      for (const form of forms) expect(hash.includes(form.toLowerCase()), `${hash} contains ${form}`).toBe(false);
    }
    // Not an unkeyed hash either: a plain SHA-256 of a ~32-bit code is brute-forced offline.
    const plain = await Promise.all(forms.map(sha256Hex));
    expect(hashes.filter((h) => plain.includes(h))).toEqual([]);
    expectAbsent(JSON.stringify(await dumpGuardStorage(companyId, "u")), forms, "DO storage");
  });

  it("salts backup-code hashes per identity", async () => {
    const { companyId, key } = await tenant();
    await provision(key, "a");
    await provision(key, "b");
    await backupCodes(key, "a");
    await backupCodes(key, "b");
    const saltA = (await identityRow(companyId, "a")).backup_salt;
    const saltB = (await identityRow(companyId, "b")).backup_salt;
    expect(saltA).toMatch(/^[0-9a-f]{16,}$/i);
    expect(saltB).toMatch(/^[0-9a-f]{16,}$/i);
    expect(saltA).not.toBe(saltB);
  });

  it("replaces the hashes on regeneration, and no old code (used or not) works afterwards", async () => {
    const { companyId, key } = await enrolled("u");
    const first = await backupCodes(key, "u");
    const [usedCode, unusedCode] = first as [string, string];

    const used = await verifyCode(key, "u", usedCode);
    expect(used.status).toBe(200);
    expect(used.body).toMatchObject({ method: "backup_code", backup_codes_remaining: 9 });
    const rowsAfterUse = await backupHashes(companyId, "u");
    expect(rowsAfterUse).toHaveLength(10);
    expect(rowsAfterUse.filter((row) => row.used_at !== null)).toHaveLength(1);
    // Sent again right away: the client's retry, refused (and not counted toward the lockout).
    expect((await verifyCode(key, "u", usedCode)).body.code).toBe("code_reused");

    const saltBefore = (await identityRow(companyId, "u")).backup_salt;
    const second = await backupCodes(key, "u");
    expect(second.filter((code) => first.includes(code))).toEqual([]);
    const rowsAfterRegeneration = await backupHashes(companyId, "u");
    expect(rowsAfterRegeneration).toHaveLength(10);
    expect(rowsAfterRegeneration.every((row) => row.used_at === null)).toBe(true);
    const oldHashes = new Set(rowsAfterUse.map((row) => row.hash));
    expect(rowsAfterRegeneration.filter((row) => oldHashes.has(row.hash))).toEqual([]);
    expect((await identityRow(companyId, "u")).backup_salt).not.toBe(saltBefore);

    const reusedAfter = await verifyCode(key, "u", usedCode);
    expect(reusedAfter.status).toBe(401);
    expect(reusedAfter.body.code).toBe("invalid_code");
    const oldUnused = await verifyCode(key, "u", unusedCode);
    expect(oldUnused.status).toBe(401);
    expect(oldUnused.body.code).toBe("invalid_code");
    // The new set works, in any case and without the hyphen.
    const fresh = await verifyCode(key, "u", (second[0] ?? "").replace("-", "").toLowerCase());
    expect(fresh.status).toBe(200);
    expect(fresh.body).toMatchObject({ method: "backup_code", backup_codes_remaining: 9 });
  });

  it("keeps neither secret nor codes in D1 (audit_events, identities, every other table)", async () => {
    const flow = await fullFlow();
    // Wait until the asynchronously shipped verify events are in D1.
    await auditEvents(flow.key, `&identity_id=${flow.identityId}&type=mfa.verify`, 4);
    const tables = await dumpD1();
    expect(Object.keys(tables)).toEqual(expect.arrayContaining(["audit_events", "identities"]));
    const ours = (tables.audit_events ?? []).filter((row: any) => row.identity_id === flow.identityId);
    expect(ours.length).toBeGreaterThanOrEqual(8);
    expect((tables.identities ?? []).filter((row: any) => row.id === flow.identityId)).toHaveLength(1);

    for (const [name, rows] of Object.entries(tables)) {
      const text = JSON.stringify(rows);
      for (const secret of flow.secrets) expectAbsent(text, secretForms(secret), `D1 ${name}`);
      expectAbsent(text, flow.codes.flatMap(backupCodeForms), `D1 ${name}`);
      expectNoSixDigitCode(text, flow.sentCodes, `D1 ${name}`);
    }
  });
});
