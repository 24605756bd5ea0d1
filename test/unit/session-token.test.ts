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

  it("accepts only the canonical base64url spelling of each part (no second spelling of a token)", () => {
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    // Vary the body's length so its last character also carries unused bits in some tokens.
    for (const ext of ["a", "ab", "abc"]) {
      const token = signSessionToken({ ...claims, ext }, keyring);
      const dot = token.indexOf(".");
      for (const position of [dot - 1, token.length - 1]) {
        const accepted = [...ALPHABET].filter((c) => {
          const variant = token.slice(0, position) + c + token.slice(position + 1);
          return readSessionToken(variant, keyring) !== null;
        });
        expect(accepted).toEqual([token[position]]);
      }
    }
  });

  it("refuses padding, whitespace and the standard alphabet's + and /", () => {
    const token = signSessionToken(claims, keyring);
    const [body, signature] = token.slice(4).split(".") as [string, string];
    for (const variant of [
      `hst_${body}.${signature}=`,
      `hst_${body}=.${signature}`,
      `hst_${body}.${signature} `,
      `hst_${body.replace(/-/g, "+").replace(/_/g, "/")}.${signature.replace(/-/g, "+").replace(/_/g, "/")}`,
    ]) {
      if (variant === token) continue;
      expect(readSessionToken(variant, keyring)).toBeNull();
    }
  });
});
