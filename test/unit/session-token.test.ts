import { describe, expect, it } from "vitest";
import { decodeBase64Url, encodeBase64Url } from "../../src/domain/base64";
import { parseKeyring } from "../../src/domain/secret-box";
import { readSessionToken, type SessionClaims, signSessionToken } from "../../src/domain/session-token";

const keyring = parseKeyring("s2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "SESSION_SIGNING_KEY");
const rotated = parseKeyring(
  "s3:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=,s2:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
  "SESSION_SIGNING_KEY",
);
const claims: SessionClaims = {
  sid: "ses_01J00000000000000000000000",
  cid: "cmp_01J00000000000000000000000",
  iid: "idn_01J00000000000000000000000",
  ext: "ORG_USR_9921_AFG",
  issuedAtMs: 1_750_000_000_000,
  expiresAtMs: 1_750_043_200_000,
  mfaVerifiedAtMs: 1_750_000_000_000,
};

/** The token with one bit of its sealed part's byte `index` flipped (re-encoded canonically). */
function flipBit(token: string, index: number): string {
  const dot = token.indexOf(".");
  const body = decodeBase64Url(token.slice(dot + 1)) as Uint8Array;
  body[index] = (body[index] as number) ^ 1;
  return `${token.slice(0, dot + 1)}${encodeBase64Url(body)}`;
}

describe("session tokens", () => {
  it("round-trips its claims", async () => {
    const token = await signSessionToken(claims, keyring);
    expect(token).toMatch(/^hst_s2\.[A-Za-z0-9_-]+$/);
    expect(await readSessionToken(token, keyring)).toEqual(claims);
  });

  it("seals the claims: none of them is in the token, and two tokens of the same claims differ", async () => {
    const token = await signSessionToken(claims, keyring);
    const bytes = new TextDecoder("latin1").decode(decodeBase64Url(token.slice(token.indexOf(".") + 1)) as Uint8Array);
    for (const claim of [claims.sid, claims.cid, claims.iid, claims.ext, String(claims.expiresAtMs)]) {
      expect(token).not.toContain(claim);
      expect(bytes).not.toContain(claim);
    }
    expect(await signSessionToken(claims, keyring)).not.toBe(token);
  });

  it("hides the external id's length: 32 lengths give at most two token lengths", async () => {
    const lengths = new Set<number>();
    for (let n = 1; n <= 32; n++)
      lengths.add((await signSessionToken({ ...claims, ext: "a".repeat(n) }, keyring)).length);
    expect(lengths.size).toBeLessThanOrEqual(2);
  });

  it("still reads a token sealed with an older key after rotation", async () => {
    expect(await readSessionToken(await signSessionToken(claims, keyring), rotated)).toEqual(claims);
  });

  it("refuses a token sealed with a key it does not hold", async () => {
    expect(await readSessionToken(await signSessionToken(claims, rotated), keyring)).toBeNull();
  });

  it("refuses a token moved under another key id of the keyring", async () => {
    const token = await signSessionToken(claims, rotated);
    expect(await readSessionToken(token.replace(/^hst_s3\./, "hst_s2."), rotated)).toBeNull();
  });

  it("refuses every single flipped bit: nonce, ciphertext and tag", async () => {
    const token = await signSessionToken(claims, keyring);
    const length = (decodeBase64Url(token.slice(token.indexOf(".") + 1)) as Uint8Array).length;
    for (let index = 0; index < length; index++) {
      expect(await readSessionToken(flipBit(token, index), keyring)).toBeNull();
    }
  });

  it.each([
    ["empty", async () => ""],
    ["garbage", async () => "hst_not.a.token"],
    ["no prefix", async () => (await signSessionToken(claims, keyring)).slice(4)],
    ["truncated", async () => (await signSessionToken(claims, keyring)).slice(0, -3)],
    ["without its key id", async () => (await signSessionToken(claims, keyring)).replace("hst_s2.", "hst_")],
    ["a second dot", async () => `${await signSessionToken(claims, keyring)}.x`],
    ["very long", async () => `hst_s2.${"A".repeat(5000)}`],
    ["too short to hold a tag", async () => `hst_s2.${"A".repeat(30)}`],
  ])("reads a %s token as null", async (_name, make) => {
    expect(await readSessionToken(await make(), keyring)).toBeNull();
  });

  it("accepts only the canonical base64url spelling (no second spelling of a token)", async () => {
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Vary the padding so the last character also carries unused bits in some tokens.
    for (const ext of ["a", "a".repeat(32), "a".repeat(33)]) {
      const token = await signSessionToken({ ...claims, ext }, keyring);
      const position = token.length - 1;
      const accepted: string[] = [];
      for (const c of ALPHABET) {
        const variant = token.slice(0, position) + c + token.slice(position + 1);
        if ((await readSessionToken(variant, keyring)) !== null) accepted.push(c);
      }
      expect(accepted).toEqual([token[position]]);
    }
  });

  it("refuses padding, whitespace and the standard alphabet's + and /", async () => {
    const token = await signSessionToken(claims, keyring);
    const sealed = token.slice("hst_s2.".length);
    for (const variant of [
      `${token}=`,
      `${token} `,
      ` ${token}`,
      `hst_s2.${sealed.replace(/-/g, "+").replace(/_/g, "/")}`,
    ]) {
      if (variant === token) continue;
      expect(await readSessionToken(variant, keyring)).toBeNull();
    }
  });
});
