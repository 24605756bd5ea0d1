import { describe, expect, it } from "vitest";
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

describe("session tokens", () => {
  it("round-trips its claims", () => {
    const token = signSessionToken(claims, keyring);
    expect(token).toMatch(/^hst_[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(readSessionToken(token, keyring)).toEqual(claims);
  });

  it("still reads a token signed with an older key after rotation", () => {
    expect(readSessionToken(signSessionToken(claims, keyring), rotated)).toEqual(claims);
  });

  it("refuses a token signed with a key it does not hold", () => {
    expect(readSessionToken(signSessionToken(claims, rotated), keyring)).toBeNull();
  });

  it.each([
    ["empty", () => ""],
    ["garbage", () => "hst_not.a.token"],
    ["no prefix", () => signSessionToken(claims, keyring).slice(4)],
    ["truncated", () => signSessionToken(claims, keyring).slice(0, -3)],
    [
      "signature of another body",
      () => {
        const [, sig] = signSessionToken(claims, keyring).split(".");
        const [otherBody] = signSessionToken({ ...claims, cid: "cmp_other" }, keyring).split(".");
        return `${otherBody}.${sig}`;
      },
    ],
    [
      "a flipped body character",
      () => {
        const token = signSessionToken(claims, keyring);
        const i = 10;
        return token.slice(0, i) + (token[i] === "A" ? "B" : "A") + token.slice(i + 1);
      },
    ],
    ["very long", () => `hst_${"A".repeat(5000)}.x`],
  ])("reads a %s token as null", (_name, make) => {
    expect(readSessionToken(make(), keyring)).toBeNull();
  });
});
