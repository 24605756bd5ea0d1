/**
 * Retiring a TOTP encryption key: after TOTP_ENCRYPTION_KEYS gets a new current key, a secret
 * sealed under the old one still opens, and the identity's next verify seals it again under
 * the current key, so the old key stops being needed by the identities that verify.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { totpKeyring } from "../../src/config/keyrings";
import { openSecret, sealSecret } from "../../src/domain/secret-box";
import { sealingKeyId, totpSealingContext } from "../../src/identity/enrolment";
import { identityGuard } from "../../src/identity/guard";
import { enrolled, totpCode, verifyCode } from "../helpers";

async function storedSecret(companyId: string, externalId: string): Promise<string> {
  return runInDurableObject(identityGuard(env, companyId, externalId), (_, state) => {
    return state.storage.sql.exec<{ totp_secret: string }>("SELECT totp_secret FROM identity").one().totp_secret;
  });
}

describe("TOTP key retirement", () => {
  it("opens a secret sealed under the old key, and re-seals it under the current key on verify", async () => {
    const { key, companyId, secret } = await enrolled("u");
    const keyring = totpKeyring(env);
    const older = [...keyring.keys.keys()].find((id) => id !== keyring.currentId) as string;
    const context = totpSealingContext(companyId, "u");
    // As if enrolled before the rotation: the secret sealed under the older key.
    const underOld = await sealSecret({ ...keyring, currentId: older }, secret, context);
    await runInDurableObject(identityGuard(env, companyId, "u"), (_, state) => {
      state.storage.sql.exec("UPDATE identity SET totp_secret = ?", underOld);
    });
    expect(sealingKeyId(await storedSecret(companyId, "u"))).toBe(older);

    expect((await verifyCode(key, "u", totpCode(secret))).status).toBe(200);
    const resealed = await storedSecret(companyId, "u");
    expect(sealingKeyId(resealed)).toBe(keyring.currentId);
    expect(
      await openSecret(
        {
          currentId: keyring.currentId,
          keys: new Map([[keyring.currentId, keyring.keys.get(keyring.currentId) as Uint8Array]]),
        },
        resealed,
        context,
      ),
    ).toBe(secret);
    // And the identity keeps verifying with the current key alone holding its secret.
    expect((await verifyCode(key, "u", totpCode(secret, Date.now() + 30_000))).status).toBe(200);
  });

  it("leaves a secret sealed under the current key as it is", async () => {
    const { key, companyId, secret } = await enrolled("v");
    const before = await storedSecret(companyId, "v");
    expect((await verifyCode(key, "v", totpCode(secret))).status).toBe(200);
    expect(await storedSecret(companyId, "v")).toBe(before);
  });
});
