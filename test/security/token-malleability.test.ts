/**
 * Threat: a session token has more than one valid spelling. Platforms cache introspection
 * answers and keep deny-lists keyed by the token string; if `...w` and `...x` are the same
 * session, a revoked or cached token comes back under another name. Only the one canonical
 * spelling of a token introspects active.
 */
import { describe, expect, it } from "vitest";
import { enrolled, introspect, openSession } from "../helpers";

describe("a session token has exactly one valid spelling", () => {
  it("reads every other spelling of the signature's last character as invalid", async () => {
    const { key, secret } = await enrolled("u");
    const { token } = await openSession(key, "u", secret);
    expect((await introspect(key, token)).active).toBe(true);
    const last = token.at(-1) ?? "";
    const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const index = ALPHABET.indexOf(last);
    // The characters that differ from it only in the two bits a 32-byte signature leaves unused.
    const siblings = [0, 1, 2, 3].map((low) => ALPHABET[(index & ~3) | low]).filter((c) => c !== last);
    expect(siblings).toHaveLength(3);
    for (const sibling of siblings) {
      const variant = token.slice(0, -1) + sibling;
      for (const consistency of ["strong", "eventual"] as const) {
        expect(await introspect(key, variant, consistency)).toEqual({ active: false, reason: "invalid" });
      }
    }
  });
});
