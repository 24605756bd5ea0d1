/**
 * Retiring a TOTP encryption key completely: an operator must know, from D1 alone, how many
 * sealed secrets each key of TOTP_ENCRYPTION_KEYS still seals (identities' TOTP secrets, active
 * and pending, and connectors' credentials), and must be able to have them all sealed again
 * under the current key without waiting for every identity to verify. Threat: a key removed
 * while it still seals something locks those users out (and breaks those connectors); a report
 * that undercounts, or a sweep that misses some, leads the operator to do exactly that.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { buildApp } from "../../src/app";
import { totpKeyring } from "../../src/config/keyrings";
import { type Keyring, openSecret, sealSecret } from "../../src/domain/secret-box";
import { sealingKeyId, totpSealingContext } from "../../src/identity/enrolment";
import { identityGuard } from "../../src/identity/guard";
import type { TotpKeyCount } from "../../src/keys/totp-keys";
import { connectorBody, standIn } from "../connectors/support";
import { ADMIN_TOKEN, auditEvents, call, enrolled, tenant, totpCode, verifyCode } from "../helpers";

const keyring = totpKeyring(env);
const current = keyring.currentId;
const older = [...keyring.keys.keys()].find((id) => id !== current) as string;
/** The keyring with the current key alone: what is left once the old key is retired. */
const currentOnly: Keyring = {
  currentId: current,
  keys: new Map([[current, keyring.keys.get(current) as Uint8Array]]),
};
/** The keyring as it was before the rotation: the older key seals. */
const beforeRotation: Keyring = { ...keyring, currentId: older };

type KeyEntry = TotpKeyCount;

async function report(): Promise<{ current_key_id: string; keys: KeyEntry[]; totp_secrets_unknown: number }> {
  const res = await call("/v1/admin/keys/totp", { key: ADMIN_TOKEN });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body;
}

async function entry(keyId: string): Promise<KeyEntry | undefined> {
  return (await report()).keys.find((k) => k.key_id === keyId);
}

/** What D1 knows of the keys sealing an identity's TOTP secrets. */
async function d1Keys(identityId: string): Promise<{ active: string | null; pending: string | null } | null> {
  const row = await env.DB.prepare("SELECT totp_key_id, totp_pending_key_id FROM identities WHERE id = ?")
    .bind(identityId)
    .first<{ totp_key_id: string | null; totp_pending_key_id: string | null }>();
  return row ? { active: row.totp_key_id, pending: row.totp_pending_key_id } : null;
}

/** Waits until D1's mirror of the identity says these keys (the writes travel by the queue). */
async function d1KeysBecome(identityId: string, keys: { active: string | null; pending: string | null }) {
  await expect.poll(() => d1Keys(identityId), { timeout: 10_000 }).toEqual(keys);
}

async function storedSecrets(companyId: string, externalId: string) {
  return runInDurableObject(identityGuard(env, companyId, externalId), (_, state) => {
    return state.storage.sql
      .exec<{ totp_secret: string | null; totp_pending_secret: string | null }>(
        "SELECT totp_secret, totp_pending_secret FROM identity",
      )
      .one();
  });
}

/** As if enrolled before the rotation: the identity object's active secret sealed under the older key. */
async function sealActiveUnderOlderKey(companyId: string, externalId: string, secret: string): Promise<void> {
  const underOld = await sealSecret(beforeRotation, secret, totpSealingContext(companyId, externalId));
  await runInDurableObject(identityGuard(env, companyId, externalId), (_, state) => {
    state.storage.sql.exec("UPDATE identity SET totp_secret = ?", underOld);
  });
}

/** Sweeps until D1 knows of nothing left under an old key; answers every round's answer. */
async function sweepUntilDone(limit?: number): Promise<any[]> {
  const rounds: any[] = [];
  for (let round = 0; round < 20; round++) {
    const res = await call(`/v1/admin/keys/totp/sweep${limit ? `?limit=${limit}` : ""}`, {
      key: ADMIN_TOKEN,
      method: "POST",
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    rounds.push(res.body);
    if (res.body.totp.remaining === 0 && res.body.connectors.remaining === 0) return rounds;
  }
  throw new Error(`the sweep did not finish: ${JSON.stringify(rounds.at(-1))}`);
}

describe("retiring a TOTP encryption key", () => {
  it("counts a secret sealed under the old key under that key, and the sweep moves it to the current key", async () => {
    const { key, companyId, identityId, secret } = await enrolled("ret-a");
    await d1KeysBecome(identityId, { active: current, pending: null });
    await sealActiveUnderOlderKey(companyId, "ret-a", secret);
    // A real change of the object makes it tell D1 which keys seal its secrets now: a second
    // enrolment waiting for confirmation (the active secret, under the old key, stays in force).
    const second = await call("/v1/idp/otp?externalUserId=ret-a", {
      key,
      body: { otp: { issuer_name: "Acme", account_name: "a@acme.example", confirm: true } },
    });
    expect(second.status).toBe(201);
    await d1KeysBecome(identityId, { active: older, pending: current });

    const before = await report();
    expect(before.current_key_id).toBe(current);
    const oldBefore = before.keys.find((k) => k.key_id === older);
    expect(oldBefore).toMatchObject({ current: false, in_keyring: true, retirable: false });
    expect(oldBefore?.totp_secrets).toBeGreaterThanOrEqual(1);
    const currentBefore = before.keys.find((k) => k.key_id === current);
    expect(currentBefore).toMatchObject({ current: true, in_keyring: true, retirable: false });

    const rounds = await sweepUntilDone();
    expect(rounds[0].current_key_id).toBe(current);
    expect(rounds.reduce((n, r) => n + r.totp.resealed, 0)).toBeGreaterThanOrEqual(1);
    // The sweep applies what it changed to D1 before it answers.
    expect(await d1Keys(identityId)).toEqual({ active: current, pending: current });

    const after = await report();
    expect(after.keys.find((k) => k.key_id === older)).toMatchObject({ totp_secrets: 0, retirable: true });
    expect(after.keys.find((k) => k.key_id === current)?.totp_secrets).toBeGreaterThanOrEqual(
      (currentBefore?.totp_secrets ?? 0) + 1,
    );

    // Both secrets are sealed under the current key, and open with it alone.
    const stored = await storedSecrets(companyId, "ret-a");
    expect(sealingKeyId(stored.totp_secret as string)).toBe(current);
    expect(sealingKeyId(stored.totp_pending_secret as string)).toBe(current);
    const context = totpSealingContext(companyId, "ret-a");
    expect(await openSecret(currentOnly, stored.totp_secret as string, context)).toBe(secret);
    expect(await openSecret(currentOnly, stored.totp_pending_secret as string, context)).toBe(
      second.body.user.new_otp_secret,
    );
    // The identity still verifies (with the secret it had before the rotation).
    expect((await verifyCode(key, "ret-a", totpCode(secret))).status).toBe(200);

    // Each re-seal is in the identity's audit chain, as the admin's doing.
    const events = await auditEvents(key, "&type=otp.resealed", 1);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ identity_id: identityId, actor: "admin" });
    expect(events[0].metadata).toMatchObject({ trigger: "sweep", from_key_ids: [older], key_id: current });
    expect((await call("/v1/audit/verify", { key })).body.ok).toBe(true);
  });

  it("counts identities enrolled before D1 kept sealing keys as unknown, until the sweep learns them", async () => {
    const { key, companyId, identityId, secret } = await enrolled("ret-b");
    await d1KeysBecome(identityId, { active: current, pending: null });
    await sealActiveUnderOlderKey(companyId, "ret-b", secret);
    // D1 as it was before migration 0005, then the migration's own backfill statement.
    await env.DB.prepare("UPDATE identities SET totp_key_id = NULL, totp_pending_key_id = NULL WHERE id = ?")
      .bind(identityId)
      .run();
    const migration = env.TEST_MIGRATIONS.find((m) => m.name.startsWith("0005_"));
    const backfill = migration?.queries.find((q) => q.trim().toUpperCase().startsWith("UPDATE IDENTITIES"));
    expect(backfill).toBeDefined();
    await env.DB.prepare(backfill as string).run();
    expect(await d1Keys(identityId)).toEqual({ active: "?", pending: null });

    const before = await report();
    expect(before.totp_secrets_unknown).toBeGreaterThanOrEqual(1);
    // No key but the current one can be retired while some keys are unknown.
    expect(before.keys.every((k) => !k.retirable)).toBe(true);

    await sweepUntilDone();
    expect(await d1Keys(identityId)).toEqual({ active: current, pending: null });
    const after = await report();
    expect(after.totp_secrets_unknown).toBe(0);
    expect(after.keys.find((k) => k.key_id === older)).toMatchObject({ totp_secrets: 0, retirable: true });
    const stored = await storedSecrets(companyId, "ret-b");
    expect(await openSecret(currentOnly, stored.totp_secret as string, totpSealingContext(companyId, "ret-b"))).toBe(
      secret,
    );
    expect((await verifyCode(key, "ret-b", totpCode(secret))).status).toBe(200);
  });

  it("keeps D1's record right when a verify re-seals, and when a verify confirms a pending secret", async () => {
    const { key, companyId, identityId, secret } = await enrolled("ret-c");
    await d1KeysBecome(identityId, { active: current, pending: null });
    await sealActiveUnderOlderKey(companyId, "ret-c", secret);
    const second = await call("/v1/idp/otp?externalUserId=ret-c", {
      key,
      body: { otp: { issuer_name: "Acme", account_name: "c@acme.example", confirm: true } },
    });
    expect(second.status).toBe(201);
    await d1KeysBecome(identityId, { active: older, pending: current });

    // A verify with the active secret re-seals it; D1 hears of it through the queue.
    expect((await verifyCode(key, "ret-c", totpCode(secret))).status).toBe(200);
    await d1KeysBecome(identityId, { active: current, pending: current });
    const events = await auditEvents(key, "&type=otp.resealed", 1);
    expect(events[0].metadata).toMatchObject({ trigger: "verify", from_key_ids: [older], key_id: current });

    // A verify with the pending secret's code confirms it: no pending secret is left.
    const pendingSecret = second.body.user.new_otp_secret as string;
    expect((await verifyCode(key, "ret-c", totpCode(pendingSecret, Date.now() + 30_000))).status).toBe(200);
    await d1KeysBecome(identityId, { active: current, pending: null });
  });

  it("re-seals connector credentials sealed under the old key, compare-and-set in D1", async () => {
    const company = await tenant();
    const stand = standIn();
    const created = await call("/v1/sentinel/connectors", {
      key: company.key,
      body: connectorBody("okta", stand.root),
    });
    expect(created.status).toBe(201);
    const connectorId = created.body.connector.id as string;
    const credentialsOf = async () =>
      (
        (await env.DB.prepare("SELECT credentials FROM connectors WHERE id = ?")
          .bind(connectorId)
          .first<{ credentials: string }>()) as { credentials: string }
      ).credentials;
    const context = `connector:${connectorId}`;
    const plain = await openSecret(keyring, await credentialsOf(), context);
    // As if connected before the rotation: connectors live in D1 only, sealed there.
    await env.DB.prepare("UPDATE connectors SET credentials = ? WHERE id = ?")
      .bind(await sealSecret(beforeRotation, plain, context), connectorId)
      .run();

    const oldBefore = await entry(older);
    expect(oldBefore?.connector_credentials).toBeGreaterThanOrEqual(1);
    expect(oldBefore?.retirable).toBe(false);

    const rounds = await sweepUntilDone(1);
    expect(rounds.reduce((n, r) => n + r.connectors.resealed, 0)).toBeGreaterThanOrEqual(1);
    const resealed = await credentialsOf();
    expect(sealingKeyId(resealed)).toBe(current);
    expect(await openSecret(currentOnly, resealed, context)).toBe(plain);
    expect(await entry(older)).toMatchObject({ connector_credentials: 0, retirable: true });
    // The connector still works, and the re-seal is in the company's audit chain.
    const checked = await call(`/v1/sentinel/connectors/${connectorId}/test`, { key: company.key, method: "POST" });
    expect(checked.body.ok).toBe(true);
    const events = await auditEvents(company.key, "&type=connector.resealed", 1);
    expect(events[0]).toMatchObject({ actor: "admin" });
    expect(events[0].metadata).toMatchObject({ connector_id: connectorId, from_key_id: older, key_id: current });
  });

  it("lists a key that seals something but is no longer in the keyring", async () => {
    const { identityId } = await enrolled("ret-d");
    await d1KeysBecome(identityId, { active: current, pending: null });
    // D1 says a key long gone seals this identity's secret (an operator removed it too early).
    await env.DB.prepare("UPDATE identities SET totp_key_id = 'gone0' WHERE id = ?").bind(identityId).run();
    const gone = await entry("gone0");
    expect(gone).toMatchObject({ in_keyring: false, current: false, retirable: false, totp_secrets: 1 });
    // The sweep cannot open it, so it does not try; it counts it as remaining.
    const res = await call("/v1/admin/keys/totp/sweep", { key: ADMIN_TOKEN, method: "POST" });
    expect(res.status).toBe(200);
    expect(res.body.totp.remaining).toBeGreaterThanOrEqual(1);
    await env.DB.prepare("UPDATE identities SET totp_key_id = ? WHERE id = ?").bind(current, identityId).run();
    expect(await entry("gone0")).toBeUndefined();
  });

  it("answers non-admin callers with the usual envelope", async () => {
    const { key } = await tenant();
    for (const [path, method] of [
      ["/v1/admin/keys/totp", "GET"],
      ["/v1/admin/keys/totp/sweep", "POST"],
    ] as const) {
      for (const presented of [null, key, "not-the-admin-token"]) {
        const res = await call(path, { key: presented, method });
        expect(res.status).toBe(401);
        expect(res.body.code).toBe("unauthorized");
        expect(res.headers.get("cache-control")).toBe("no-store");
      }
    }
    // Without ADMIN_TOKEN configured, the admin routes do not exist.
    for (const [path, method] of [
      ["/v1/admin/keys/totp", "GET"],
      ["/v1/admin/keys/totp/sweep", "POST"],
    ] as const) {
      const res = await buildApp().fetch(
        new Request(`http://local${path}`, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}` } }),
        { ...env, ADMIN_TOKEN: undefined },
        { waitUntil: () => {}, passThroughOnException: () => {}, props: {} } as unknown as ExecutionContext,
      );
      expect(res.status).toBe(404);
      expect(((await res.json()) as { code: string }).code).toBe("not_found");
    }
    const bad = await call("/v1/admin/keys/totp/sweep?limit=0", { key: ADMIN_TOKEN, method: "POST" });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe("invalid_request");
    const tooMany = await call("/v1/admin/keys/totp/sweep?limit=100000", { key: ADMIN_TOKEN, method: "POST" });
    expect(tooMany.status).toBe(400);
  });
});
